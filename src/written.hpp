// nkisim internal: the written state of on-chip memory, per byte (see Allocation::wstate).
// The interpreter drives it from the declared operand roles; instruction bodies never touch it.
#pragma once

#include <cstdint>
#include <vector>

#include "nkisim/tensor.hpp"

namespace nkisim::written {

// Before the first write that covers only part of a fresh allocation: clear its shadow.
void begin_partial(const Allocation& a);
// After an instruction wrote view `t` (its allocation being partly written): mark it.
void mark(const Tensor& t);
// Whether some element of `t` has not been written; if so `index` is the first one (row-major,
// in the view's own index space). A view covering its whole allocation and fully written moves
// the allocation to WriteState::all.
bool first_unwritten(const Tensor& t, std::vector<int64_t>& index);

}  // namespace nkisim::written
