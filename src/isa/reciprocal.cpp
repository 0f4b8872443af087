// nisa.reciprocal: dst = 1 / data in float32 (vector engine).
#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

void validate(const ReciprocalOp& op, const Interpreter& in) {
  const Check c{"reciprocal"};
  c.elementwise(op.dst, "data", op.data, kOnChip, in);
}

void execute(ReciprocalOp& op, Interpreter&) {
  op.dst.claim_for_overwrite({&op.data});
  const Rows d = rows_of(op.dst), a = rows_of(op.data);
  const bool direct = dst_direct(d, {&a});
  for_blocks(d.nrows, d.ncols, [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
    const int64_t n = nr * nc;
    const Block out = dst_block(d, direct, r0, nr, c0, nc, lanes<float>(0, n));
    const Block x = src_block(a, r0, nr, c0, nc, lanes<float>(1, n));
    alu_binary(AluOp::reciprocal, out, x, x);
    commit(d, r0, nr, c0, nc, out);
  });
}

}  // namespace nkisim
