// nisa.dma_transpose: dst (SBUF) = src (HBM or SBUF) transposed by the DMA. Output axis i is source
// axis axes[i]; 0.3.0 supports one permutation per rank: 2-D (1, 0), 3-D (2, 1, 0), 4-D
// (3, 1, 2, 0) (the default when axes is None). Equal dtypes of 2 or 4 bytes. dge_mode: unknown,
// none or hwdge for a direct transpose, unknown or swdge for an indirect one. 0.3.0 accepts a dst
// of lower rank than src when its element count matches (elements in row-major order of the
// transposed shape); 0.4.0 requires the exact shape.
#include <cstring>
#include <optional>

#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

namespace {
std::vector<int> default_axes(int rank) {
  switch (rank) {
    case 2: return {1, 0};
    case 3: return {2, 1, 0};
    case 4: return {3, 1, 2, 0};
    default: return {};
  }
}
std::string shape_of_v(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}
bool indirect(const Tensor& t) { return t.is_dynamic() && t.dynamic()->vector != nullptr; }

// The gather order of an indirect transpose: indices.T.flatten()[:rows] (column-major).
std::vector<int64_t> gather_order(const Tensor& idx, int64_t rows) {
  const int64_t P = idx.dim(0).count, K = idx.size() / P;
  std::vector<int64_t> all(static_cast<size_t>(idx.size()));
  load<int64_t>(flat_of(idx), 0, 1, 0, idx.size(), all.data());  // row-major [P, K]
  std::vector<int64_t> out;
  for (int64_t k = 0; k < K && static_cast<int64_t>(out.size()) < rows; ++k)
    for (int64_t p = 0; p < P && static_cast<int64_t>(out.size()) < rows; ++p)
      out.push_back(all[static_cast<size_t>(p * K + k)]);
  return out;
}

std::string axes_text(const std::vector<int>& a) {
  std::string s = "(";
  for (size_t i = 0; i < a.size(); ++i) s += (i ? ", " : "") + std::to_string(a[i]);
  return s + (a.size() == 1 ? ",)" : ")");
}
}  // namespace

// Indirect transpose (dma_gather_transpose): src = hbm.ap([[F, R], [1, F]], vector_offset=indices,
// indirect_dim=0); dst = src[indices.T.flatten()[:R], :].T. 2-D src only in nkisim.
static void validate_indirect(const Check& c, const DmaTransposeOp& op, const Interpreter& in) {
  const Tensor& idx = *op.src.dynamic()->vector;
  NKISIM_REQUIRE(c, op.dge_mode == DgeMode::unknown || op.dge_mode == DgeMode::swdge, "dge_mode",
                 "an indirect transpose takes dge_mode unknown or swdge");
  NKISIM_REQUIRE(c, op.src.ndim() == 2, "src",
                 "nkisim implements indirect transposes of 2-D sources only, found " + shape_of(op.src));
  NKISIM_REQUIRE(c, op.src.dtype() == op.dst.dtype(), "dst",
                 "must have src's dtype " + std::string(name(op.src.dtype())));
  NKISIM_REQUIRE(c, size_of(op.src.dtype()) == 2, "src",
                 "indirect transposes need a 2-byte dtype, found " + std::string(name(op.src.dtype())));
  const int64_t R = op.src.dim(0).count, F = op.src.dim(1).count;
  NKISIM_REQUIRE(c, F <= 128, "src", "indirect transposes need src.shape[-1] <= 128, found " + shape_of(op.src));
  NKISIM_REQUIRE(c, R % 16 == 0, "src", "indirect transposes need src.shape[0] % 16 == 0, found " + shape_of(op.src));
  NKISIM_REQUIRE(c, idx.ndim() == 2 && idx.buffer() == Buffer::sbuf && idx.dtype() == DType::uint32,
                 "src", "vector_offset indices must be a 2-D uint32 SBUF tensor, found " + idx.describe());
  const int64_t ip = idx.dim(0).count, ik = idx.dim(1).count;
  NKISIM_REQUIRE(c, ip >= 16 && ip <= 128 && ip % 16 == 0 && (ik == 1 || ip == 128), "src",
                 "indices.shape[0] must be a multiple of 16 in [16, 128] (exactly 128 when "
                 "indices.shape[1] > 1), found " + idx.describe());
  NKISIM_REQUIRE(c, ip * ik >= R, "src",
                 "indices hold " + std::to_string(ip * ik) + " row numbers for " + std::to_string(R) + " rows");
  NKISIM_REQUIRE(c, idx.allocation().core == in.core_id(), "src", "indices live on another core");
  NKISIM_REQUIRE(c, op.dst.ndim() <= 2 && op.dst.size() == R * F &&
                        (op.dst.ndim() == 1 || (op.dst.dim(0).count == F && op.dst.dim(1).count == R)),
                 "dst", "must have the transposed shape [" + std::to_string(F) + ", " + std::to_string(R) +
                            "], found " + shape_of(op.dst));
  c.max_partitions("dst", op.dst, in.target().partitions);
}

void validate(const DmaTransposeOp& op, const Interpreter& in) {
  const Check c{"dma_transpose"};
  const int rank = op.src.ndim();
  const std::vector<int> def = default_axes(rank);
  NKISIM_REQUIRE(c, !def.empty(), "src",
                 "must have 2, 3 or 4 dimensions, found " + std::to_string(rank) + " (" +
                     op.src.describe() + ")");
  if (!op.axes.empty())
    NKISIM_REQUIRE(c, op.axes == def, "axes",
                   "a " + std::to_string(rank) + "-D transpose supports only axes=" +
                       axes_text(def) + " in NKI 0.3.0, found " + axes_text(op.axes));
  NKISIM_REQUIRE(c, op.src.dtype() == op.dst.dtype(), "dst",
                 "must have src's dtype " + std::string(name(op.src.dtype())) + ", found " +
                     std::string(name(op.dst.dtype())));
  const size_t es = size_of(op.src.dtype());
  NKISIM_REQUIRE(c, (es == 2 || es == 4) && !is_packed(op.src.dtype()), "src",
                 "the DMA transposes 2- and 4-byte dtypes, found " + std::string(name(op.src.dtype())));
  if (indirect(op.src)) {
    validate_indirect(c, op, in);
    return;
  }
  // The 0.3.0 docstring lists unknown and hwdge; the 0.3.0 DGE deep-dive (mode table: a static
  // transpose takes none, hwdge or compiler-selected) and nki-library (mlp_tkg's bias transpose
  // with dge_mode none) also allow none: static descriptors, the same transpose.
  NKISIM_REQUIRE(c, op.dge_mode == DgeMode::unknown || op.dge_mode == DgeMode::hwdge ||
                        op.dge_mode == DgeMode::none,
                 "dge_mode", "a direct transpose takes dge_mode unknown, none or hwdge");
  if (op.dge_mode == DgeMode::hwdge) {
    NKISIM_REQUIRE(c, op.src.dim(0).count == 16, "src",
                   "hwdge transposes need src.shape[0] == 16, found " + shape_of(op.src));
    NKISIM_REQUIRE(c, op.src.dim(rank - 1).count % 128 == 0, "src",
                   "hwdge transposes need src.shape[-1] % 128 == 0, found " + shape_of(op.src));
    NKISIM_REQUIRE(c, es == 2, "src", "hwdge transposes need a 2-byte dtype");
  }
  NKISIM_REQUIRE(c, !op.src.is_dynamic(), "src",
                 "a scalar-offset src is resolved before the transpose; this view stayed dynamic");
  NKISIM_REQUIRE(c, op.oob_mode == OobMode::error || indirect(op.src), "oob_mode",
                 "oob_mode.skip is only valid with an indirect (vector_offset) src");
  std::vector<int64_t> want(rank);
  for (int i = 0; i < rank; ++i) want[i] = op.src.dim(def[i]).count;
  if (op.dst.ndim() == rank) {
    NKISIM_REQUIRE(c, op.dst.shape() == want, "dst",
                   "must have the transposed shape " + shape_of_v(want) + ", found " +
                       shape_of(op.dst));
  } else {
    NKISIM_REQUIRE(c, op.dst.ndim() < rank && op.dst.size() == op.src.size(), "dst",
                   "must have the transposed shape " + shape_of_v(want) +
                       " (0.3.0 also accepts a lower-rank dst with as many elements), found " +
                       shape_of(op.dst));
  }
  c.max_partitions("dst", op.dst, in.target().partitions);
}

void execute(DmaTransposeOp& op, Interpreter&) {
  if (indirect(op.src)) {
    const int64_t R = op.src.dim(0).count, F = op.src.dim(1).count;
    const std::vector<int64_t> order = gather_order(*op.src.dynamic()->vector, R);
    const Tensor dst2 = op.dst.ndim() == 2 ? op.dst : op.dst.reshape({F, R});
    std::vector<std::optional<Tensor>> rows(static_cast<size_t>(R));
    for (int64_t w = 0; w < R; ++w) {  // resolve every row first: an error moves nothing
      rows[w] = op.src.indirect_row(w, order[w]);
      if (!rows[w] && op.oob_mode == OobMode::error)
        throw OutOfBoundsError("nki.isa.dma_transpose: src: row " + std::to_string(w) +
                               " gathers index " + std::to_string(order[w]) + " of " +
                               op.src.describe() + ", which has rows 0.." +
                               std::to_string(op.src.dynamic()->extent - 1) +
                               "; nothing was transferred (oob_mode=oob_mode.skip skips it)");
    }
    const Strided d = dst2.strided();
    const int64_t es = static_cast<int64_t>(size_of(op.src.dtype()));
    for (int64_t w = 0; w < R; ++w) {
      if (!rows[w]) continue;  // skipped: dst column w keeps its contents
      const Strided s = rows[w]->strided();
      for (int64_t f = 0; f < F; ++f)
        std::memcpy(d.base + f * d.stride[0] + w * d.stride[1], s.base + f * s.stride[s.ndim - 1],
                    static_cast<size_t>(es));
    }
    return;
  }
  op.dst.claim_for_overwrite({&op.src});
  const int rank = op.src.ndim();
  const std::vector<int> axes = default_axes(rank);
  const Strided s = op.src.strided(), d = op.dst.strided();
  const int64_t es = static_cast<int64_t>(size_of(op.src.dtype()));
  // The source walked in the order of the transposed shape.
  int64_t cnt[kMaxDims], str[kMaxDims];
  for (int i = 0; i < rank; ++i) {
    cnt[i] = s.count[axes[i]];
    str[i] = s.stride[axes[i]];
  }
  int64_t si[kMaxDims] = {}, di[kMaxDims] = {};
  const int64_t n = op.src.size();
  std::byte* sp = s.base;
  for (int64_t k = 0; k < n; ++k) {
    std::byte* dp = d.base;
    for (int j = 0; j < d.ndim; ++j) dp += di[j] * d.stride[j];
    std::memcpy(dp, sp, static_cast<size_t>(es));
    for (int j = rank - 1; j >= 0; --j) {  // advance the source index (transposed order)
      sp += str[j];
      if (++si[j] < cnt[j]) break;
      sp -= str[j] * cnt[j];
      si[j] = 0;
    }
    for (int j = d.ndim - 1; j >= 0; --j) {  // advance the destination index (row-major)
      if (++di[j] < d.count[j]) break;
      di[j] = 0;
    }
  }
}

}  // namespace nkisim
