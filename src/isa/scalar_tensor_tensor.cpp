// nisa.scalar_tensor_tensor: dst = (data op0 operand0) op1 operand1.
// nisa.tensor_scalar_reduce: dst = data op0 operand0, reduce_res = reduce_op over each partition.
#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

namespace {
void require_arith(const Check& c, const char* param, AluOp op, bool allow_unary) {
  NKISIM_REQUIRE(c, op != AluOp::none && !alu_is_bitvec(op) && (allow_unary || !alu_is_unary(op)),
                 param,
                 std::string("must be an arithmetic ALU operator such as nl.add or nl.multiply "
                             "(bitvec operators are not supported), found ") +
                     std::string(alu_name(op)));
}
}  // namespace

// ---------------------------------------------------------------- scalar_tensor_tensor
void validate(const ScalarTensorTensorOp& op, const Interpreter& in) {
  const Check c{"scalar_tensor_tensor"};
  c.elementwise(op.dst, "data", op.data, kOnChip, in);
  c.second_input("operand1", op.operand1, "data", op.data);
  require_arith(c, "op0", op.op0, true);
  require_arith(c, "op1", op.op1, true);
  NKISIM_REQUIRE(c, op.operand0.present || alu_is_unary(op.op0), "operand0",
                 "is required (a scalar or a (P, 1) tile)");
  c.scalar_or_vector("operand0", op.operand0, op.data.partitions(), /*float32_only=*/false, in);
}

void execute(ScalarTensorTensorOp& op, Interpreter&) {
  op.dst.claim_for_overwrite({&op.data, &op.operand1, op.operand0.tile_ptr()});
  const Rows d = rows_of(op.dst), a = rows_of(op.data), b = rows_of(op.operand1);
  // Two stages: out = data op0 operand0, then out op1 operand1. Computing in dst's memory is
  // safe when dst is data (each element reads data before it is written), not when dst is
  // operand1 (a dq += scale * psum accumulation): the first stage would overwrite operand1
  // before the second reads it.
  const bool direct = dst_direct(d, {&a, &b}) && b.alloc != d.alloc;
  const OperandValues operand0(op.operand0, d.nrows);
  for_blocks(d.nrows, d.ncols, [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
    const int64_t n = nr * nc;
    Scratch<float> scr1(n);
    const Block out = dst_block(d, direct, r0, nr, c0, nc, scr1);
    Scratch<float> scr2(n);
    const Block y = src_block(b, r0, nr, c0, nc, scr2);
    Scratch<float> scr3(n);
    apply_operand(op.op0, operand0, op.reverse0, out,
                  src_block(a, r0, nr, c0, nc, scr3), r0);
    if (op.reverse1) alu_binary(op.op1, out, y, out);
    else alu_binary(op.op1, out, out, y);
    commit(d, r0, nr, c0, nc, out);
  });
}

// ---------------------------------------------------------------- tensor_scalar_reduce
void validate(const TensorScalarReduceOp& op, const Interpreter& in) {
  const Check c{"tensor_scalar_reduce"};
  c.elementwise(op.dst, "data", op.data, kOnChip, in);
  require_arith(c, "op0", op.op0, true);
  NKISIM_REQUIRE(c, op.operand0.present || alu_is_unary(op.op0), "operand0",
                 "is required (a scalar or a (P, 1) tile)");
  c.scalar_or_vector("operand0", op.operand0, op.data.partitions(), /*float32_only=*/true, in);
  NKISIM_REQUIRE(c, !op.reverse0, "reverse0", "is not supported yet in NKI 0.3.0 (must be False)");
  const AluOp r = op.reduce_op;
  NKISIM_REQUIRE(c, r == AluOp::add || r == AluOp::subtract || r == AluOp::multiply ||
                        r == AluOp::maximum || r == AluOp::minimum,
                 "reduce_op",
                 "must be nl.add, nl.subtract, nl.multiply, nl.maximum or nl.minimum, found " +
                     std::string(alu_name(r)));
  const Tensor& rr = op.reduce_res;
  c.writable("reduce_res", rr);
  NKISIM_REQUIRE(c, rr.partitions() == op.data.partitions() && rr.free_size() == 1, "reduce_res",
                 "must have shape (" + std::to_string(op.data.partitions()) +
                     ", 1), one element per partition, found " + shape_of(rr));
  c.not_packed("reduce_res", rr);
}

void execute(TensorScalarReduceOp& op, Interpreter&) {
  op.dst.claim_for_overwrite({&op.data, op.operand0.tile_ptr(), &op.reduce_res});
  const Rows d = rows_of(op.dst), a = rows_of(op.data);
  const int64_t P = d.nrows, N = d.ncols;
  std::vector<float> red(static_cast<size_t>(P));
  const bool direct = dst_direct(d, {&a});
  const OperandValues operand0(op.operand0, P);
  for_rows(P, N, [&](int64_t r0, int64_t nr) {
    const int64_t n = nr * N;
    Scratch<float> scr4(n);
    const Block out = dst_block(d, direct, r0, nr, 0, N, scr4);
    Scratch<float> scr5(n);
    apply_operand(op.op0, operand0, false, out, src_block(a, r0, nr, 0, N, scr5),
                  r0);
    if (out.ld == N) {
      alu_reduce(op.reduce_op, out.p, nr, N, red.data() + r0);
    } else {
      row_reduce(op.reduce_op, out, red.data() + r0);
    }
    commit(d, r0, nr, 0, N, out);
  });
  store<float>(rows_of(op.reduce_res), 0, P, 0, 1, red.data());
}

}  // namespace nkisim
