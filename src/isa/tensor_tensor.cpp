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

void run_float(const TensorTensorOp& op) {
  const Rows d = rows_of(op.dst), a = rows_of(op.data1), b = rows_of(op.data2);
  const bool direct = dst_direct(d, {&a, &b});
  for_blocks(d.nrows, d.ncols, [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
    const int64_t n = nr * nc;
    const Block out = dst_block(d, direct, r0, nr, c0, nc, lanes<float>(0, n));
    alu_binary(op.op, out, src_block(a, r0, nr, c0, nc, lanes<float>(1, n)),
               src_block(b, r0, nr, c0, nc, lanes<float>(2, n)));
    commit(d, r0, nr, c0, nc, out);
  });
}

void run_int(const TensorTensorOp& op) {
  using T = int64_t;
  const bool raw = alu_is_bitvec(op.op);
  const Rows d = rows_of(op.dst), a = rows_of(op.data1, raw), b = rows_of(op.data2, raw);
  for_blocks(d.nrows, d.ncols, [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
    const int64_t n = nr * nc;
    T* x = lanes<T>(0, n);
    T* y = lanes<T>(1, n);
    load<T>(a, r0, nr, c0, nc, x);
    load<T>(b, r0, nr, c0, nc, y);
    alu_binary(op.op, x, x, y, n);
    store<T>(d, r0, nr, c0, nc, x);
  });
}
}  // namespace

void validate(const TensorTensorOp& op, const Interpreter& in) {
  const Check c{"tensor_tensor"};
  c.engine_in(op.engine, {Engine::vector, Engine::gpsimd});
  const bool gpsimd = op.engine == Engine::gpsimd || op.op == AluOp::power;
  const unsigned on_chip = gpsimd ? kSbuf : kOnChip;
  c.buffer_in("data2", op.data2, on_chip, in);
  c.not_packed("data2", op.data2);
  c.same_layout("data2", op.data2, "data1", op.data1);
  c.elementwise(op.dst, "data1", op.data1, on_chip, in);
  NKISIM_REQUIRE(c, !(op.data1.buffer() == Buffer::psum && op.data2.buffer() == Buffer::psum),
                 "data2", "data1 and data2 cannot both be in psum");
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
  if (int_lanes(op)) run_int(op);
  else run_float(op);
}

}  // namespace nkisim
