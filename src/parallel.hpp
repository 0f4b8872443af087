// nkisim internal: run f(begin, end) over [0, n) on both cores when the work is large.
#pragma once

#include <cstdint>
#include <functional>

namespace nkisim {

// CPUs this process may run on (taskset/cgroups), not the machine's count.
int usable_cpus();
// Split [0, nrows) in two halves, one on a helper thread; serial when only one CPU is usable
// or the helper is busy. Exceptions from either half propagate.
void parallel_rows(int64_t nrows, int64_t work, const std::function<void(int64_t, int64_t)>& f);

}  // namespace nkisim
