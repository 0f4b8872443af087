// nisa.tensor_tensor_scan: r[i] = op1(op0(data0[i], r[i-1]), data1[i]) along each partition.
// nisa.tensor_scalar_cumulative: reg = op1(op0(src[i], imm0), reg); dst[i] = reg, with the
// register in the Vector engine's accumulator lanes (reduce_cmd).
#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

namespace {
constexpr int64_t kScanRows = 8;  // rows scanned together (independent chains)

void require_binary_arith(const Check& c, const char* param, AluOp op) {
  NKISIM_REQUIRE(c, op != AluOp::none && !alu_is_bitvec(op) && !alu_is_unary(op), param,
                 "must be a binary arithmetic ALU operator such as nl.add or nl.multiply "
                 "(no bitvec or unary operators), found " + std::string(alu_name(op)));
}
}  // namespace

// ---------------------------------------------------------------- tensor_tensor_scan
void validate(const TensorTensorScanOp& op, const Interpreter& in) {
  const Check c{"tensor_tensor_scan"};
  c.elementwise(op.dst, "data0", op.data0, kOnChip, in);
  c.second_input("data1", op.data1, "data0", op.data0);
  require_binary_arith(c, "op0", op.op0);
  require_binary_arith(c, "op1", op.op1);
  NKISIM_REQUIRE(c, op.initial.present, "initial",
                 "is required: a float32 scalar or a (P, 1) tile");
  c.scalar_or_vector("initial", op.initial, op.data0.partitions(), /*float32_only=*/false, in);
}

void execute(TensorTensorScanOp& op, Interpreter&) {
  op.dst.claim_for_overwrite({&op.data0, &op.data1, op.initial.tile_ptr()});
  const Rows d = rows_of(op.dst), a = rows_of(op.data0), b = rows_of(op.data1);
  const int64_t P = d.nrows, N = d.ncols;
  // The initial values are read before any element of dst is written (initial may be a column
  // of dst, as when a kernel carries the last column of one scan into the next).
  std::vector<float> init(static_cast<size_t>(P));
  operand_rows(op.initial, 0, P, init.data());
  const bool direct = dst_direct(d, {&a, &b});
  for_rows(P, N, [&](int64_t r0, int64_t nr) {
    const int64_t n = nr * N;
    Scratch<float> scr1(n);
    const Block out = dst_block(d, direct, r0, nr, 0, N, scr1);
    Scratch<float> scr2(n);
    const Block x = src_block(a, r0, nr, 0, N, scr2);
    Scratch<float> scr3(n);
    const Block y = src_block(b, r0, nr, 0, N, scr3);
    alu_scan_rows(op.op0, op.reverse0, op.op1, op.reverse1, x, &y, init.data() + r0, out);
    commit(d, r0, nr, 0, N, out);
  }, kScanRows);
}

// ---------------------------------------------------------------- tensor_scalar_cumulative
namespace {
bool cumulative_dtype(DType t) {
  switch (t) {
    case DType::bfloat16: case DType::float16: case DType::float32: case DType::float8_e4m3:
    case DType::float8_e4m3fn:
    case DType::float8_e5m2: case DType::uint8: case DType::uint16: case DType::int8:
    case DType::int16:
      return true;
    default:
      return false;
  }
}
}  // namespace

void validate(const TensorScalarCumulativeOp& op, const Interpreter& in) {
  const Check c{"tensor_scalar_cumulative"};
  c.elementwise(op.dst, "src", op.src, kOnChip, in);
  for (auto [n, t] : {Named{"dst", &op.dst}, Named{"src", &op.src}})
    NKISIM_REQUIRE(c, cumulative_dtype(t->dtype()), n,
                   "dtype must be bfloat16, float16, float32, float8_e4m3, float8_e5m2, uint8, "
                   "uint16, int8 or int16, found " + std::string(name(t->dtype())));
  NKISIM_REQUIRE(c, op.op0 != AluOp::none && !alu_is_bitvec(op.op0), "op0",
                 "must be an arithmetic ALU operator (no bitvec), found " +
                     std::string(alu_name(op.op0)));
  const AluOp r = op.op1;
  NKISIM_REQUIRE(c, r == AluOp::add || r == AluOp::subtract || r == AluOp::multiply ||
                        r == AluOp::maximum || r == AluOp::minimum,
                 "op1",
                 "must be nl.add, nl.subtract, nl.multiply, nl.maximum or nl.minimum, found " +
                     std::string(alu_name(r)));
  NKISIM_REQUIRE(c, op.imm0.present || alu_is_unary(op.op0), "imm0",
                 "is required (a float32 scalar or a (P, 1) float32 tile)");
  const int64_t P = op.src.partitions();
  c.scalar_or_vector("imm0", op.imm0, P, /*float32_only=*/true, in);
  c.scalar_or_vector("imm1", op.imm1, P, /*float32_only=*/true, in);
  const ReduceCmd cmd = op.reduce_cmd;
  NKISIM_REQUIRE(c, cmd == ReduceCmd::reset_reduce || cmd == ReduceCmd::reduce ||
                        cmd == ReduceCmd::load_reduce,
                 "reduce_cmd",
                 "must be reset_reduce, reduce or load_reduce (the accumulator carries the running "
                 "value), found " + std::string(enum_member(EnumId::reduce_cmd, static_cast<int>(cmd))->name));
  if (cmd == ReduceCmd::load_reduce)
    NKISIM_REQUIRE(c, op.imm1.present, "imm1",
                   "is required with reduce_cmd=load_reduce (the accumulator's initial value)");
}

void execute(TensorScalarCumulativeOp& op, Interpreter& in) {
  op.dst.claim_for_overwrite({&op.src, op.imm0.tile_ptr(), op.imm1.tile_ptr()});
  const Rows d = rows_of(op.dst), a = rows_of(op.src);
  const int64_t P = d.nrows, N = d.ncols;
  float* acc = in.vector_acc.data() + lane0_of(op.src);
  if (op.reduce_cmd == ReduceCmd::reset_reduce) std::fill(acc, acc + P, alu_identity(op.op1));
  else if (op.reduce_cmd == ReduceCmd::load_reduce) operand_rows(op.imm1, 0, P, acc);
  const bool direct = dst_direct(d, {&a});
  const OperandValues imm0(op.imm0, P);
  for_rows(P, N, [&](int64_t r0, int64_t nr) {
    const int64_t n = nr * N;
    Scratch<float> scr4(n);
    const Block out = dst_block(d, direct, r0, nr, 0, N, scr4);
    Scratch<float> scr5(n);
    apply_operand(op.op0, imm0, false, out, src_block(a, r0, nr, 0, N, scr5), r0);
    alu_scan_rows(op.op1, false, AluOp::none, false, out, nullptr, acc + r0, out);
    for (int64_t r = 0; r < nr; ++r) acc[r0 + r] = out.row(r)[N - 1];
    commit(d, r0, nr, 0, N, out);
  }, kScanRows);
}

}  // namespace nkisim
