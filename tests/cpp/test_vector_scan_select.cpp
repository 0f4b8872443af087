// Catch2 tests of the issue-7 vector engine instructions driven from C++ (the op structs and
// Interpreter::run, as a harness would): tensor_tensor_scan carried across calls, the Vector
// accumulator of tensor_scalar_cumulative, range_select's interval, and their errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "helpers.hpp"

using namespace nkisim;
using namespace nkisim::test;

TEST_CASE("tensor_tensor_scan: a carried initial column continues the recurrence") {
  Interpreter in(Target::get(Gen::gen4));
  Tensor a = sbuf(in, {2, 4}, {1, 2, 1, 2, 0.5f, 0.5f, 0.5f, 0.5f});
  Tensor b = sbuf(in, {2, 4}, {1, 1, 1, 1, 1, 2, 3, 4});
  Tensor init = sbuf(in, {2, 1}, {0, 8});
  Tensor out = in.allocate(Buffer::sbuf, {2, 4}, DType::float32, "out");
  TensorTensorScanOp op;
  op.dst = out;
  op.data0 = a;
  op.data1 = b;
  op.initial = Operand::of(init);
  op.op0 = AluOp::multiply;
  op.op1 = AluOp::add;
  in.run(op);
  // row 0: h = a*h + b from 0: 1, 3, 4, 9; row 1 from 8: 5, 4.5, 5.25, 6.625
  CHECK(read(out) == std::vector<float>{1, 3, 4, 9, 5, 4.5f, 5.25f, 6.625f});
  SECTION("data0 and data1 in PSUM together are refused") {
    Tensor p0 = in.allocate(Buffer::psum, {2, 4}, DType::float32, "p0");
    Tensor p1 = in.allocate(Buffer::psum, {2, 4}, DType::float32, "p1");
    op.data0 = p0;
    op.data1 = p1;
    CHECK_THROWS_WITH(in.run(op), Catch::Contains(
        "tensor_tensor_scan: data1: data0 and data1 cannot both be in psum"));
  }
}

TEST_CASE("tensor_scalar_cumulative: load_reduce then reduce share the Vector accumulator") {
  Interpreter in(Target::get(Gen::gen4));
  Tensor x = sbuf(in, {1, 3}, {1, 2, 3});
  Tensor o = in.allocate(Buffer::sbuf, {1, 3}, DType::float32, "o");
  TensorScalarCumulativeOp op;
  op.dst = o;
  op.src = x;
  op.op0 = AluOp::add;
  op.op1 = AluOp::add;
  op.imm0 = Operand::scalar(0.0);
  op.imm1 = Operand::scalar(10.0);
  op.reduce_cmd = ReduceCmd::load_reduce;
  in.run(op);
  CHECK(read(o) == std::vector<float>{11, 13, 16});
  op.reduce_cmd = ReduceCmd::reduce;
  in.run(op);
  CHECK(read(o) == std::vector<float>{17, 19, 22});
  CHECK(in.vector_acc[0] == 22.f);
}

TEST_CASE("range_select keeps one interval per row and its maximum") {
  Interpreter in(Target::get(Gen::gen3));
  Tensor x = sbuf(in, {2, 6}, iota_values(12));
  Tensor lo = sbuf(in, {2, 1}, {1, 4});
  Tensor hi = sbuf(in, {2, 1}, {3, 100});
  Tensor o = in.allocate(Buffer::sbuf, {2, 6}, DType::float32, "o");
  Tensor r = in.allocate(Buffer::sbuf, {2, 1}, DType::float32, "r");
  RangeSelectOp op;
  op.dst = o;
  op.on_true_tile = x;
  op.comp_op0 = AluOp::greater_equal;
  op.comp_op1 = AluOp::less;
  op.bound0 = Operand::of(lo);
  op.bound1 = Operand::of(hi);
  op.reduce_res = r;
  in.run(op);
  const float m = -std::numeric_limits<float>::max();
  CHECK(read(o) == std::vector<float>{m, 1, 2, m, m, m, m, m, m, m, 10, 11});
  CHECK(read(r) == std::vector<float>{2, 11});
  SECTION("on trn1 it does not exist") {
    Interpreter old(Target::get(Gen::gen2));
    Tensor x1 = sbuf(old, {2, 6}, iota_values(12));
    Tensor b1 = sbuf(old, {2, 1}, {1, 4});
    op.dst = old.allocate(Buffer::sbuf, {2, 6}, DType::float32, "o1");
    op.on_true_tile = x1;
    op.bound0 = Operand::of(b1);
    op.bound1 = Operand::of(b1);
    op.reduce_res.reset();
    CHECK_THROWS_AS(old.run(op), ValidationError);
  }
}
