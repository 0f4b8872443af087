// nkisim internal: race detection between the cores of one launch (issue 9).
//
// Every byte of shared HBM remembers its last write: which core, that core's write number, and
// the kernel line. Each core knows, per other core, up to which write number it has synchronised
// with it (core_barrier: everything both cores wrote before it; sendrecv: everything the sender
// wrote before it sent). An instruction of core c that reads or writes a byte whose last write
// came from another core w, after the last synchronisation of c with w, is a race: reported as
// a warning (NkiRaceWarning) or, with NKI_SIM_RACE=error, as an NkiRaceError before it executes.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "nkisim/launch.hpp"
#include "nkisim/observer.hpp"

namespace nkisim {

class RaceDetector {
 public:
  RaceDetector(Launch& launch, bool error);
  ~RaceDetector();
  // The observer attached to core `core` (owned by the detector).
  std::shared_ptr<Observer> observer_ptr(int core);
  Observer* observer(int core) { return observer_ptr(core).get(); }
  // Every core reached a barrier: nothing written before it races with anything after it.
  void synchronize_all();
  // Core `to` received from core `from` (sendrecv): `from`'s earlier writes are visible to `to`.
  void synchronize(int from, int to);

  // Called by the per-core observers.
  void check(int core, const Event& e);   // before the instruction: reads and writes vs. others
  void record(int core, const Event& e);  // after it: its writes

 private:
  struct Write {
    int core;
    uint64_t seq;       // the writer's write number
    std::string where;        // kernel line of the write
    std::string_view instr;   // the writing instruction and parameter (static declaration text)
    std::string_view param;
  };
  struct Shadow {
    AllocationPtr alloc;         // kept alive while tracked
    std::vector<uint32_t> last;  // per byte: index into writes_ + 1 (0: never written by a kernel)
  };
  const Shadow* shadow_of(const Allocation& a) const;

  Launch& launch_;
  bool error_;
  std::mutex mu_;
  std::vector<std::shared_ptr<Observer>> observers_;
  std::vector<Write> writes_;
  std::vector<uint64_t> seq_;                 // per core: writes so far
  std::vector<std::vector<uint64_t>> seen_;   // seen_[c][w]: c is synchronised with w's writes <= this
  std::unordered_map<const Allocation*, Shadow> shadows_;
  std::vector<std::pair<const Allocation*, int>> reported_;  // one report per allocation and core
};

}  // namespace nkisim
