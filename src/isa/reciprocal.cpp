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
  const Rows d = rows_of(op.dst), a = rows_of(op.data);
  for_blocks(d.nrows, d.ncols, [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
    float* x = lanes<float>(0, nr * nc);
    load<float>(a, r0, nr, c0, nc, x);
    alu_binary(AluOp::reciprocal, x, x, x, nr * nc);
    store<float>(d, r0, nr, c0, nc, x);
  });
}

}  // namespace nkisim
