// nisa.tensor_tensor: dst = op(data1, data2), element-wise.
#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

namespace {
bool int_lanes(const TensorTensorOp& op) {
  if (alu_is_bitvec(op.op)) return true;
  // All-int32/uint32 operands run exactly on GpSimd unless the vector engine is forced or PSUM
  // is involved.
  auto i32 = [](const Tensor& t) { return t.dtype() == DType::int32 || t.dtype() == DType::uint32; };
  const bool psum = op.dst.buffer() == Buffer::psum || op.data1.buffer() == Buffer::psum ||
                    op.data2.buffer() == Buffer::psum;
  return i32(op.dst) && i32(op.data1) && i32(op.data2) && op.engine != Engine::vector && !psum;
}

}  // namespace

void validate(const TensorTensorOp& op, const Interpreter& in) {
  const Check c{"tensor_tensor"};
  c.engine_in(op.engine, {Engine::vector, Engine::gpsimd});
  const bool gpsimd = op.engine == Engine::gpsimd || op.op == AluOp::power;
  const unsigned on_chip = gpsimd ? kSbuf : kOnChip;
  c.buffer_in("data2", op.data2, on_chip, in);
  c.second_input("data2", op.data2, "data1", op.data1);
  c.elementwise(op.dst, "data1", op.data1, on_chip, in);
  NKISIM_REQUIRE(c, op.op != AluOp::none && !alu_is_unary(op.op), "op",
            "must be a binary ALU operator such as nl.add or nl.maximum, found " +
                std::string(alu_name(op.op)));
  if (alu_is_bitvec(op.op)) {
    for (auto [n, t] : {Named{"dst", &op.dst}, Named{"data1", &op.data1}, Named{"data2", &op.data2}})
      NKISIM_REQUIRE(c, is_int(t->dtype()), n,
                "bitvec op " + std::string(alu_name(op.op)) + " needs integer dtypes, found " +
                    std::string(name(t->dtype())));
  }
}

void execute(TensorTensorOp& op, Interpreter&) {
  op.dst.claim_for_overwrite({&op.data1, &op.data2});
  const bool raw = alu_is_bitvec(op.op);
  const Rows d = rows_of(op.dst), a = rows_of(op.data1, raw), b = rows_of(op.data2, raw);
  if (int_lanes(op))
    elementwise_i64<2>(d, {&a, &b}, [&](int64_t* out, const int64_t* const* in, int64_t n, int64_t, int64_t) {
      alu_binary(op.op, out, in[0], in[1], n);
    });
  else
    elementwise_f32<2>(d, {&a, &b}, [&](const Block& out, const Block* in, int64_t) {
      alu_binary(op.op, out, in[0], in[1]);
    });
}

}  // namespace nkisim
