#include <catch2/catch.hpp>

#include "helpers.hpp"

using namespace nkisim;
using namespace nkisim::test;

namespace {
IndexItem sl(int64_t a, int64_t b, int64_t s = 1) { return IndexItem{IndexItem::slice, a, b, s}; }
IndexItem at(int64_t i) { return IndexItem{IndexItem::integer, i}; }
IndexItem all() { return IndexItem{IndexItem::all}; }
}  // namespace

TEST_CASE("slicing and integer indexing make views with numpy semantics") {
  Tensor t = hbm({4, 6}, iota_values(24));
  Tensor v = t.index({sl(1, 3), sl(0, 6, 2)});
  CHECK(v.shape() == std::vector<int64_t>{2, 3});
  CHECK(read(v) == std::vector<float>{6, 8, 10, 12, 14, 16});
  Tensor row = t.index({at(-1)});  // HBM: an int removes the dim
  CHECK(row.shape() == std::vector<int64_t>{6});
  CHECK(read(row) == std::vector<float>{18, 19, 20, 21, 22, 23});
  Tensor nested = v.index({at(1), sl(1, 3)});
  CHECK(read(nested) == std::vector<float>{14, 16});
}

TEST_CASE("on-chip views keep the partition dim and reject partition strides") {
  Interpreter in(Target::get(Gen::gen4));
  Tensor t = sbuf(in, {8, 4}, iota_values(32));
  Tensor p = t.index({at(2)});
  CHECK(p.shape() == std::vector<int64_t>{1, 4});
  CHECK(read(p) == std::vector<float>{8, 9, 10, 11});
  CHECK(read(t.index({sl(4, 6), at(3)})) == std::vector<float>{19, 23});
  CHECK_THROWS_AS(t.index({sl(0, 8, 2)}), ValidationError);
}

TEST_CASE("out-of-bounds indices and slices raise") {
  Tensor t = hbm({4, 6}, {});
  CHECK_THROWS_AS(t.index({at(4)}), OutOfBoundsError);
  CHECK_THROWS_AS(t.index({sl(0, 7)}), OutOfBoundsError);
  CHECK(t.index({sl(3, 3)}).unusable() != nullptr);  // empty: allowed until used
  CHECK_THROWS_AS(t.index({sl(3, 3)}).strided(), OutOfBoundsError);
  CHECK_THROWS_AS(t.index({all(), all(), all()}), OutOfBoundsError);
}

TEST_CASE(".ap() follows the documented formulas") {
  Interpreter in(Target::get(Gen::gen4));
  Tensor t = sbuf(in, {16, 16}, iota_values(256));
  // t.ap([[16,16],[1,8]], offset=8) == t[0:16, 8:16]
  Tensor a = t.ap({{16, 16}, {1, 8}}, 8, std::nullopt);
  CHECK(read(a) == read(t.index({sl(0, 16), sl(8, 16)})));
  // Partition pairs must step by the partition's free size.
  CHECK_THROWS_AS(t.ap({{32, 8}, {1, 16}}, 0, std::nullopt), ValidationError);
  // Out of the allocation.
  CHECK(t.ap({{16, 16}, {1, 16}}, 8, std::nullopt).unusable() != nullptr);  // allowed until used
  CHECK_THROWS_AS(t.ap({{16, 16}, {1, 16}}, 8, std::nullopt).strided(), OutOfBoundsError);
  // On a view: the pattern addresses the storage, the view's layout is ignored.
  CHECK(read(a.ap({{16, 16}, {1, 8}}, 0, std::nullopt)) ==
        read(t.index({sl(0, 16), sl(0, 8)})));
  CHECK(read(t.index({sl(4, 8), sl(2, 6)}).ap({{16, 2}, {2, 3}}, 17, std::nullopt)) ==
        read(t.index({sl(1, 3), IndexItem{IndexItem::slice, 1, 7, 2}})));
  // HBM: any steps, e.g. a transposed read.
  Tensor h = hbm({3, 4}, iota_values(12));
  Tensor tr = h.ap({{1, 4}, {4, 3}}, 0, std::nullopt);
  CHECK(read(tr) == std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  CHECK(tr.pattern() == std::vector<std::pair<int64_t, int64_t>>{{1, 4}, {4, 3}});
}

TEST_CASE("reshape and view reinterpret without copying") {
  Tensor h = hbm({4, 6}, iota_values(24));
  Tensor r = h.reshape({2, 3, 4});
  CHECK(r.shape() == std::vector<int64_t>{2, 3, 4});
  CHECK(read(r) == read(h));
  CHECK_THROWS_AS(h.reshape({5, 5}), ValidationError);
  CHECK_THROWS_AS(h.index({sl(0, 4), sl(0, 6, 2)}).reshape({12}), ValidationError);
  Tensor bits = h.view_as(DType::int32);
  CHECK(bits.shape() == std::vector<int64_t>{4, 6});
  Tensor bytes = h.view_as(DType::uint8);
  CHECK(bytes.shape() == std::vector<int64_t>{4, 24});
  float one = 1.f;
  uint8_t raw[4];
  std::memcpy(raw, &one, 4);
  CHECK(read(bytes.index({at(0), sl(4, 8)})) ==
        std::vector<float>{float(raw[0]), float(raw[1]), float(raw[2]), float(raw[3])});
}

TEST_CASE("broadcast_to repeats size-1 dims with step 0") {
  Tensor h = hbm({1, 3}, {1, 2, 3});
  Tensor b = h.broadcast_to({2, 3});
  CHECK(read(b) == std::vector<float>{1, 2, 3, 1, 2, 3});
  CHECK_THROWS_AS(h.broadcast_to({2, 4}), ValidationError);
}

TEST_CASE(".ap() with extreme integers raises instead of overflowing") {
  Tensor a = hbm({5, 2}, {}, DType::float16);
  using Pat = std::vector<std::pair<int64_t, int64_t>>;
  CHECK_THROWS_AS(a.ap(Pat{{int64_t{1} << 62, 2}}, 1, std::nullopt), OutOfBoundsError);
  CHECK_THROWS_AS(a.ap(Pat{{-(int64_t{1} << 62), int64_t{1} << 31}}, 1, std::nullopt),
                  OutOfBoundsError);
  // Out-of-bounds views may be made (0.3.0); using one raises.
  CHECK_THROWS_AS(a.ap(Pat{{2, 1}, {1, 1}}, INT64_MAX, std::nullopt).strided(), OutOfBoundsError);
  CHECK_THROWS_AS(a.ap(Pat{{1, INT64_MAX}}, 0, std::nullopt), ValidationError);
  // Step 0 repeats: bounded by the view-size limit rather than hanging an instruction.
  CHECK_THROWS_AS(a.ap(Pat{{0, int64_t{1} << 40}}, 0, std::nullopt), ValidationError);
  CHECK(a.ap(Pat{{0, 1000}}, 3, std::nullopt).size() == 1000);
  Interpreter in(Target::get(Gen::gen4));
  Tensor t = in.allocate(Buffer::sbuf, {16, 8}, DType::float32, "t");
  CHECK_THROWS_AS(t.ap(Pat{{16, 1}, {int64_t{1} << 62, 5}}, 0, std::nullopt), OutOfBoundsError);
  CHECK_THROWS_AS(t.ap(Pat{{8, 1}, {0, int64_t{1} << 21}}, 0, std::nullopt), ValidationError);
  CHECK_THROWS_AS(t.ap(Pat{{8, 16}, {1, 8}}, INT64_MAX, std::nullopt).strided(), OutOfBoundsError);
  // An element larger than a partition: no division by zero.
  Tensor u = in.allocate(Buffer::sbuf, {2, 3}, DType::uint8, "u");
  CHECK_THROWS_AS(u.ap(Pat{{1, 1}, {1, 1}}, 0, DType::int32), ValidationError);
}

TEST_CASE("reshape and slicing with extreme integers raise instead of dividing by zero") {
  Tensor a = hbm({4, 4}, iota_values(16));
  const int64_t big = int64_t{1} << 32;
  CHECK_THROWS_AS(a.reshape({big, big, -1}), ValidationError);
  CHECK_THROWS_AS(a.reshape({INT64_MAX, 2}), ValidationError);
  CHECK_THROWS_AS(a.reshape({-1, INT64_MAX}), ValidationError);
  CHECK(a.reshape({2, -1}).shape() == std::vector<int64_t>{2, 8});
  // A huge slice step selects one element (no overflow in the count or the step).
  Tensor s = a.index({IndexItem{IndexItem::slice, 1, 4, INT64_MAX}});
  CHECK(s.shape() == std::vector<int64_t>{1, 4});
  CHECK(read(s) == std::vector<float>{4, 5, 6, 7});
}

TEST_CASE("a tensor's shape must fit its allocation") {
  auto small = make_hbm(Buffer::shared_hbm, 16, DType::float32, "small");
  CHECK_THROWS_AS(Tensor(small, DType::float32, {int64_t{1} << 62, 4}), ValidationError);
  CHECK_THROWS_AS(Tensor(small, DType::float32, {5}), ValidationError);
  CHECK(Tensor(small, DType::float32, {2, 2}).size() == 4);
}
