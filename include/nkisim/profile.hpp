// nkisim: an instruction profile, as an observer: instructions, elements and bytes moved per
// memory, per (instruction, engine). Shared by the cores of a launch (thread-safe).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "nkisim/observer.hpp"

namespace nkisim {

class ProfileObserver : public Observer {
 public:
  struct Row {
    uint64_t count = 0;
    uint64_t elements = 0;
    std::array<uint64_t, 3> read{};     // bytes by Mem (hbm, sbuf, psum)
    std::array<uint64_t, 3> written{};
  };
  using Key = std::pair<std::string, Engine>;

  void on_instruction(const Event& e) override;
  std::map<Key, Row> rows() const;
  void clear();

 private:
  mutable std::mutex mu_;
  std::map<Key, Row> rows_;
};

}  // namespace nkisim
