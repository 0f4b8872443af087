#include <catch2/catch.hpp>
#include <cmath>

#include "helpers.hpp"

using namespace nkisim;
using namespace nkisim::test;

TEST_CASE("targets carry the per-generation facts") {
  CHECK(Target::from_name("trn1").gen == Gen::gen2);
  CHECK(Target::from_name("gen3").gen == Gen::gen3);
  CHECK(Target::from_name("trn3").sbuf_bytes_per_partition == 245752);
  CHECK(Target::from_name("trn2").matmul_max_moving_free == 512);
  CHECK(Target::from_name("trn1").max_lnc == 1);
  CHECK_THROWS_AS(Target::from_name("trn9"), ValidationError);
}

TEST_CASE("fresh allocations hold sentinels: NaN for floats, 4 for ints") {
  Interpreter in(Target::get(Gen::gen4));
  Tensor f = in.allocate(Buffer::sbuf, {4, 8}, DType::float32, "f");
  for (float v : read(f)) CHECK(std::isnan(v));
  Tensor b = in.allocate(Buffer::sbuf, {4, 8}, DType::bfloat16, "b");
  for (float v : read(b)) CHECK(std::isnan(v));
  Tensor i = in.allocate(Buffer::psum, {4, 8}, DType::int32, "i");
  for (float v : read(i)) CHECK(v == 4.f);
  Tensor h(make_hbm(Buffer::shared_hbm, 64, DType::int16, "h"), DType::int16, {32});
  for (float v : read(h)) CHECK(v == 4.f);
}

TEST_CASE("the allocator enforces capacity and frees with the last handle") {
  Interpreter in(Target::get(Gen::gen4));
  const int64_t per_partition = in.target().sbuf_bytes_per_partition;
  {
    Tensor a = in.allocate(Buffer::sbuf, {128, per_partition / 4 / 2}, DType::float32, "a");
    Tensor b = in.allocate(Buffer::sbuf, {128, per_partition / 4 / 2}, DType::float32, "b");
    // The map is full (Memory::allocate without outside storage).
    CHECK_THROWS_AS(in.sbuf().allocate(128, 256, DType::float32, "c", std::nullopt), AllocationError);
    CHECK(in.sbuf().live_allocations() == 2);
  }
  CHECK(in.sbuf().live_allocations() == 0);
  Tensor c = in.allocate(Buffer::sbuf, {128, 64}, DType::float32, "c");
  CHECK(c.allocation().byte_offset == 0);
}

TEST_CASE("the allocator packs first-fit and keeps PSUM tiles inside a bank") {
  Interpreter in(Target::get(Gen::gen4));
  Tensor a = in.allocate(Buffer::psum, {128, 384}, DType::float32, "a");  // 1536 bytes
  Tensor b = in.allocate(Buffer::psum, {128, 256}, DType::float32, "b");  // would straddle bank 0/1
  CHECK(a.allocation().byte_offset == 0);
  CHECK(b.allocation().byte_offset == 2048);
  // 8 banks of 2 KiB: six more full banks fit, the 8th bank is partly used by b.
  std::vector<Tensor> keep;
  for (int i = 0; i < 6; ++i) keep.push_back(in.allocate(Buffer::psum, {128, 512}, DType::float32, "k"));
  CHECK_THROWS_AS(in.psum().allocate(128, 2048, DType::float32, "over", std::nullopt), AllocationError);
  // Through the interpreter (capacity by live ranges) the tile gets storage of its own.
  Tensor over = in.allocate(Buffer::psum, {128, 512}, DType::float32, "over");
  CHECK(over.allocation().outside);
  CHECK(over.allocation().byte_offset == 0);
}

TEST_CASE("capacity is checked by live ranges: write to last read") {
  Interpreter in(Target::get(Gen::gen4));
  const int64_t cols = in.target().sbuf_bytes_per_partition / 4 * 6 / 10;  // 60% of a partition
  Tensor out = hbm({128, cols}, std::vector<float>(128 * cols, 0.f));
  {
    // Both referenced at once (the second one outside the map), used one after the other: fits.
    Tensor a = in.allocate(Buffer::sbuf, {128, cols}, DType::float32, "a");
    Tensor b = in.allocate(Buffer::sbuf, {128, cols}, DType::float32, "b");
    CHECK(b.allocation().outside);
    MemsetOp wa{{}, a, 1.0};
    in.run(wa);
    DmaCopyOp ra{{}, out, a};
    in.run(ra);
    MemsetOp wb{{}, b, 2.0};
    in.run(wb);
    DmaCopyOp rb{{}, out, b};
    in.run(rb);
    in.check_capacity();
    // A tensor overwritten whole starts a new version: a's second life overlaps b's only there.
    MemsetOp wa2{{}, a, 3.0};
    in.run(wa2);
    in.check_capacity();
  }
  CHECK(in.reset());
  {
    Tensor a = in.allocate(Buffer::sbuf, {128, cols}, DType::float32, "a");
    Tensor b = in.allocate(Buffer::sbuf, {128, cols}, DType::float32, "b");
    MemsetOp wa{{}, a, 1.0};
    in.run(wa);
    MemsetOp wb{{}, b, 2.0};
    in.run(wb);
    DmaCopyOp ra{{}, out, a};  // a is still needed while b is live: 120% of the partition
    in.run(ra);
    CHECK_THROWS_AS(in.check_capacity(), AllocationError);
    try {
      in.check_capacity();
    } catch (const AllocationError& e) {
      const std::string m = e.what();
      CHECK(m.find("sbuf capacity exceeded") != std::string::npos);
      CHECK(m.find("'a'") != std::string::npos);
      CHECK(m.find("'b'") != std::string::npos);
    }
  }
}

TEST_CASE("automatic placements start on 4-byte boundaries") {
  Interpreter in(Target::get(Gen::gen4));
  Tensor a = in.allocate(Buffer::sbuf, {128, 1}, DType::bfloat16, "a");  // 2 bytes per partition
  Tensor b = in.allocate(Buffer::sbuf, {128, 3}, DType::uint8, "b");
  Tensor c = in.allocate(Buffer::sbuf, {128, 8}, DType::float32, "c");
  CHECK(b.allocation().byte_offset % 4 == 0);
  CHECK(c.allocation().byte_offset % 4 == 0);
  CHECK(c.allocation().byte_offset >= 8);
}

TEST_CASE("address= pins a placement and is bounds-checked") {
  Interpreter in(Target::get(Gen::gen3));
  Tensor a = in.allocate(Buffer::psum, {64, 512}, DType::float32, "a", std::make_pair(int64_t{64}, int64_t{4096}));
  CHECK(a.allocation().start_partition == 64);
  CHECK(a.allocation().byte_offset == 4096);
  CHECK_THROWS_AS(in.allocate(Buffer::psum, {128, 512}, DType::float32, "b", std::make_pair(int64_t{64}, int64_t{0})),
                  AllocationError);
  CHECK_THROWS_AS(in.allocate(Buffer::sbuf, {129, 4}, DType::float32, "c"), AllocationError);
}

TEST_CASE("checked arithmetic reports overflow instead of wrapping") {
  CHECK((Checked(int64_t{1} << 62) * 2).ok() == false);
  CHECK((Checked(INT64_MAX) + 1).ok() == false);
  CHECK((Checked(INT64_MIN) - 1).ok() == false);
  CHECK((Checked(3) * 4 + 5).value() == 17);
  CHECK((Checked(INT64_MAX) + 1 - 5).ok() == false);  // sticky
  CHECK((Checked(6) * 7).within(42, 42));
  CHECK_FALSE((Checked(6) * 7).within(0, 41));
  CHECK(checked_product({int64_t{1} << 31, int64_t{1} << 31, 4}) == std::nullopt);
  CHECK(checked_product({128, int64_t{1} << 62}) == std::nullopt);
  CHECK(checked_product({2, 3, 4}) == 24);
  CHECK(checked_product({2, 3, 4}, 1) == 12);
}

TEST_CASE("address= with extreme integers is refused, not narrowed, and changes nothing") {
  Interpreter in(Target::get(Gen::gen4));
  Memory& sb = in.sbuf();
  const size_t live = sb.live_allocations();
  using P = std::pair<int64_t, int64_t>;
  for (P addr : {P{(int64_t{1} << 32) - 1, 0}, P{int64_t{1} << 32, 4}, P{0, INT64_MAX - 7},
                 P{INT64_MAX, INT64_MAX}, P{-1, 0}, P{0, -4}, P{127, 0}, P{0, INT64_MIN}}) {
    CAPTURE(addr.first, addr.second);
    CHECK_THROWS_AS(sb.allocate(4, 32, DType::float32, "t", addr), AllocationError);
  }
  CHECK(sb.live_allocations() == live);
  CHECK(sb.allocate(4, 32, DType::float32, "t", P{124, 0})->start_partition == 124);
}

TEST_CASE("a shape whose byte size overflows int64 is refused before anything is allocated") {
  Interpreter in(Target::get(Gen::gen4));
  // Interpreter::allocate's product wraps for these; the Tensor refuses the mismatch.
  CHECK_THROWS_AS(in.allocate(Buffer::sbuf, {128, int64_t{1} << 62}, DType::float32, "t"),
                  ValidationError);
  CHECK_THROWS_AS(in.allocate(Buffer::psum, {100, INT64_MAX}, DType::uint32, "t"), ValidationError);
  CHECK(in.sbuf().live_allocations() == 0);
  CHECK(in.psum().live_allocations() == 0);
  CHECK_THROWS_AS(check_shape({int64_t{1} << 31, int64_t{1} << 31}, DType::uint32, "x"),
                  ValidationError);
  CHECK_THROWS_AS(check_shape({2, 0}, DType::uint8, "x"), ValidationError);
  CHECK_NOTHROW(check_shape({2, 3}, DType::uint8, "x"));
}

TEST_CASE("simulator-owned HBM is limited and given back") {
  const int64_t before = hbm_used_bytes();
  CHECK_THROWS_AS(make_hbm(Buffer::shared_hbm, 0, DType::uint8, "z"), AllocationError);
  CHECK_THROWS_AS(make_hbm(Buffer::shared_hbm, INT64_MAX, DType::uint8, "big"), AllocationError);
  {
    auto a = make_hbm(Buffer::shared_hbm, 4096, DType::uint8, "a");
    CHECK(hbm_used_bytes() == before + 4096);
  }
  CHECK(hbm_used_bytes() == before);
  CHECK(hbm_limit_bytes() > 0);
}

TEST_CASE("live ranges stay bounded on long kernels") {
  Interpreter in(Target::get(Gen::gen4));
  Tensor out = hbm({4, 4}, std::vector<float>(16, 0.f));
  Tensor u = in.allocate(Buffer::sbuf, {4, 4}, DType::float32, "u");
  // Every iteration makes a version of u that cannot merge with the previous one (a write and a
  // read apart): more than the ranges at which the space checks and compacts.
  in.sbuf().set_live_range_compaction(1000);
  size_t most = 0;
  for (int i = 0; i < 5000; ++i) {
    MemsetOp w{{}, u, 1.0};
    in.run(w);
    DmaCopyOp r{{}, out, u};
    in.run(r);
    most = std::max(most, in.sbuf().live_range_count());
  }
  CHECK(most >= 900);
  CHECK(most < 1000);  // compacted each time it reached 1000 (nothing long-lived holds them)
  in.check_capacity();
}

TEST_CASE("an overflow is reported while running when the ranges are compacted") {
  Interpreter in(Target::get(Gen::gen4));
  const int64_t cols = in.target().sbuf_bytes_per_partition / 4 * 6 / 10;
  Tensor out = hbm({128, cols}, std::vector<float>(128 * cols, 0.f));
  Tensor small_out = hbm({4, 4}, std::vector<float>(16, 0.f));
  in.sbuf().set_live_range_compaction(100);
  {
    Tensor a = in.allocate(Buffer::sbuf, {128, cols}, DType::float32, "a");
    Tensor b = in.allocate(Buffer::sbuf, {128, cols}, DType::float32, "b");
    MemsetOp wa{{}, a, 1.0}, wb{{}, b, 2.0};
    in.run(wa);
    in.run(wb);
    DmaCopyOp ra{{}, out, a};
    in.run(ra);
  }
  Tensor u = in.allocate(Buffer::sbuf, {4, 4}, DType::float32, "u");
  auto loop = [&] {
    for (int i = 0; i < 200; ++i) {
      MemsetOp w{{}, u, 1.0};
      in.run(w);
      DmaCopyOp r{{}, small_out, u};
      in.run(r);
    }
  };
  CHECK_THROWS_WITH(loop(), Catch::Contains("sbuf capacity exceeded") && Catch::Contains("'a'"));
}
