// nisa.reciprocal: dst = 1 / data in float32 (vector engine).
#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

void validate(const ReciprocalOp& op, const Interpreter& in) {
  const Check c{"reciprocal"};
  c.buffer_in("dst", op.dst, kOnChip, in);
  c.buffer_in("data", op.data, kOnChip, in);
  c.writable("dst", op.dst);
  c.max_partitions("data", op.data, in.target().partitions);
  c.not_packed("data", op.data);
  c.not_packed("dst", op.dst);
  c.same_layout("dst", op.dst, "data", op.data);
}

void execute(ReciprocalOp& op, Interpreter&) {
  op.dst.claim_for_overwrite({&op.data});
  const Rows d = rows_of(op.dst), a = rows_of(op.data);
  const bool direct = dst_direct(d, {&a});
  for_blocks(d.nrows, d.ncols, [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
    const int64_t n = nr * nc;
    float* out = dst_lanes(d, direct, r0, nr, c0, nc, lanes<float>(0, n));
    const float* x = src_lanes(a, r0, nr, c0, nc, lanes<float>(1, n));
    alu_binary(AluOp::reciprocal, out, x, x, n);
    commit(d, r0, nr, c0, nc, out);
  });
}

}  // namespace nkisim
