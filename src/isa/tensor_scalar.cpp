// nisa.tensor_scalar: dst = (data op0 operand0) op1 operand1, operands scalar or (P, 1) vectors.
#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

namespace {
// An integer operand's per-partition values, read before anything is written (see
// OperandValues): empty for a scalar.
std::vector<int64_t> int_rows(AluOp op, const Operand& o, int64_t partitions) {
  std::vector<int64_t> v;
  if (!o.tile || op == AluOp::none) return v;
  v.resize(static_cast<size_t>(partitions));
  load<int64_t>(rows_of(*o.tile, alu_is_bitvec(op)), 0, partitions, 0, 1, v.data());
  return v;
}

// Integer lanes: x = x op o (or o op x when reverse) for the block's rows.
void apply_int(AluOp op, const Operand& o, const std::vector<int64_t>& rows, bool reverse,
               int64_t* x, int64_t r0, int64_t nr, int64_t nc) {
  const int64_t n = nr * nc;
  Scratch<int64_t> y(n);
  if (!o.tile) {
    std::fill(y.get(), y.get() + n, static_cast<int64_t>(o.value));
  } else {
    for (int64_t r = 0; r < nr; ++r) std::fill(y + r * nc, y + (r + 1) * nc, rows[r0 + r]);
  }
  if (reverse) alu_binary(op, x, y, x, n);
  else alu_binary(op, x, x, y, n);
}
}  // namespace

void validate(const TensorScalarOp& op, const Interpreter& in) {
  const Check c{"tensor_scalar"};
  c.engine_in(op.engine, {Engine::vector, Engine::scalar, Engine::gpsimd});
  const unsigned bufs = op.engine == Engine::gpsimd ? kSbuf : kOnChip;
  c.elementwise(op.dst, "data", op.data, bufs, in);
  NKISIM_REQUIRE(c, op.op0 != AluOp::none, "op0", "is required (an ALU operator such as nl.multiply)");
  if (op.op1 == AluOp::none)
    NKISIM_REQUIRE(c, !op.operand1.present, "operand1", "must be None when op1 is None");
  else
    NKISIM_REQUIRE(c, op.operand1.present || alu_is_unary(op.op1), "operand1",
              "is required when op1 is given");
  NKISIM_REQUIRE(c, op.operand0.present || alu_is_unary(op.op0), "operand0", "is required");
  const bool bitvec = alu_is_bitvec(op.op0);
  if (op.op1 != AluOp::none)
    NKISIM_REQUIRE(c, alu_is_bitvec(op.op1) == bitvec, "op1",
              "op0 and op1 must both be bitvec or both arithmetic operators, found " +
                  std::string(alu_name(op.op0)) + " and " + std::string(alu_name(op.op1)));
  if (bitvec) {
    NKISIM_REQUIRE(c, op.engine == Engine::unknown || op.engine == Engine::vector, "engine",
              "bitvec operators run on the vector engine only");
    NKISIM_REQUIRE(c, is_int(op.data.dtype()) && is_int(op.dst.dtype()), "data",
              "bitvec operators need integer dtypes, found data " +
                  std::string(name(op.data.dtype())) + " and dst " +
                  std::string(name(op.dst.dtype())));
  }
  c.scalar_or_vector("operand0", op.operand0, op.data.partitions(), !bitvec, in);
  c.scalar_or_vector("operand1", op.operand1, op.data.partitions(), !bitvec, in);
  if (op.engine == Engine::gpsimd)
    NKISIM_REQUIRE(c, op.op0 == AluOp::rsqrt && op.op1 == AluOp::none, "engine",
              "the gpsimd engine only runs tensor_scalar with op0=nl.rsqrt and no op1");
  if (op.engine == Engine::scalar && in.target().gen == Gen::gen3) {
    const bool ok = (op.op0 == AluOp::multiply && (op.op1 == AluOp::add || op.op1 == AluOp::none)) ||
                    (op.op0 == AluOp::add && op.op1 == AluOp::none);
    NKISIM_REQUIRE(c, ok, "engine",
              "the scalar engine on trn2 only supports (multiply, add), (multiply, None) and "
              "(add, None), found (" + std::string(alu_name(op.op0)) + ", " +
                  std::string(alu_name(op.op1)) + ")");
  }
  if (op.engine == Engine::scalar && in.target().gen == Gen::gen2)
    c.fail("engine", "tensor_scalar does not run on the scalar engine of trn1");
}

void execute(TensorScalarOp& op, Interpreter&) {
  op.dst.claim_for_overwrite({&op.data, op.operand0.tile_ptr(), op.operand1.tile_ptr()});
  const bool bitvec = alu_is_bitvec(op.op0);
  const Rows d = rows_of(op.dst);
  const Rows a = !bitvec && op.data.same_view(op.dst) ? d : rows_of(op.data, bitvec);  // in place
  if (bitvec) {
    const std::vector<int64_t> rows0 = int_rows(op.op0, op.operand0, d.nrows),
                               rows1 = int_rows(op.op1, op.operand1, d.nrows);
    elementwise_i64<1>(d, {&a}, [&](int64_t* x, const int64_t* const* in, int64_t n, int64_t r0, int64_t nr) {
      std::copy(in[0], in[0] + n, x);
      apply_int(op.op0, op.operand0, rows0, op.reverse0, x, r0, nr, n / nr);
      if (op.op1 != AluOp::none)
        apply_int(op.op1, op.operand1, rows1, op.reverse1, x, r0, nr, n / nr);
    });
  } else {
    // Operand values read before anything is written, or in place when no write can reach them
    // (see OperandRows).
    const OperandRows v0(op.operand0, d.nrows, d), v1(op.operand1, d.nrows, d);
    elementwise_f32<1>(d, {&a}, [&](const Block& out, const Block* in, int64_t r0) {
      alu_rows2(op.op0, v0.at(r0), v0.ld, op.reverse0, op.op1, v1.at(r0), v1.ld, op.reverse1, out,
                in[0]);
    });
  }
}

}  // namespace nkisim
