// The op-graph recorder and replayer: a C++-driven kernel recorded and replayed bit for bit, and
// clear errors for damaged files.
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "helpers.hpp"

using namespace nkisim;
using namespace nkisim::test;

namespace {

std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() / (std::string("nkisim_") + name)).string();
}

std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

void spit(const std::string& p, const std::string& text) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << text;
}

// A small kernel driven from C++: loads, a bf16 cast, a tensor_scalar with a tile operand, a
// PSUM-accumulating matmul pair, an activation reducing into an accumulator across two
// instructions, and stores into HBM (one of them in place into an input).
void run_kernel(Interpreter& in, Tensor& x, Tensor& out, Tensor& inplace) {
  Tensor a = sbuf(in, {4, 8}, iota_values(32, 0.37f, -3.f));
  Tensor b = in.allocate(Buffer::sbuf, {4, 8}, DType::bfloat16, "b");
  TensorCopyOp cp;
  cp.dst = b;
  cp.src = a;
  cp.name = "cast to bf16";
  in.run(cp);

  Tensor col = in.allocate(Buffer::sbuf, {4, 1}, DType::float32, "col");
  IotaOp io;
  io.dst = col;
  io.pattern = {{0, 1}};
  io.offset = 1;
  io.channel_multiplier = 2;
  in.run(io);

  Tensor c = in.allocate(Buffer::sbuf, {4, 8}, DType::float32, "c");
  TensorScalarOp ts;
  ts.dst = c;
  ts.data = b;
  ts.op0 = AluOp::multiply;
  ts.operand0 = Operand::of(col);
  ts.op1 = AluOp::add;
  ts.operand1 = Operand::scalar(0.1);
  in.run(ts);

  Tensor xs = in.allocate(Buffer::sbuf, {4, 8}, DType::float32, "xs");
  DmaCopyOp ld;
  ld.dst = xs;
  ld.src = x;
  in.run(ld);

  Tensor ps = in.allocate(Buffer::psum, {8, 8}, DType::float32, "ps");
  MatmulOp mm;
  mm.dst = ps;
  mm.stationary = c;
  mm.moving = xs;
  in.run(mm);
  mm.stationary = xs;  // accumulate=None: accumulates into the written elements
  in.run(mm);

  Tensor r = in.allocate(Buffer::sbuf, {8, 1}, DType::float32, "r");
  Tensor y = in.allocate(Buffer::sbuf, {8, 8}, DType::float32, "y");
  ActivationOp act;
  act.dst = y;
  act.op = ActFn::exp;
  act.data = ps;
  act.scale = Operand::scalar(0.01);
  act.reduce_op = AluOp::add;
  act.reduce_cmd = ReduceCmd::reset_reduce;
  in.run(act);
  act.reduce_cmd = ReduceCmd::reduce;
  act.reduce_res = r;
  in.run(act);

  DmaCopyOp st;
  st.dst = out;
  st.src = y;
  in.run(st);
  st.dst = inplace.index({IndexItem{IndexItem::all}, IndexItem{IndexItem::slice, 0, 1, 1}});
  st.src = r;
  in.run(st);
}

}  // namespace

TEST_CASE("a recorded op graph replays bit-exactly") {
  const std::string path = temp_path("opgraph_ok.txt");
  uint64_t count = 0;
  {
    Interpreter in(Target::get(Gen::gen4));
    auto rec = std::make_shared<Recorder>(path);
    in.add_observer(rec);
    Tensor x = hbm({4, 8}, iota_values(32, -0.5f, 2.f));
    Tensor out = hbm({8, 8}, {});
    Tensor inplace = hbm({8, 2}, iota_values(16));
    run_kernel(in, x, out, inplace);
    rec->finish();
    count = rec->instructions();
    in.remove_observer(rec.get());
  }
  CHECK(count == 11);
  const ReplayResult r = replay(path);
  CHECK(r.instructions == count);
  CHECK(r.cores == 1);
  CHECK(r.target == "trn3");
  CHECK(r.hbm_tensors >= 4);
  CHECK(r.bit_exact());
  CHECK(r.summary().find("bit-exact") != std::string::npos);

  SECTION("a changed final value is reported with its offset") {
    std::string t = slurp(path);
    const size_t at = t.rfind("final ");
    const size_t nl = t.find('\n', at);
    t[nl + 3] = static_cast<char>(t[nl + 3] ^ 0x55);
    spit(path, t);
    const ReplayResult bad = replay(path);
    CHECK_FALSE(bad.bit_exact());
    REQUIRE(bad.mismatches.size() == 1);
    CHECK(bad.mismatches[0].first_offset == 2);
  }
  SECTION("a truncated file names its line") {
    const std::string t = slurp(path);
    spit(path, t.substr(0, t.size() / 2));
    CHECK_THROWS_WITH(replay(path), Catch::Contains("line") && Catch::Contains("truncated"));
  }
  SECTION("a file without its end record is truncated") {
    std::string t = slurp(path);
    spit(path, t.substr(0, t.rfind("end ")));
    CHECK_THROWS_WITH(replay(path), Catch::Contains("no 'end' record"));
  }
  SECTION("a corrupted instruction line names its line") {
    std::string t = slurp(path);
    const size_t at = t.find("instr 0 tensor_scalar");
    REQUIRE(at != std::string::npos);
    const size_t op = t.find("op0=multiply", at);
    t.replace(op, 12, "op0=multiplx");
    spit(path, t);
    CHECK_THROWS_WITH(replay(path), Catch::Contains("line ") && Catch::Contains("op0"));
  }
  SECTION("a missing required operand is named, not dereferenced") {
    std::string t = slurp(path);
    const size_t at = t.find(" dst=", t.find("instr 0 tensor_scalar"));
    t.erase(at, t.find(' ', at + 1) - at);
    spit(path, t);
    CHECK_THROWS_WITH(replay(path), Catch::Contains("required parameter 'dst' is missing"));
  }
  SECTION("an unknown instruction is named") {
    std::string t = slurp(path);
    const size_t at = t.find("instr 0 iota");
    t.replace(at, 12, "instr 0 iotx");
    spit(path, t);
    CHECK_THROWS_WITH(replay(path), Catch::Contains("unknown instruction 'iotx'"));
  }
  SECTION("not an op graph") {
    spit(path, "hello\n");
    CHECK_THROWS_WITH(replay(path), Catch::Contains("line 1") && Catch::Contains("not an nkisim op graph"));
    CHECK_THROWS_AS(replay(path + ".missing"), Error);
  }
  std::remove(path.c_str());
}

TEST_CASE("the recorder refuses a parameter kind it does not know") {
  // A kind added to decl.hpp without recorder support: a clear error, never a silent gap.
  static const ParamDecl params[] = {ParamDecl{"weird", static_cast<Kind>(200)}};
  const InstrDecl d{"fake_instruction", 0, 2, 0, {0, 0, 0}, params, {}, {}, "a fake"};
  const std::string path = temp_path("opgraph_kind.txt");
  Interpreter in(Target::get(Gen::gen4));
  Recorder rec(path);
  OpBase op;
  const Event e{d, op, Engine::vector, in, 0};
  CHECK_THROWS_WITH(rec.before_instruction(e),
                    Catch::Contains("fake_instruction") && Catch::Contains("'weird'") &&
                        Catch::Contains("cannot serialize"));
  CHECK_THROWS_WITH(rec.finish(), Catch::Contains("cannot serialize"));
  std::remove(path.c_str());
}
