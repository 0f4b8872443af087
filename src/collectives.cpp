// nkisim: bookkeeping for nki.collectives (see include/nkisim/collectives.hpp).
#include "nkisim/collectives.hpp"

#include "written.hpp"

namespace nkisim::collectives {

void mark_written(const Tensor& t) {
  if (!t.on_chip()) return;
  const Allocation& a = t.allocation();
  if (a.wstate == Allocation::WriteState::all) return;
  if (t.covers_allocation()) {
    a.wstate = Allocation::WriteState::all;
    return;
  }
  if (a.wstate == Allocation::WriteState::none) written::begin_partial(a);
  written::mark(t);
}

void claim_for_overwrite(const Tensor& dst, const std::vector<Tensor>& sources) {
  for (const Tensor& s : sources)
    if (&s.allocation() == &dst.allocation()) return;
  dst.claim_for_overwrite({});
}

}  // namespace nkisim::collectives
