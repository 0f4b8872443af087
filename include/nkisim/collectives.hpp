// nkisim: support for nki.collectives (issue 12). The collectives themselves move data between
// ranks in Python (python/nki/_ranks.py, python/nki/collectives); the C++ side keeps the
// simulated machine's bookkeeping right when they write on-chip memory.
#pragma once

#include <vector>

#include "nkisim/tensor.hpp"

namespace nkisim::collectives {

// A collective wrote view `t` outside any instruction: record its bytes as written (on-chip
// tensors; HBM is always written), exactly as an instruction's OUT operand would be.
void mark_written(const Tensor& t);

// A collective is about to overwrite every byte of `dst`: skip its pending sentinel fill, as an
// instruction would, unless one of its sources reads the same allocation.
void claim_for_overwrite(const Tensor& dst, const std::vector<Tensor>& sources);

}  // namespace nkisim::collectives
