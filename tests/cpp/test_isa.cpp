// Each instruction through the C++ API, against hand-computed references.
#include <catch2/catch.hpp>
#include <cmath>

#include "helpers.hpp"

using namespace nkisim;
using namespace nkisim::test;
using Catch::Detail::Approx;

namespace {
Interpreter make(Gen g = Gen::gen4) { return Interpreter(Target::get(g)); }
}  // namespace

TEST_CASE("dma_copy moves bytes and casts through float32") {
  auto in = make();
  Tensor h = hbm({2, 3}, {1.5f, -2.f, 3.25f, 4.f, 5.f, 6.f});
  Tensor t = in.allocate(Buffer::sbuf, {2, 3}, DType::bfloat16, "t");
  DmaCopyOp op;
  op.dst = t;
  op.src = h;
  in.run(op);
  CHECK(read(t) == std::vector<float>{1.5f, -2.f, 3.25f, 4.f, 5.f, 6.f});
  // Different shapes with equal element counts match in row-major order.
  Tensor out = hbm({6}, {}, DType::float32);
  op.dst = out;
  op.src = t;
  in.run(op);
  CHECK(read(out) == std::vector<float>{1.5f, -2.f, 3.25f, 4.f, 5.f, 6.f});
  SECTION("PSUM sources are rejected") {
    Tensor p = in.allocate(Buffer::psum, {2, 3}, DType::float32, "p");
    op.src = p;
    CHECK_THROWS_WITH(in.run(op), Catch::Contains("dma_copy: src: must be in sbuf or hbm, found a tensor in psum"));
  }
  SECTION("hwdge needs equal dtypes") {
    op.dst = hbm({2, 3}, {});
    op.src = t;
    op.dge_mode = DgeMode::hwdge;
    CHECK_THROWS_AS(in.run(op), ValidationError);
  }
}

TEST_CASE("tensor_tensor computes in fp32 and rounds once") {
  auto in = make();
  Tensor a = sbuf(in, {2, 2}, {1.f, 2.f, 3.f, 4.f});
  Tensor b = sbuf(in, {2, 2}, {0.5f, 0.25f, 8.f, 4.f});
  Tensor d = in.allocate(Buffer::sbuf, {2, 2}, DType::float32, "d");
  TensorTensorOp op;
  op.dst = d;
  op.data1 = a;
  op.data2 = b;
  op.op = AluOp::subtract;
  in.run(op);
  CHECK(read(d) == std::vector<float>{0.5f, 1.75f, -5.f, 0.f});
  op.op = AluOp::greater;
  in.run(op);
  CHECK(read(d) == std::vector<float>{1.f, 1.f, 0.f, 0.f});
  op.op = AluOp::bitwise_and;
  CHECK_THROWS_AS(in.run(op), ValidationError);  // bitvec on floats
}

TEST_CASE("tensor_tensor on int32 is exact and bitvec ops use raw bits") {
  auto in = make();
  Tensor a = in.allocate(Buffer::sbuf, {1, 2}, DType::int32, "a");
  Tensor b = in.allocate(Buffer::sbuf, {1, 2}, DType::int32, "b");
  const int32_t av[2] = {16777217, -6}, bv[2] = {1, 3};
  (void)a.strided();  // let the pending sentinel fill happen before writing raw bytes
  (void)b.strided();
  std::memcpy(a.allocation().data, av, 8);
  std::memcpy(b.allocation().data, bv, 8);
  Tensor d = in.allocate(Buffer::sbuf, {1, 2}, DType::int32, "d");
  TensorTensorOp op;
  op.dst = d;
  op.data1 = a;
  op.data2 = b;
  op.op = AluOp::add;
  in.run(op);
  int32_t out[2];
  std::memcpy(out, d.allocation().data, 8);
  CHECK(out[0] == 16777218);  // not representable in fp32
  CHECK(out[1] == -3);
  op.op = AluOp::right_shift;  // logical shift of the raw bits
  in.run(op);
  std::memcpy(out, d.allocation().data, 8);
  CHECK(out[0] == 8388608);
  CHECK(static_cast<uint32_t>(out[1]) == (static_cast<uint32_t>(-6) >> 3));
}

TEST_CASE("tensor_scalar applies two ops with scalar or per-partition operands") {
  auto in = make();
  Tensor a = sbuf(in, {2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor v = sbuf(in, {2, 1}, {10, 20});
  Tensor d = in.allocate(Buffer::sbuf, {2, 3}, DType::float32, "d");
  TensorScalarOp op;
  op.dst = d;
  op.data = a;
  op.op0 = AluOp::multiply;
  op.operand0 = Operand::scalar(2.0);
  op.op1 = AluOp::subtract;
  op.operand1 = Operand::of(v);
  op.reverse1 = true;  // v - (2a)
  in.run(op);
  CHECK(read(d) == std::vector<float>{8, 6, 4, 12, 10, 8});
  op.operand1 = Operand::of(a);  // not (P, 1)
  CHECK_THROWS_AS(in.run(op), ValidationError);
}

TEST_CASE("activation: op(data*scale+bias), accumulators and reduce_res") {
  auto in = make();
  Tensor a = sbuf(in, {2, 2}, {0, 1, 2, 3});
  Tensor bias = sbuf(in, {2, 1}, {1, -1});
  Tensor d = in.allocate(Buffer::sbuf, {2, 2}, DType::float32, "d");
  Tensor r = in.allocate(Buffer::sbuf, {2, 1}, DType::float32, "r");
  ActivationOp op;
  op.dst = d;
  op.op = ActFn::square;
  op.data = a;
  op.scale = Operand::scalar(2.0);
  op.bias = Operand::of(bias);
  op.reduce_op = AluOp::add;
  op.reduce_res = r;
  op.reduce_cmd = ReduceCmd::reset_reduce;
  in.run(op);
  CHECK(read(d) == std::vector<float>{1, 9, 9, 25});
  CHECK(read(r) == std::vector<float>{10, 34});
  op.reduce_cmd = ReduceCmd::reduce;  // keep accumulating
  in.run(op);
  CHECK(read(r) == std::vector<float>{20, 68});
  op.reduce_cmd = ReduceCmd::idle;
  in.run(op);
  CHECK(read(r) == std::vector<float>{20, 68});
  op.op = ActFn::exp;
  op.reduce_cmd = ReduceCmd::reset;
  op.scale = Operand::none();
  op.bias = Operand::none();
  in.run(op);
  CHECK(read(r) == std::vector<float>{0, 0});
  CHECK(read(d)[1] == Approx(std::exp(1.f)));
}

TEST_CASE("tensor_reduce over trailing axes, with negate") {
  auto in = make();
  Tensor a = sbuf(in, {2, 2, 3}, iota_values(12));
  Tensor d = in.allocate(Buffer::sbuf, {2, 2}, DType::float32, "d");
  TensorReduceOp op;
  op.dst = d;
  op.op = AluOp::add;
  op.data = a;
  op.axis = {2};
  in.run(op);
  CHECK(read(d) == std::vector<float>{3, 12, 21, 30});
  Tensor m = in.allocate(Buffer::sbuf, {2, 1}, DType::float32, "m");
  op.dst = m;
  op.op = AluOp::maximum;
  op.axis = {1, 2};
  op.negate = true;
  in.run(op);
  CHECK(read(m) == std::vector<float>{-5, -11});
  op.axis = {1};  // not trailing
  CHECK_THROWS_AS(in.run(op), ValidationError);
  op.axis = {0, 1, 2};
  CHECK_THROWS_AS(in.run(op), ValidationError);
}

TEST_CASE("nc_matmul: stationary.T @ moving with PSUM accumulation rules") {
  auto in = make();
  Tensor s = sbuf(in, {2, 2}, {1, 2, 3, 4}, DType::bfloat16);  // [K=2, M=2]
  Tensor m = sbuf(in, {2, 3}, {1, 0, 1, 0, 1, 1}, DType::bfloat16);  // [K=2, N=3]
  Tensor p = in.allocate(Buffer::psum, {2, 3}, DType::float32, "p");
  MatmulOp op;
  op.dst = p;
  op.stationary = s;
  op.moving = m;
  in.run(op);  // first write overwrites the NaN sentinels
  CHECK(read(p) == std::vector<float>{1, 3, 4, 2, 4, 6});
  in.run(op);  // accumulate=None: later writes accumulate
  CHECK(read(p) == std::vector<float>{2, 6, 8, 4, 8, 12});
  op.accumulate = false;
  in.run(op);
  CHECK(read(p) == std::vector<float>{1, 3, 4, 2, 4, 6});
  op.accumulate = true;
  in.run(op);
  CHECK(read(p) == std::vector<float>{2, 6, 8, 4, 8, 12});
  SECTION("limits") {
    MatmulOp bad = op;
    bad.moving = sbuf(in, {2, 3}, {1, 0, 1, 0, 1, 1}, DType::float32);
    CHECK_THROWS_AS(in.run(bad), ValidationError);  // fp32 with bf16
    bad = op;
    bad.dst = in.allocate(Buffer::sbuf, {2, 3}, DType::float32, "s");
    CHECK_THROWS_AS(in.run(bad), ValidationError);  // dst not in PSUM
  }
}

TEST_CASE("nc_transpose is a bit-exact transpose") {
  auto in = make();
  Tensor a = sbuf(in, {2, 3}, {1, 2, 3, 4, NAN, 6});
  Tensor p = in.allocate(Buffer::psum, {3, 2}, DType::float32, "p");
  TransposeOp op;
  op.dst = p;
  op.data = a;
  in.run(op);
  auto r = read(p);
  CHECK(r[0] == 1);
  CHECK(r[1] == 4);
  CHECK(r[2] == 2);
  CHECK(std::isnan(r[3]));
  CHECK(r[5] == 6);
  op.engine = Engine::vector;
  Tensor big = in.allocate(Buffer::sbuf, {64, 64}, DType::float32, "big");
  op.data = big;
  op.dst = in.allocate(Buffer::sbuf, {64, 64}, DType::float32, "bigT");
  CHECK_THROWS_AS(in.run(op), ValidationError);  // vector engine: 32x32 at most
}

TEST_CASE("memset, iota, tensor_copy and reciprocal") {
  auto in = make();
  Tensor t = in.allocate(Buffer::sbuf, {2, 3}, DType::int32, "t");
  MemsetOp ms;
  ms.dst = t;
  ms.value = 7;
  in.run(ms);
  CHECK(read(t) == std::vector<float>{7, 7, 7, 7, 7, 7});
  ms.value.is_float = true;
  CHECK_THROWS_AS(in.run(ms), ValidationError);

  IotaOp io;
  io.dst = t;
  io.pattern = {{2, 3}};
  io.offset = 1;
  io.channel_multiplier = 10;
  in.run(io);
  CHECK(read(t) == std::vector<float>{1, 3, 5, 11, 13, 15});

  Tensor f = in.allocate(Buffer::psum, {2, 3}, DType::float32, "f");
  TensorCopyOp tc;
  tc.dst = f;
  tc.src = t;
  in.run(tc);
  CHECK(read(f) == std::vector<float>{1, 3, 5, 11, 13, 15});

  ReciprocalOp rc;
  rc.dst = f;
  rc.data = f;
  in.run(rc);
  CHECK(read(f)[1] == Approx(1.f / 3.f));
  CHECK(in.instruction_count(OpKind::memset) == 1);
  CHECK(in.instruction_count() == 4);
}

TEST_CASE("instructions refuse tensors of another core") {
  Interpreter a(Target::get(Gen::gen4), 0, 2), b(Target::get(Gen::gen4), 1, 2);
  Tensor t = a.allocate(Buffer::sbuf, {2, 2}, DType::float32, "t");
  MemsetOp ms;
  ms.dst = t;
  CHECK_THROWS_WITH(b.run(ms), Catch::Contains("core 0"));
}

TEST_CASE("reading a tensor no instruction wrote is reported (NKI_SIM_UNINIT=error)") {
  setenv("NKI_SIM_UNINIT", "error", 1);
  auto in = make();
  unsetenv("NKI_SIM_UNINIT");
  Tensor fresh = in.allocate(Buffer::sbuf, {2, 2}, DType::float32, "fresh");
  Tensor d = in.allocate(Buffer::sbuf, {2, 2}, DType::float32, "d");
  TensorCopyOp op{{}, d, fresh};
  CHECK_THROWS_AS(in.run(op), UninitializedReadError);
  MemsetOp ms{{}, fresh, 1.0};
  in.run(ms);
  in.run(op);  // written now
  CHECK(read(d) == std::vector<float>{1, 1, 1, 1});
}

TEST_CASE("reads of partly written tensors are reported at the first unwritten element") {
  setenv("NKI_SIM_UNINIT", "error", 1);
  auto in = make();
  unsetenv("NKI_SIM_UNINIT");
  Tensor t = in.allocate(Buffer::sbuf, {4, 6}, DType::float32, "part");
  Tensor d = in.allocate(Buffer::sbuf, {4, 6}, DType::float32, "d");
  // Write rows 0-1 and row 2's first three columns.
  MemsetOp top{{}, t.index({{IndexItem::slice, 0, 2, 1}, {IndexItem::all}}), 1.0};
  in.run(top);
  MemsetOp mid{{}, t.index({{IndexItem::slice, 2, 3, 1}, {IndexItem::slice, 0, 3, 1}}), 2.0};
  in.run(mid);
  TensorCopyOp rows01{{}, d.index({{IndexItem::slice, 0, 2, 1}, {IndexItem::all}}),
                      t.index({{IndexItem::slice, 0, 2, 1}, {IndexItem::all}})};
  in.run(rows01);  // fully written part: no report
  TensorCopyOp all{{}, d, t};
  CHECK_THROWS_WITH(in.run(all), Catch::Contains("src: reads") && Catch::Contains("'part'") &&
                                     Catch::Contains("at index [2, 3]"));
  MemsetOp rest{{}, t.index({{IndexItem::slice, 2, 4, 1}, {IndexItem::slice, 3, 6, 1}}), 3.0};
  in.run(rest);
  MemsetOp last{{}, t.index({{IndexItem::slice, 3, 4, 1}, {IndexItem::slice, 0, 3, 1}}), 4.0};
  in.run(last);
  in.run(all);  // every element written now
  CHECK(read(d) == std::vector<float>{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                      2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3});
}

TEST_CASE("every declared instruction has a declaration the generic machinery can use") {
  for (const InstrDecl* d : all_decls()) {
    CHECK(find_decl(d->name) == d);
    CHECK(&decl(static_cast<OpKind>(d->kind)) == d);
    for (const ParamDecl& p : d->params) {
      const bool tensor_like = p.kind == Kind::tensor || p.kind == Kind::opt_tensor ||
                               p.kind == Kind::operand || p.kind == Kind::tensors;
      // A tensor the instruction names but does not access (core_barrier's data) has no role.
      if (!tensor_like) CHECK(p.role == Role::none);
      if (p.role == Role::none && tensor_like) CHECK(d->name == std::string_view("core_barrier"));
      CHECK(tensor_like == (p.buffers != 0));
      CHECK((p.kind == Kind::enum_) == (p.enum_id != EnumId::count_));
    }
  }
}

TEST_CASE("the engine and generation rules come from the declaration") {
  Interpreter in(Target::get(Gen::gen4));
  Tensor t = in.allocate(Buffer::sbuf, {2, 2}, DType::float32, "t");
  MemsetOp ms{{}, t, 1.0};
  ms.engine = Engine::tensor;
  CHECK_THROWS_WITH(in.run(ms), Catch::Contains("memset: engine: runs on gpsimd, vector on trn3"));
  ms.engine = Engine::gpsimd;
  in.run(ms);
  CHECK(in.instruction_count(OpKind::memset, Engine::gpsimd) == 1);
  ms.engine = static_cast<Engine>(9);
  CHECK_THROWS_WITH(in.run(ms), Catch::Contains("must be a member of nki.isa.engine"));
}
