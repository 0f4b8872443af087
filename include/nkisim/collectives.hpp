// nkisim: support for nki.collectives (issue 12). The collectives themselves move data between
// ranks in Python (python/nki/_ranks.py, python/nki/collectives); the C++ side keeps the
// simulated machine's bookkeeping right when they write on-chip memory.
#pragma once

#include "nkisim/tensor.hpp"

namespace nkisim::collectives {

// A collective wrote view `t` outside any instruction: record its bytes as written (on-chip
// tensors; HBM is always written), exactly as an instruction's OUT operand would be.
void mark_written(const Tensor& t);

}  // namespace nkisim::collectives
