// nisa.bn_stats: (count, mean, variance * count) of the even- and of the odd-indexed elements
// of each partition. nisa.bn_aggr: combine such triples into (mean, variance) per partition.
#include <cmath>

#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

namespace {
constexpr int64_t kBnStatsFmax = 512;  // nl.tile_size.bn_stats_fmax
}

void validate(const BnStatsOp& op, const Interpreter& in) {
  const Check c{"bn_stats"};
  c.buffer_in("dst", op.dst, kOnChip, in);
  c.buffer_in("data", op.data, kOnChip, in);
  c.writable("dst", op.dst);
  c.max_partitions("data", op.data, in.target().partitions);
  c.not_packed("data", op.data);
  c.not_packed("dst", op.dst);
  NKISIM_REQUIRE(c, op.dst.partitions() == op.data.partitions(), "dst",
                 "partition dimension " + std::to_string(op.dst.partitions()) +
                     " must equal that of data, " + std::to_string(op.data.partitions()));
  NKISIM_REQUIRE(c, op.data.free_size() <= kBnStatsFmax, "data",
                 "at most 512 elements per partition (nl.tile_size.bn_stats_fmax), found " +
                     std::to_string(op.data.free_size()) + " (shape " + shape_of(op.data) + ")");
  NKISIM_REQUIRE(c, op.dst.free_size() == 6, "dst",
                 "must hold 6 elements per partition (count, mean, var*count of the even and of "
                 "the odd elements), found shape " + shape_of(op.dst));
}

void execute(BnStatsOp& op, Interpreter&) {
  op.dst.claim_for_overwrite({&op.data});
  const Rows d = rows_of(op.dst), a = rows_of(op.data);
  const int64_t P = a.nrows, N = a.ncols;
  for_rows(P, N, [&](int64_t r0, int64_t nr) {
    Scratch<float> scr1(nr * N);
    const Block x = src_block(a, r0, nr, 0, N, scr1);
    Scratch<float> scr2(nr * 6);
    float* o = scr2;
    for (int64_t r = 0; r < nr; ++r) {
      const float* xr = x.row(r);
      for (int half = 0; half < 2; ++half) {
        const int64_t cnt = half == 0 ? (N + 1) / 2 : N / 2;
        float sum = 0.f;
        for (int64_t j = half; j < N; j += 2) sum += xr[j];
        const float mean = cnt ? sum / static_cast<float>(cnt) : 0.f;
        float m2 = 0.f;
        for (int64_t j = half; j < N; j += 2) m2 += (xr[j] - mean) * (xr[j] - mean);
        o[r * 6 + half * 3 + 0] = static_cast<float>(cnt);
        o[r * 6 + half * 3 + 1] = mean;
        o[r * 6 + half * 3 + 2] = m2;
      }
    }
    store<float>(d, r0, nr, 0, 6, o);
  });
}

void validate(const BnAggrOp& op, const Interpreter& in) {
  const Check c{"bn_aggr"};
  c.buffer_in("dst", op.dst, kOnChip, in);
  c.buffer_in("data", op.data, kOnChip, in);
  c.writable("dst", op.dst);
  c.max_partitions("data", op.data, in.target().partitions);
  c.not_packed("data", op.data);
  c.not_packed("dst", op.dst);
  NKISIM_REQUIRE(c, op.dst.partitions() == op.data.partitions(), "dst",
                 "partition dimension " + std::to_string(op.dst.partitions()) +
                     " must equal that of data, " + std::to_string(op.data.partitions()));
  NKISIM_REQUIRE(c, op.data.free_size() % 3 == 0, "data",
                 "elements per partition must be a multiple of 3 ((count, mean, var*count) "
                 "triples from bn_stats), found " + std::to_string(op.data.free_size()) +
                     " (shape " + shape_of(op.data) + ")");
  NKISIM_REQUIRE(c, op.dst.free_size() == 2, "dst",
                 "must hold 2 elements per partition (mean, variance), found shape " +
                     shape_of(op.dst));
}

void execute(BnAggrOp& op, Interpreter&) {
  op.dst.claim_for_overwrite({&op.data});
  const Rows d = rows_of(op.dst), a = rows_of(op.data);
  const int64_t P = a.nrows, N = a.ncols, K = N / 3;
  for_rows(P, N, [&](int64_t r0, int64_t nr) {
    Scratch<float> scr3(nr * N);
    const Block x = src_block(a, r0, nr, 0, N, scr3);
    Scratch<float> scr4(nr * 2);
    float* o = scr4;
    for (int64_t r = 0; r < nr; ++r) {
      const float* t = x.row(r);
      float n = 0.f, s = 0.f;
      for (int64_t k = 0; k < K; ++k) {
        n += t[3 * k];
        s += t[3 * k] * t[3 * k + 1];
      }
      const float mean = n > 0.f ? s / n : 0.f;
      float m2 = 0.f;
      for (int64_t k = 0; k < K; ++k) {
        const float dm = t[3 * k + 1] - mean;
        m2 += t[3 * k + 2] + t[3 * k] * dm * dm;
      }
      o[r * 2] = mean;
      o[r * 2 + 1] = n > 0.f ? m2 / n : 0.f;
    }
    store<float>(d, r0, nr, 0, 2, o);
  });
}

}  // namespace nkisim
