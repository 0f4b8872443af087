#include "nkisim/profile.hpp"

namespace nkisim {

void ProfileObserver::on_instruction(const Event& e) {
  const Traffic t = e.traffic();
  std::lock_guard<std::mutex> g(mu_);
  Row& r = rows_[Key{std::string(e.decl.name), e.engine}];
  ++r.count;
  r.elements += t.elements;
  for (int m = 0; m < 3; ++m) {
    r.read[m] += t.read[m];
    r.written[m] += t.written[m];
  }
}

std::map<ProfileObserver::Key, ProfileObserver::Row> ProfileObserver::rows() const {
  std::lock_guard<std::mutex> g(mu_);
  return rows_;
}

void ProfileObserver::clear() {
  std::lock_guard<std::mutex> g(mu_);
  rows_.clear();
}

}  // namespace nkisim
