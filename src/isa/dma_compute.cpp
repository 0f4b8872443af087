// nisa.dma_compute: dst = reduce_op(srcs[0] * scales[0], srcs[1] * scales[1], ...) computed by the
// DMA in float32 and cast to dst's dtype once. 0.3.0: reduce_op nl.add only, scales all 1.0 (or
// None), up to 16 sources, equal element counts (matched in row-major order of each view).
// Read-modify-write with a vector_offset source (the 0.3.0 replacement of dma_copy's dst_rmw_op):
//   scatter: dst = table.ap(..., vector_offset=idx), srcs = [that same view, data in SBUF]
//            -> table[idx[w]] += data[w];
//   gather:  dst in SBUF, srcs = [table.ap(..., vector_offset=idx), dst] -> dst[w] += table[idx[w]].
// Indices must be unique (unique_indices=True); out-of-range rows raise (oob_mode.error).
#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

namespace {
bool indirect(const Tensor& t) { return t.is_dynamic() && t.dynamic()->vector; }

// The same indirect view: same allocation, same index tensor, same pattern.
bool same_view(const Tensor& a, const Tensor& b) {
  return &a.allocation() == &b.allocation() && a.pattern() == b.pattern() &&
         a.element_offset() == b.element_offset() && a.is_dynamic() == b.is_dynamic() &&
         (!a.is_dynamic() || a.dynamic()->vector == b.dynamic()->vector);
}

// dst = sum of srcs, element-wise in flat order, fp32.
void add_flat(const Tensor& dst, const std::vector<const Tensor*>& srcs) {
  const Rows d = flat_of(dst);
  std::vector<Rows> ss;
  for (const Tensor* s : srcs) ss.push_back(flat_of(*s));
  const int64_t n = d.ncols;
  for (int64_t c0 = 0; c0 < n; c0 += kBlockElems) {
    const int64_t nc = std::min(kBlockElems, n - c0);
    Scratch<float> acc_lanes(nc), x_lanes(nc);
    float *acc = acc_lanes, *x = x_lanes;
    load<float>(ss[0], 0, 1, c0, nc, acc);
    for (size_t i = 1; i < ss.size(); ++i) {
      load<float>(ss[i], 0, 1, c0, nc, x);
      for (int64_t k = 0; k < nc; ++k) acc[k] += x[k];
    }
    store<float>(d, 0, 1, c0, nc, acc);
  }
}
}  // namespace

void validate(const DmaComputeOp& op, const Interpreter& in) {
  const Check c{"dma_compute"};
  NKISIM_REQUIRE(c, op.reduce_op == AluOp::add, "reduce_op",
                 "only nl.add is supported in NKI 0.3.0, found nl." + std::string(alu_name(op.reduce_op)));
  NKISIM_REQUIRE(c, !op.srcs.empty() && op.srcs.size() <= 16, "srcs",
                 "takes 1 to 16 source tensors, found " + std::to_string(op.srcs.size()));
  NKISIM_REQUIRE(c, op.scales.empty() || op.scales.size() == op.srcs.size(), "scales",
                 "needs one scale per source (" + std::to_string(op.srcs.size()) + "), found " +
                     std::to_string(op.scales.size()));
  for (double s : op.scales)
    NKISIM_REQUIRE(c, s == 1.0, "scales", "must all be 1.0 (or None) in NKI 0.3.0, found " +
                                              std::to_string(s));
  // dst's buffers, core and writability are the declaration's (Interpreter::check_common);
  // srcs is a list, which the common checks do not walk.
  int n_indirect = 0;
  for (size_t i = 0; i < op.srcs.size(); ++i) {
    const Tensor& s = op.srcs[i];
    const std::string nm = "srcs[" + std::to_string(i) + "]";
    c.buffer_in(nm, s, kSbuf | kHbm, in);
    n_indirect += indirect(s);
    NKISIM_REQUIRE(c, s.size() == op.dst.size(), nm,
                   "holds " + std::to_string(s.size()) + " elements (shape " + shape_of(s) +
                       ") but dst holds " + std::to_string(op.dst.size()) + "; counts must match");
  }
  if (n_indirect > 0 || indirect(op.dst)) {
    NKISIM_REQUIRE(c, op.srcs.size() == 2, "srcs",
                   "read-modify-write with a vector_offset needs exactly 2 sources");
    NKISIM_REQUIRE(c, op.unique_indices, "unique_indices",
                   "must be True with a vector_offset (non-unique indices are not supported)");
    NKISIM_REQUIRE(c, n_indirect == 1, "srcs", "exactly one source may have a vector_offset");
    const int k = indirect(op.srcs[0]) ? 0 : 1;
    if (indirect(op.dst))
      NKISIM_REQUIRE(c, same_view(op.dst, op.srcs[k]), "dst",
                     "scatter read-modify-write: dst must be the same vector_offset view as the "
                     "indirect source");
    else
      NKISIM_REQUIRE(c, same_view(op.dst, op.srcs[1 - k]), "dst",
                     "gather read-modify-write: the other source must be dst itself");
  }
  for (const Tensor& s : op.srcs)
    NKISIM_REQUIRE(c, !is_packed(s.dtype()), "srcs", "packed x4 dtypes cannot be computed by DMA");
}

void execute(DmaComputeOp& op, Interpreter& in) {
  const bool rmw = indirect(op.dst) || indirect(op.srcs[0]) || indirect(op.srcs[1 % op.srcs.size()]);
  if (!rmw) {
    std::vector<const Tensor*> ss;
    bool reads_dst = false;
    for (const Tensor& s : op.srcs) {
      ss.push_back(&s);
      reads_dst |= &s.allocation() == &op.dst.allocation();
    }
    if (!reads_dst) op.dst.claim_for_overwrite({});
    add_flat(op.dst, ss);
    return;
  }
  const int k = indirect(op.srcs[0]) ? 0 : 1;
  const Tensor& table = op.srcs[k];  // the indirect source
  const Tensor& data = op.srcs[1 - k];
  if (indirect(op.dst)) {  // scatter: table[idx[w]] += data[w]
    indirect_rows(in, "dma_compute", data, table, OobMode::error,
                  [&](const Tensor& d_row, const Tensor& t_row) { add_flat(t_row, {&t_row, &d_row}); });
  } else {  // gather: dst[w] += table[idx[w]]
    indirect_rows(in, "dma_compute", table, op.dst, OobMode::error,
                  [&](const Tensor& t_row, const Tensor& d_row) { add_flat(d_row, {&d_row, &t_row}); });
  }
}

}  // namespace nkisim
