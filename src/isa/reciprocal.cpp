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
  elementwise_f32<1>(d, {&a}, [](const Block& out, const Block* x, int64_t) {
    alu_binary(AluOp::reciprocal, out, x[0], x[0]);
  });
}

}  // namespace nkisim
