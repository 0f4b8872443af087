// nisa.dma_copy: dst = src between HBM and SBUF, elements matched in row-major order of each view;
// equal dtypes move bytes, different dtypes convert through float32.
#include <cstring>

#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

void validate(const DmaCopyOp& op, const Interpreter& in) {
  const Check c{"dma_copy"};
  if (op.src.buffer() == Buffer::psum)
    c.fail("src", "cannot be in psum: DMA does not read PSUM in NKI 0.3.0; copy it to sbuf with "
                  "nisa.tensor_copy first");
  c.buffer_in("src", op.src, kSbuf | kHbm, in);
  c.buffer_in("dst", op.dst, kSbuf | kHbm, in);
  c.writable("dst", op.dst);
  NKISIM_REQUIRE(c, op.dst.size() == op.src.size(), "dst",
            "holds " + std::to_string(op.dst.size()) + " elements (shape " + shape_of(op.dst) +
                ") but src holds " + std::to_string(op.src.size()) + " (shape " +
                shape_of(op.src) + "); element counts must match");
  if (op.dst.dtype() != op.src.dtype()) {
    NKISIM_REQUIRE(c, op.dge_mode != DgeMode::hwdge, "dge_mode",
              "hwdge copies bytes and needs equal dtypes, found src " +
                  std::string(name(op.src.dtype())) + " and dst " +
                  std::string(name(op.dst.dtype())) + " (use .view() or swdge to cast)");
    NKISIM_REQUIRE(c, !is_packed(op.src.dtype()) && !is_packed(op.dst.dtype()), "dst",
              "packed x4 dtypes cannot be cast by DMA (found src " + std::string(name(op.src.dtype())) +
                  ", dst " + std::string(name(op.dst.dtype())) + ")");
  }
  if (op.dge_mode == DgeMode::hwdge)
    NKISIM_REQUIRE(c, in.target().gen != Gen::gen2, "dge_mode", "hwdge needs trn2 or newer");
  if (op.engine != Engine::unknown) {
    NKISIM_REQUIRE(c, op.dge_mode == DgeMode::hwdge, "engine",
              "a trigger engine is only valid with dge_mode=hwdge");
    c.engine_in(op.engine, {Engine::sync, Engine::scalar});
  }
}

namespace {
OobMode oob_mode_of_op(const DmaCopyOp& op) { return op.oob_mode; }

// Both views walk the same collapsed dims with contiguous innermost runs: copy runs directly.
bool same_runs(const Rows& a, const Rows& b) {
  if (a.nfd != b.nfd || a.fstride[a.nfd - 1] != a.es || b.fstride[b.nfd - 1] != b.es) return false;
  for (int i = 0; i < a.nfd; ++i)
    if (a.fcount[i] != b.fcount[i]) return false;
  return true;
}
}  // namespace

void execute(DmaCopyOp& op, Interpreter& in) {
  if (op.src.is_dynamic() || op.dst.is_dynamic()) {  // vector_offset: gather / scatter (issue 9)
    indirect_rows(in, "dma_copy", op.src, op.dst, oob_mode_of_op(op),
                  [&](const Tensor& s, const Tensor& d) {
                    DmaCopyOp row = op;
                    row.src = s;
                    row.dst = d;
                    execute(row, in);
                  });
    return;
  }
  op.dst.claim_for_overwrite({&op.src});
  const Rows d = flat_of(op.dst), s = flat_of(op.src);
  const int64_t n = d.ncols;
  if (op.dst.dtype() == op.src.dtype() && same_runs(d, s)) {
    // Outer index space: every dim but the innermost; each index is one memcpy of a run.
    const int last = d.nfd - 1;
    const int64_t run = d.fcount[last] * d.es;
    const int64_t outer = n / d.fcount[last];
    auto body = [&](int64_t a, int64_t b) {
      for (int64_t o = a; o < b; ++o) {
        int64_t rem = o, doff = 0, soff = 0;
        for (int k = last - 1; k >= 0; --k) {
          const int64_t i = rem % d.fcount[k];
          rem /= d.fcount[k];
          doff += i * d.fstride[k];
          soff += i * s.fstride[k];
        }
        std::memcpy(d.base + doff, s.base + soff, run);
      }
    };
    if (n * d.es >= (int64_t{1} << 18) && outer >= 2) parallel_rows(outer, n * d.es, body);
    else body(0, outer);
    return;
  }
  // General case: stage blocks of elements in flat order.
  for (int64_t c0 = 0; c0 < n; c0 += kBlockElems) {
    const int64_t nc = std::min(kBlockElems, n - c0);
    if (op.dst.dtype() == op.src.dtype()) {
      Scratch<std::byte> raw(static_cast<size_t>(nc) * d.es);
      gather_raw(s, 0, 1, c0, nc, raw);
      scatter_raw(d, 0, 1, c0, nc, raw);
    } else {
      Scratch<float> x(nc);
      load<float>(s, 0, 1, c0, nc, x);
      store<float>(d, 0, 1, c0, nc, x);
    }
  }
}

}  // namespace nkisim
