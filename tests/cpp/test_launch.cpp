// The launch object (issue 9): two cores on two threads, barrier, sendrecv, failures, registers.
#include <catch2/catch.hpp>

#include <thread>

#include "helpers.hpp"

using namespace nkisim;
using namespace nkisim::test;

TEST_CASE("two cores exchange tiles with sendrecv and meet at a barrier") {
  Launch l(Target::get(Gen::gen3), 2);
  Tensor shared = l.shared_hbm(0, {2, 4}, DType::float32, "s");
  REQUIRE(&l.shared_hbm(1, {2, 4}, DType::float32, "s").allocation() == &shared.allocation());
  std::vector<float> got[2];
  auto program = [&](int p) {
    Interpreter& in = l.core(p);
    Tensor mine = in.allocate(Buffer::sbuf, {1, 4}, DType::float32, "mine");
    Tensor recv = in.allocate(Buffer::sbuf, {1, 4}, DType::float32, "recv");
    MemsetOp fill{{}, mine, static_cast<double>(p + 1)};
    in.run(fill);
    SendrecvOp x{{}, mine, recv, 1 - p, 1 - p, 0};
    in.run(x);
    CoreBarrierOp b{{}, shared, {0, 1}};
    in.run(b);
    got[p] = read(recv);
    l.finish(p);
  };
  std::thread t0(program, 0), t1(program, 1);
  t0.join();
  t1.join();
  CHECK(got[0] == std::vector<float>(4, 2.f));
  CHECK(got[1] == std::vector<float>(4, 1.f));
}

TEST_CASE("a failed program releases the other's wait with an error naming it") {
  Launch l(Target::get(Gen::gen3), 2);
  Tensor shared = l.shared_hbm(0, {1, 1}, DType::float32, "s");
  std::string err;
  std::thread t0([&] {
    try {
      CoreBarrierOp b{{}, shared, {0, 1}};
      l.core(0).run(b);
    } catch (const LaunchAbortedError& e) {
      err = e.what();
    }
    l.finish(0);
  });
  l.fail(1, "ValueError: boom");
  l.finish(1);
  t0.join();
  CHECK_THAT(err, Catch::Contains("program 1 failed (ValueError: boom)"));
}

TEST_CASE("a barrier whose peer has ended is an error, not a hang") {
  Launch l(Target::get(Gen::gen3), 2);
  Tensor shared = l.shared_hbm(0, {1, 1}, DType::float32, "s");
  l.finish(1);
  CoreBarrierOp b{{}, shared, {0, 1}};
  CHECK_THROWS_WITH(l.core(0).run(b), Catch::Contains("program 1 has ended"));
}

TEST_CASE("registers: values, unwritten reads, launches") {
  Interpreter in(Target::get(Gen::gen3));
  RegRef r = in.register_alloc(std::nullopt);
  CHECK_THROWS_WITH(in.read_register(r, "x", "y"), Catch::Contains("before anything was written"));
  RegisterMoveOp mv{{}, r, RegRef{-1, -1, 0, 7, true}};
  in.run(mv);
  CHECK(in.read_register(r, "x", "y") == 7);
  REQUIRE(in.reset());
  CHECK_THROWS_WITH(in.read_register(r, "x", "y"), Catch::Contains("earlier kernel launch"));
}
