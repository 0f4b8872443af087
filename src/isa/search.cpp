// The Vector engine's search instructions: max8, nc_find_index8, nc_match_replace8, and its
// cross-partition move nc_stream_shuffle.
//
// Readings of the docs (0.3.0 is silent on these; later docs describe the hardware):
//  - Values compare in float32 (+0.0 == -0.0). NaN ranks above +inf in max8, and a NaN in vals
//    matches a NaN in data, so max8 -> find/replace rounds also consume NaNs.
//  - Equal values each take a max8 slot, in index order.
//  - nc_find_index8: a value repeated in vals takes successive occurrences (the first slot the
//    first occurrence); nc_match_replace8 processes slots 7..0, so among repeated vals the
//    highest slot takes the first occurrence. A value with no (further) occurrence gives an
//    index of all ones (0xFFFFFFFF / 0xFFFF) and replaces nothing.
#include <cmath>
#include <cstring>
#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

namespace {
constexpr int64_t kMinElems = 8, kMaxElems = 16384;

// a ranks strictly above b (NaN above everything else).
inline bool above(float a, float b) { return a > b || (std::isnan(a) && !std::isnan(b)); }
inline bool same(float a, float b) { return a == b || (std::isnan(a) && std::isnan(b)); }

// Scans in chunks of 32 lanes; only chunks that may matter are looked at element by element.
constexpr int64_t kChunk = 32;

// Some x[0..32) lies in [lo, hi] (NaN never does).
inline bool any_in(const float* x, float lo, float hi) {
#if defined(__AVX__)
  const __m256 l = _mm256_set1_ps(lo), h = _mm256_set1_ps(hi);
  __m256 acc = _mm256_setzero_ps();
  for (int j = 0; j < kChunk; j += 8) {
    const __m256 v = _mm256_loadu_ps(x + j);
    acc = _mm256_or_ps(acc, _mm256_and_ps(_mm256_cmp_ps(v, l, _CMP_GE_OQ), _mm256_cmp_ps(v, h, _CMP_LE_OQ)));
  }
  return _mm256_movemask_ps(acc) != 0;
#else
  int any = 0;
  for (int j = 0; j < kChunk; ++j) any |= (x[j] >= lo) & (x[j] <= hi);
  return any != 0;
#endif
}

// Maximum of x[0..len) (len <= 32), NaN if any is NaN.
inline float chunk_max(const float* x, int64_t len) {
#if defined(__AVX__)
  if (len == kChunk) {
    __m256 m = _mm256_loadu_ps(x);
    __m256 nan = _mm256_cmp_ps(m, m, _CMP_UNORD_Q);
    for (int j = 8; j < kChunk; j += 8) {
      const __m256 v = _mm256_loadu_ps(x + j);
      m = _mm256_max_ps(m, v);
      nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    }
    if (_mm256_movemask_ps(nan) != 0) return NAN;
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
    return _mm_cvtss_f32(h);
  }
#endif
  float m = x[0];
  for (int64_t j = 0; j < len; ++j) {
    if (std::isnan(x[j])) return NAN;
    m = x[j] > m ? x[j] : m;
  }
  return m;
}

// Insert v into the descending list top[0..cnt) of at most 8 (after equal values).
inline void insert8(float* top, int& cnt, float v) {
  int pos;
  if (cnt < 8) {
    pos = cnt++;
  } else {
    if (!above(v, top[7])) return;
    pos = 7;
  }
  while (pos > 0 && above(v, top[pos - 1])) {
    top[pos] = top[pos - 1];
    --pos;
  }
  top[pos] = v;
}

// The 8 largest values of x[0..n) (8 <= n <= 16384), descending; ties in index order.
// The 8th largest chunk maximum T is <= the 8th largest value, so only chunks whose maximum
// reaches T can hold one of the 8: those are scanned element by element, in order.
void top8(const float* x, int64_t n, float* top) {
  const int64_t nch = (n + kChunk - 1) / kChunk;
  float cmax[kMaxElems / kChunk];
  for (int64_t c = 0; c < nch; ++c) cmax[c] = chunk_max(x + c * kChunk, std::min(kChunk, n - c * kChunk));
  float t8[8];
  int c8 = 0;
  for (int64_t c = 0; c < nch; ++c)
    if (c8 < 8 || !(cmax[c] <= t8[7])) insert8(t8, c8, cmax[c]);
  const float T = c8 == 8 ? t8[7] : -INFINITY;  // fewer than 8 chunks: every element counts
  int cnt = 0;
  for (int64_t c = 0; c < nch; ++c) {
    if (above(T, cmax[c])) continue;
    const int64_t end = std::min(n, (c + 1) * kChunk);
    for (int64_t i = c * kChunk; i < end; ++i)
      if (!(x[i] < T)) insert8(top, cnt, x[i]);  // below T: not among the 8 (NaN: look)
  }
}

// For each slot k: the position of the (rank[k]+1)-th occurrence of v[k] in x[0..n), or -1.
void find8(const float* x, int64_t n, const float* v, const int* rank, int64_t* out) {
  int seen[8] = {};
  bool done[8] = {};
  int remaining = 8;
  bool nan = false;
  float lo = INFINITY, hi = -INFINITY;
  for (int k = 0; k < 8; ++k) {
    out[k] = -1;
    if (std::isnan(v[k])) nan = true;
    lo = std::min(lo, v[k]);
    hi = std::max(hi, v[k]);
  }
  auto visit = [&](int64_t i) {
    const float e = x[i];
    for (int k = 0; k < 8; ++k)
      if (!done[k] && same(e, v[k]) && seen[k]++ == rank[k]) {
        out[k] = i;
        done[k] = true;
        --remaining;
      }
  };
  int64_t i = 0;
  if (!nan)  // only elements within [lo, hi] can match
    for (; i + kChunk <= n && remaining > 0; i += kChunk)
      if (any_in(x + i, lo, hi))
        for (int64_t j = i; j < i + kChunk; ++j)
          if (x[j] >= lo && x[j] <= hi) visit(j);
  for (; i < n && remaining > 0; ++i) visit(i);
}

// rank[k]: how many earlier (ascending) or later (descending) slots hold the same value.
void ranks(const float* v, bool later, int* rank) {
  for (int k = 0; k < 8; ++k) {
    rank[k] = 0;
    for (int j = 0; j < 8; ++j)
      if ((later ? j > k : j < k) && same(v[j], v[k])) ++rank[k];
  }
}

// Byte address of element (r, c) of an operand.
std::byte* elem_ptr(const Rows& v, int64_t r, int64_t c) {
  std::byte* p = v.base + r * v.row_stride;
  for (int d = v.nfd - 1; d >= 0; --d) {
    p += (c % v.fcount[d]) * v.fstride[d];
    c /= v.fcount[d];
  }
  return p;
}

// Rows run on the calling thread: the per-row work is short and branchy, and handing half of
// it to the helper thread (parallel_rows) made the top-k benchmark 2-4x slower on the shared
// 2-vCPU machine (measured before and after parallel_rows stopped spin-waiting).
template <class F>
void over_rows(int64_t nrows, F&& body) {
  body(0, nrows);
}

void check_index_dst(const Check& c, std::string_view n, const Tensor& t, int64_t partitions) {
  NKISIM_REQUIRE(c, t.dtype() == DType::uint32 || t.dtype() == DType::uint16, n,
                 "index dtype must be uint32 or uint16, found " + std::string(name(t.dtype())));
  NKISIM_REQUIRE(c, t.partitions() == partitions && t.free_size() == 8, n,
                 "must have shape [" + std::to_string(partitions) +
                     ", 8] (8 indices per partition of data), found " + shape_of(t));
}

void check_searched(const Check& c, std::string_view n, const Tensor& t, const Interpreter& in) {
  c.max_partitions(n, t, in.target().partitions);
  c.not_packed(n, t);
  NKISIM_REQUIRE(c, t.ndim() <= 5, n, "may have at most 5 dimensions, found " + shape_of(t));
  NKISIM_REQUIRE(c, t.free_size() >= kMinElems && t.free_size() <= kMaxElems, n,
                 "must have between 8 and 16384 elements per partition, found " +
                     std::to_string(t.free_size()) + " (shape " + shape_of(t) + ")");
}

void check_vals(const Check& c, const Tensor& vals, const Tensor& data) {
  c.not_packed("vals", vals);
  NKISIM_REQUIRE(c, vals.ndim() <= 3, "vals", "may have at most 3 dimensions, found " + shape_of(vals));
  NKISIM_REQUIRE(c, vals.partitions() == data.partitions() && vals.free_size() == 8, "vals",
                 "must hold exactly 8 values per partition for the " +
                     std::to_string(data.partitions()) + " partitions of data, found shape " +
                     shape_of(vals));
}

// Indices of vals in data, per row, with the given duplicate order.
void search_rows(const Rows& data, const Rows& vals, int64_t r0, int64_t nr, bool later_first,
                 int64_t* pos) {
  const int64_t N = data.ncols;
  Scratch<float> v(static_cast<size_t>(nr * 8));
  load<float>(vals, r0, nr, 0, 8, v);
  Scratch<float> scratch(static_cast<size_t>(N));
  for (int64_t r = 0; r < nr; ++r) {
    const Block x = src_block(data, r0 + r, 1, 0, N, scratch);
    int rank[8];
    ranks(v + r * 8, later_first, rank);
    find8(x.p, N, v + r * 8, rank, pos + r * 8);
  }
}
}  // namespace

// ---------------------------------------------------------------- max8
void validate(const Max8Op& op, const Interpreter& in) {
  const Check c{"max8"};
  check_searched(c, "src", op.src, in);
  c.not_packed("dst", op.dst);
  NKISIM_REQUIRE(c, op.dst.partitions() == op.src.partitions() && op.dst.free_size() == 8, "dst",
                 "must have shape [" + std::to_string(op.src.partitions()) +
                     ", 8] (the 8 largest values of each partition of src), found " +
                     shape_of(op.dst));
}

void execute(Max8Op& op, Interpreter&) {
  op.dst.claim_for_overwrite({&op.src});
  const Rows s = rows_of(op.src), d = rows_of(op.dst);
  const int64_t N = s.ncols;
  std::vector<float> tops(static_cast<size_t>(s.nrows * 8));
  over_rows(s.nrows, [&](int64_t ra, int64_t rb) {
    Scratch<float> scratch(static_cast<size_t>(N));
    for (int64_t r = ra; r < rb; ++r) top8(src_block(s, r, 1, 0, N, scratch).p, N, &tops[r * 8]);
  });
  store<float>(d, 0, d.nrows, 0, 8, tops.data());
}

// ---------------------------------------------------------------- nc_find_index8
void validate(const FindIndex8Op& op, const Interpreter& in) {
  const Check c{"nc_find_index8"};
  check_searched(c, "data", op.data, in);
  check_vals(c, op.vals, op.data);
  check_index_dst(c, "dst", op.dst, op.data.partitions());
}

void execute(FindIndex8Op& op, Interpreter&) {
  op.dst.claim_for_overwrite({&op.data, &op.vals});
  const Rows a = rows_of(op.data), v = rows_of(op.vals), d = rows_of(op.dst);
  std::vector<int64_t> pos(static_cast<size_t>(a.nrows * 8));
  over_rows(a.nrows, [&](int64_t ra, int64_t rb) {
    search_rows(a, v, ra, rb - ra, false, &pos[ra * 8]);
  });
  store<int64_t>(d, 0, d.nrows, 0, 8, pos.data());  // -1 wraps to all ones
}

// ---------------------------------------------------------------- nc_match_replace8
void validate(const MatchReplace8Op& op, const Interpreter& in) {
  const Check c{"nc_match_replace8"};
  check_searched(c, "data", op.data, in);
  check_vals(c, op.vals, op.data);
  c.not_packed("dst", op.dst);
  c.same_layout("dst", op.dst, "data", op.data);
  if (op.dst_idx) check_index_dst(c, "dst_idx", *op.dst_idx, op.data.partitions());
}

void execute(MatchReplace8Op& op, Interpreter&) {
  const Rows a = rows_of(op.data), v = rows_of(op.vals), d = rows_of(op.dst);
  const int64_t P = a.nrows, N = a.ncols;
  std::vector<int64_t> pos(static_cast<size_t>(P * 8));
  over_rows(P, [&](int64_t ra, int64_t rb) {
    search_rows(a, v, ra, rb - ra, true, &pos[ra * 8]);
  });
  // dst = data (raw when the dtypes agree, skipped when it is the same view), then imm.
  const bool in_place = a.base == d.base && a.row_stride == d.row_stride && a.nfd == d.nfd &&
                        std::equal(a.fstride, a.fstride + a.nfd, d.fstride) &&
                        std::equal(a.fcount, a.fcount + a.nfd, d.fcount) && a.dtype == d.dtype;
  if (!in_place) {
    op.dst.claim_for_overwrite({&op.data, &op.vals});
    over_rows(P, [&](int64_t ra, int64_t rb) {
      for (int64_t r = ra; r < rb; ++r) {
        if (a.dtype == d.dtype) {
          Scratch<std::byte> raw(static_cast<size_t>(N * a.es));
          gather_raw(a, r, 1, 0, N, raw);
          scatter_raw(d, r, 1, 0, N, raw);
        } else {
          Scratch<float> f(static_cast<size_t>(N));
          load<float>(a, r, 1, 0, N, f);
          store<float>(d, r, 1, 0, N, f);
        }
      }
    });
  }
  const float imm = static_cast<float>(op.imm.value);
  std::byte bytes[8];
  from_f32(d.dtype, &imm, bytes, 1);
  for (int64_t r = 0; r < P; ++r)
    for (int k = 0; k < 8; ++k)
      if (pos[r * 8 + k] >= 0) std::memcpy(elem_ptr(d, r, pos[r * 8 + k]), bytes, d.es);
  if (op.dst_idx) {
    const Rows di = rows_of(*op.dst_idx);
    store<int64_t>(di, 0, di.nrows, 0, 8, pos.data());
  }
}

// ---------------------------------------------------------------- nc_stream_shuffle
namespace {
constexpr int64_t kQuadrant = 32, kKeep = 255;
}  // namespace

void validate(const StreamShuffleOp& op, const Interpreter& in) {
  const Check c{"nc_stream_shuffle"};
  c.max_partitions("src", op.src, in.target().partitions);
  c.max_partitions("dst", op.dst, in.target().partitions);
  NKISIM_REQUIRE(c, op.dst.dtype() == op.src.dtype(), "dst",
                 "dtype must equal src dtype " + std::string(name(op.src.dtype())) + ", found " +
                     std::string(name(op.dst.dtype())));
  NKISIM_REQUIRE(c, op.dst.free_size() == op.src.free_size(), "dst",
                 "must have as many elements per partition as src (" +
                     std::to_string(op.src.free_size()) + ", shape " + shape_of(op.src) +
                     "), found " + std::to_string(op.dst.free_size()) + " (shape " +
                     shape_of(op.dst) + ")");
  const auto& m = op.shuffle_mask;
  NKISIM_REQUIRE(c, static_cast<int64_t>(m.size()) == kQuadrant, "shuffle_mask",
                 "must have exactly 32 entries (one per partition of a quadrant), found " +
                     std::to_string(m.size()));
  for (size_t i = 0; i < m.size(); ++i)
    NKISIM_REQUIRE(c, (m[i] >= 0 && m[i] < kQuadrant) || m[i] == kKeep, "shuffle_mask",
                   "entry " + std::to_string(i) + " must be a source partition in [0, 32) or 255 "
                   "(leave the destination partition unchanged), found " + std::to_string(m[i]));
  const int64_t S = op.src.partitions(), D = op.dst.partitions();
  const int64_t active = (std::max(S, D) + kQuadrant - 1) / kQuadrant * kQuadrant;
  for (auto [n, t] : {Named{"src", &op.src}, Named{"dst", &op.dst}}) {
    const int64_t start = lane0_of(*t);
    const bool ok = active > 64 ? start == 0 : active > 32 ? start % 64 == 0 : start % 32 == 0;
    NKISIM_REQUIRE(c, ok, n,
                   "starts at partition " + std::to_string(start) + ", but with " +
                       std::to_string(active) + " active partitions (max(src " + std::to_string(S) +
                       ", dst " + std::to_string(D) + ") rounded up to a quadrant of 32) it must "
                       "start at " + (active > 64 ? "partition 0" : active > 32 ? "partition 0 or 64"
                                                                                  : "partition 0, 32, 64 or 96"));
  }
  for (int64_t p = 0; p < D; ++p) {
    const int64_t k = m[p % kQuadrant];
    if (k == kKeep) continue;
    const int64_t s = p / kQuadrant * kQuadrant + k;
    NKISIM_REQUIRE(c, s < S, "shuffle_mask",
                   "entry " + std::to_string(p % kQuadrant) + " = " + std::to_string(k) +
                       " makes dst partition " + std::to_string(p) + " read src partition " +
                       std::to_string(s) + ", but src has " + std::to_string(S) +
                       " partitions (shape " + shape_of(op.src) + ")");
  }
}

void execute(StreamShuffleOp& op, Interpreter&) {
  const Rows s = rows_of(op.src), d = rows_of(op.dst);
  const int64_t S = s.nrows, D = d.nrows, F = s.ncols, es = s.es;
  // Read every source partition first (in-place shuffles), then write the moved partitions.
  Scratch<std::byte> in(static_cast<size_t>(S * F * es));
  gather_raw(s, 0, S, 0, F, in);
  for (int64_t p = 0; p < D; ++p) {
    const int64_t k = op.shuffle_mask[p % kQuadrant];
    if (k == kKeep) continue;
    scatter_raw(d, p, 1, 0, F, in + (p / kQuadrant * kQuadrant + k) * F * es);
  }
}

}  // namespace nkisim
