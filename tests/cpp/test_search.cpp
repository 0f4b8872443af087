// Issue 8's search and GpSimd instructions through the C++ API (the Python suite has the full
// references; these pin the C++ entry points and the bounds checks).
#include <catch2/catch.hpp>
#include <cmath>

#include "helpers.hpp"

using namespace nkisim;
using namespace nkisim::test;

TEST_CASE("max8, nc_find_index8 and nc_match_replace8 find the top 8") {
  Interpreter in(Target::get(Gen::gen4));
  std::vector<float> v(2 * 40);
  for (int i = 0; i < 80; ++i) v[i] = static_cast<float>((i * 37) % 80);  // distinct per row
  Tensor data = sbuf(in, {2, 40}, v);
  Tensor top = in.allocate(Buffer::sbuf, {2, 8}, DType::float32, "top");
  Max8Op m;
  m.dst = top;
  m.src = data;
  in.run(m);
  const std::vector<float> t = read(top);
  for (int r = 0; r < 2; ++r) {
    std::vector<float> row(v.begin() + r * 40, v.begin() + (r + 1) * 40);
    std::sort(row.rbegin(), row.rend());
    CHECK(std::vector<float>(t.begin() + r * 8, t.begin() + (r + 1) * 8) ==
          std::vector<float>(row.begin(), row.begin() + 8));
  }
  Tensor idx = in.allocate(Buffer::sbuf, {2, 8}, DType::uint32, "idx");
  FindIndex8Op f;
  f.dst = idx;
  f.data = data;
  f.vals = top;
  in.run(f);
  const std::vector<float> ix = read(idx);
  for (int k = 0; k < 16; ++k) CHECK(v[(k / 8) * 40 + static_cast<int>(ix[k])] == t[k]);

  Tensor idx2 = in.allocate(Buffer::sbuf, {2, 8}, DType::uint32, "idx2");
  MatchReplace8Op r;
  r.dst = data;
  r.data = data;
  r.vals = top;
  r.imm = -INFINITY;
  r.dst_idx = idx2;
  in.run(r);
  CHECK(read(idx2) == ix);
  const std::vector<float> after = read(data);
  for (int k = 0; k < 16; ++k) CHECK(std::isinf(after[(k / 8) * 40 + static_cast<int>(ix[k])]));

  f.dst = in.allocate(Buffer::sbuf, {2, 8}, DType::int32, "bad");
  CHECK_THROWS_WITH(in.run(f), Catch::Contains("nc_find_index8: dst: index dtype must be uint32 or uint16"));
}

TEST_CASE("nc_stream_shuffle applies the mask per quadrant; 255 keeps dst") {
  Interpreter in(Target::get(Gen::gen4));
  Tensor src = sbuf(in, {64, 1}, iota_values(64));
  Tensor dst = sbuf(in, {64, 1}, std::vector<float>(64, -1.f));
  StreamShuffleOp s;
  s.dst = dst;
  s.src = src;
  s.shuffle_mask.assign(32, 255);
  s.shuffle_mask[0] = 31;
  s.shuffle_mask[5] = 0;
  in.run(s);
  const std::vector<float> d = read(dst);
  CHECK(d[0] == 31.f);
  CHECK(d[5] == 0.f);
  CHECK(d[32] == 63.f);
  CHECK(d[37] == 32.f);
  CHECK(d[1] == -1.f);
  s.shuffle_mask.pop_back();
  CHECK_THROWS_WITH(in.run(s), Catch::Contains("shuffle_mask: must have exactly 32 entries"));
}

TEST_CASE("nc_n_gather never reads outside data") {
  Interpreter in(Target::get(Gen::gen4));
  Tensor data = sbuf(in, {1, 4}, {10.f, 11.f, 12.f, 13.f});
  Tensor ind = sbuf(in, {1, 3}, {3.f, 0.f, 2.f}, DType::uint32);
  Tensor dst = in.allocate(Buffer::sbuf, {1, 3}, DType::float32, "dst");
  NGatherOp g;
  g.dst = dst;
  g.data = data;
  g.indices = ind;
  in.run(g);
  CHECK(read(dst) == std::vector<float>{13.f, 10.f, 12.f});
  g.indices = sbuf(in, {1, 3}, {3.f, 4.f, 2.f}, DType::uint32);
  CHECK_THROWS_WITH(in.run(g), Catch::Contains("index 4 at [0, 1] is out of range [0, 4)"));
}
