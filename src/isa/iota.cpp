// nisa.iota: dst[p, w, z, y, x] = offset + p * channel_multiplier + sum(index * step), as int32.
#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

void validate(const IotaOp& op, const Interpreter& in) {
  const Check c{"iota"};
  c.buffer_in("dst", op.dst, kSbuf, in);
  c.writable("dst", op.dst);
  c.max_partitions("dst", op.dst, in.target().partitions);
  c.not_packed("dst", op.dst);
  NKISIM_REQUIRE(c, !op.pattern.empty() && op.pattern.size() <= 4, "pattern",
            "needs 1 to 4 [step, num] pairs, found " + std::to_string(op.pattern.size()));
  int64_t n = 1;
  for (auto [step, num] : op.pattern) {
    NKISIM_REQUIRE(c, num >= 1, "pattern", "every num must be >= 1, found " + std::to_string(num));
    n *= num;
  }
  NKISIM_REQUIRE(c, n == op.dst.free_size(), "pattern",
            "describes " + std::to_string(n) + " elements per partition but dst " +
                shape_of(op.dst) + " has " + std::to_string(op.dst.free_size()));
}

void execute(IotaOp& op, Interpreter&) {
  op.dst.claim_for_overwrite({});
  const Rows d = rows_of(op.dst);
  const int64_t P = d.nrows, N = d.ncols;
  // One partition's affine values (int32 arithmetic), then per partition a shift.
  std::vector<int64_t> base(static_cast<size_t>(N));
  {
    int64_t idx = 0;
    std::vector<int64_t> it(op.pattern.size(), 0);
    for (int64_t e = 0; e < N; ++e) {
      int64_t v = op.offset;
      for (size_t k = 0; k < op.pattern.size(); ++k) v += it[k] * op.pattern[k].first;
      base[idx++] = v;
      for (int k = static_cast<int>(op.pattern.size()) - 1; k >= 0; --k) {
        if (++it[k] < op.pattern[k].second) break;
        it[k] = 0;
      }
    }
  }
  const bool ints = is_int(d.dtype);
  for_blocks(P, N, [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
    Scratch<int64_t> v(nr * nc);
    for (int64_t r = 0; r < nr; ++r)
      for (int64_t j = 0; j < nc; ++j)
        v[r * nc + j] = static_cast<int32_t>(static_cast<uint32_t>(
            base[c0 + j] + (r0 + r) * op.channel_multiplier));
    if (ints) {
      store<int64_t>(d, r0, nr, c0, nc, v);
    } else {
      Scratch<float> f(nr * nc);
      for (int64_t i = 0; i < nr * nc; ++i) f[i] = static_cast<float>(v[i]);
      store<float>(d, r0, nr, c0, nc, f);
    }
  });
}

}  // namespace nkisim
