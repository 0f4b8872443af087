// Gather and scatter through vector_offset views (issue 9): shared by the DMA instructions.
#include "isa/common.hpp"

namespace nkisim::isa {

namespace {
// The row indices of a vector_offset view: one integer per row, from its (P, 1) SBUF tensor.
std::vector<int64_t> row_indices(const Interpreter& in, std::string_view instr,
                                 std::string_view param, const Tensor& view) {
  const DynamicOffset& dy = *view.dynamic();
  const Tensor& idx = *dy.vector;
  const Check c{instr};
  const int64_t rows = view.dim(0).count;
  NKISIM_REQUIRE(c, is_int(idx.dtype()) && size_of(idx.dtype()) == 4, param,
                 "vector_offset must be an int32 or uint32 tensor, found " + idx.describe());
  NKISIM_REQUIRE(c, idx.on_chip() && idx.buffer() == Buffer::sbuf, param,
                 "vector_offset must be in sbuf, found " + idx.describe());
  NKISIM_REQUIRE(c, idx.allocation().core == in.core_id(), param,
                 "vector_offset " + idx.describe() + " lives on another core");
  NKISIM_REQUIRE(c, idx.size() >= rows, param,
                 "vector_offset " + idx.describe() + " holds " + std::to_string(idx.size()) +
                     " indices but the view has " + std::to_string(rows) + " rows");
  std::vector<int64_t> out(static_cast<size_t>(rows));
  const Rows r = flat_of(idx);
  load<int64_t>(r, 0, 1, 0, rows, out.data());
  return out;
}

// Row w of a plain (not indirect) operand.
Tensor plain_row(const Check& c, std::string_view param, const Tensor& t, int64_t rows, int64_t w) {
  NKISIM_REQUIRE(c, t.dim(0).count == rows, param,
                 "has " + std::to_string(t.dim(0).count) + " rows (first dimension, shape " +
                     shape_of(t) + ") but the indirect view has " + std::to_string(rows) +
                     "; gathers and scatters move one row per index");
  std::vector<IndexItem> key(t.ndim(), IndexItem{IndexItem::all});
  key[0] = IndexItem{IndexItem::slice, w, w + 1, 1};
  return t.index(key);
}
}  // namespace

void indirect_rows(const Interpreter& in, std::string_view instr, const Tensor& src,
                   const Tensor& dst, OobMode oob,
                   const std::function<void(const Tensor&, const Tensor&)>& f) {
  const Check c{instr};
  const bool si = src.is_dynamic() && src.dynamic()->vector;
  const bool di = dst.is_dynamic() && dst.dynamic()->vector;
  const int64_t rows = si ? src.dim(0).count : dst.dim(0).count;
  std::vector<int64_t> sidx, didx;
  if (si) sidx = row_indices(in, instr, "src", src);
  if (di) didx = row_indices(in, instr, "dst", dst);
  if (si && di)
    NKISIM_REQUIRE(c, src.dim(0).count == dst.dim(0).count, "dst",
                   "indirect src and dst must have the same number of rows");
  auto resolve = [&](const Tensor& t, bool indirect, const std::vector<int64_t>& idx,
                     std::string_view param, int64_t w) -> std::optional<Tensor> {
    if (!indirect) return plain_row(c, param, t, rows, w);
    std::optional<Tensor> r = t.indirect_row(w, idx[w]);
    if (!r && oob == OobMode::error)
      throw OutOfBoundsError(
          "nki.isa." + std::string(instr) + ": " + std::string(param) + ": vector_offset[" +
          std::to_string(w) + "] = " + std::to_string(idx[w]) + " selects row " +
          std::to_string(idx[w]) + " of " + t.describe() + ", which has rows 0.." +
          std::to_string(t.dynamic()->extent - 1) + "; nothing was transferred "
          "(oob_mode=oob_mode.skip skips out-of-range rows instead)");
    return r;
  };
  // Resolve every row first: an out-of-range row under oob_mode.error moves nothing at all.
  std::vector<std::pair<Tensor, Tensor>> moves;
  moves.reserve(static_cast<size_t>(rows));
  for (int64_t w = 0; w < rows; ++w) {
    std::optional<Tensor> s = resolve(src, si, sidx, "src", w);
    std::optional<Tensor> d = resolve(dst, di, didx, "dst", w);
    if (s && d) moves.emplace_back(std::move(*s), std::move(*d));  // else: skipped
  }
  for (const auto& [s, d] : moves) f(s, d);
}

}  // namespace nkisim::isa
