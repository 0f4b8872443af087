// nisa.quantize_mx and nisa.nc_matmul_mx: OCP microscaling (MXFP8 / MXFP4) on trn3.
//
// Layout (NKI docs: quantize_mx, nc_matmul_mx, the trn3 architecture guide, the MX deep dive):
//  - A scaling group is 32 values: 8 partitions x the 4 values of one x4 element (4 consecutive free
//    elements of the unquantized tile). Group (g, c) covers data partitions 8g..8g+7, x4 column c.
//  - Its E8M0 scale byte sits in the quadrant of its data: scale partition (g / 4) * 32 + g % 4,
//    column c, counted from the scale tile's first partition. So data of P partitions needs
//    P / 8 scale partitions when P <= 32, and (P / 32 - 1) * 32 + 4 otherwise (the deep dive
//    allocates [P, F / 4]); the scale tile may start at offset 0, 4, 8 or 12 of its quadrant (packed
//    scales), in the quadrant where the data starts.
//  - quantize_mx (OCP sample algorithm, as the deep dive's golden): scale = max over the group of
//    the float32 biased exponent, minus emax of the element type (8 for e4m3fn, 15 for e5m2),
//    clamped at 0; values are divided by 2^(scale - 127), clipped to +-max finite and rounded to
//    nearest even.
//  - nc_matmul_mx: value * 2^(scale - 127) (scale 255 = NaN), products and sums in float32,
//    dst[M, N] (+)= A.T @ B over K = 4 x partitions; accumulate as in nc_matmul.
#include <Eigen/Core>
#include <algorithm>
#include <bit>
#include <cstring>

#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

namespace {

bool is_mx(DType t) {
  return t == DType::float8_e5m2_x4 || t == DType::float8_e4m3fn_x4 || t == DType::float4_e2m1fn_x4;
}

int64_t abs_partition(const Tensor& t) {
  return t.allocation().start_partition + t.start_partition();
}

// Scale partition (relative to the scale tile) of group g.
inline int64_t scale_row(int64_t g) { return (g / 4) * 32 + g % 4; }

int64_t scale_partitions_needed(int64_t P) { return P <= 32 ? P / 8 : (P / 32 - 1) * 32 + 4; }

void check_data_partitions(const Check& c, std::string_view operand, const Tensor& t) {
  const int64_t P = t.partitions();
  NKISIM_REQUIRE(c, P % 32 == 0 && P >= 32 && P <= 128, operand,
                 "partition dimension must be a multiple of 32 and at most 128 (scaling groups of "
                 "8 partitions x 4 values, per 32-partition quadrant), found " + shape_of(t));
}

// The scale tile of data `data` (P partitions, `cols` x4 columns).
void check_scale(const Check& c, std::string_view operand, const Tensor& scale,
                 std::string_view data_name, const Tensor& data, int64_t cols) {
  NKISIM_REQUIRE(c, scale.dtype() == DType::uint8, operand,
                 "scales must be uint8 (E8M0 exponents), found " + std::string(name(scale.dtype())));
  const int64_t P = data.partitions();
  const int64_t need = scale_partitions_needed(P);
  NKISIM_REQUIRE(c, scale.partitions() >= need, operand,
                 "the scales of " + std::string(data_name) + " (" + std::to_string(P) +
                     " partitions) sit in partitions q*32 + 0..3 of each data quadrant q, so the "
                     "scale tile needs at least " + std::to_string(need) +
                     " partitions ([P//8, F] for P <= 32, [P, F] otherwise), found " + shape_of(scale));
  NKISIM_REQUIRE(c, scale.free_size() == cols, operand,
                 "needs one scale per x4 column of " + std::string(data_name) + ": free size " +
                     std::to_string(cols) + ", found " + shape_of(scale));
  const int64_t s0 = abs_partition(scale), d0 = abs_partition(data);
  NKISIM_REQUIRE(c, s0 % 32 <= 12 && s0 % 4 == 0, operand,
                 "must start at partition offset 0, 4, 8 or 12 of an SBUF quadrant (scales of a "
                 "group stay in its quadrant), found start partition " + std::to_string(s0));
  NKISIM_REQUIRE(c, s0 / 32 == d0 / 32, operand,
                 "scales must sit in the quadrant of their data: " + std::string(data_name) +
                     " starts at partition " + std::to_string(d0) + " (quadrant " +
                     std::to_string(d0 / 32) + "), the scale tile at partition " +
                     std::to_string(s0) + " (quadrant " + std::to_string(s0 / 32) + ")");
}

// 2^(s - 127) as a float (E8M0; 255 = NaN).
inline float e8m0(uint8_t s) {
  if (s == 255) return std::bit_cast<float>(0x7fc00000u);
  if (s == 0) return std::bit_cast<float>(0x00400000u);  // 2^-127
  return std::bit_cast<float>(uint32_t(s) << 23);
}

// Dequantize K rows of C x4 elements (raw, contiguous) with the group scales sc [K / 8, C] into
// out[(4k + q) * C + c] (contraction-major rows).
void dequantize_raw(DType t, const std::byte* raw, const uint8_t* sc, int64_t K, int64_t C,
                    int64_t es, float* out) {
  Scratch<float> vals(4 * C), fac(C);
  for (int64_t k = 0; k < K; ++k) {
    if (k % 8 == 0)
      for (int64_t c = 0; c < C; ++c) fac[c] = e8m0(sc[(k / 8) * C + c]);
    x4_to_f32(t, raw + k * C * es, vals, static_cast<size_t>(C));
    float* r0 = out + (4 * k) * C;
    for (int64_t c = 0; c < C; ++c) {
      const float f = fac[c];
      const float* v = vals + 4 * c;
      r0[c] = v[0] * f;
      r0[C + c] = v[1] * f;
      r0[2 * C + c] = v[2] * f;
      r0[3 * C + c] = v[3] * f;
    }
  }
}

// Dequantized operands of recent instructions on this thread, keyed by their exact bytes: a
// kernel that multiplies the same quantized tile many times (a moving tile against every
// stationary tile) dequantizes it once. A hit is decided by comparing the operand's raw data
// and scale bytes with the cached copy (memcmp), so it is exact whatever wrote the memory.
struct DequantEntry {
  DType t = DType::uint8;
  int64_t K = 0, C = 0;
  std::vector<std::byte> raw;
  std::vector<uint8_t> scales;
  std::vector<float> out;
  uint64_t used = 0;
};
struct DequantCache {
  std::vector<DequantEntry> entries;
};
constexpr size_t kCacheEntries = 24;  // up to ~32 MB per thread
constexpr size_t kCacheMinElems = 4096;  // small operands: dequantizing is cheaper than looking up

// `fallback` (4 * K * C floats, owned by the caller) receives the result when it is not cached.
const float* dequantized(const Tensor& data, const Tensor& scale, uint64_t stamp, float* fallback) {
  const Rows d = rows_of(data), s = rows_of(scale);
  const int64_t K = d.nrows, C = d.ncols, es = d.es;
  const DType t = data.dtype();
  const size_t nraw = static_cast<size_t>(K * C * es), nsc = static_cast<size_t>(K / 8 * C);
  thread_local DequantCache cache;
  const bool cached = static_cast<size_t>(K * C) >= kCacheMinElems;
  Scratch<std::byte> raw(nraw);
  Scratch<uint8_t> sc(nsc);
  gather_raw(d, 0, K, 0, C, raw);
  for (int64_t g = 0; g < K / 8; ++g) gather_raw(s, scale_row(g), 1, 0, C, sc + g * C);
  if (cached) {
    for (auto& e : cache.entries)
      if (e.t == t && e.K == K && e.C == C && std::memcmp(e.raw.data(), raw, nraw) == 0 &&
          std::memcmp(e.scales.data(), sc, nsc) == 0) {
        e.used = stamp;
        return e.out.data();
      }
  }
  DequantEntry* slot = nullptr;
  if (cached && cache.entries.size() < kCacheEntries) {
    cache.entries.reserve(kCacheEntries);  // entries never move: returned pointers stay valid
    slot = &cache.entries.emplace_back();
  } else if (cached) {  // the least recently used entry that this instruction does not hold
    for (auto& e : cache.entries)
      if (e.used + 1 < stamp && (slot == nullptr || e.used < slot->used)) slot = &e;
  }
  if (slot == nullptr) {
    dequantize_raw(t, raw, sc, K, C, es, fallback);
    return fallback;
  }
  slot->t = t;
  slot->K = K;
  slot->C = C;
  slot->raw.assign(raw.get(), raw.get() + nraw);
  slot->scales.assign(sc.get(), sc.get() + nsc);
  slot->out.resize(static_cast<size_t>(4 * K * C));
  slot->used = stamp;
  dequantize_raw(t, raw, sc, K, C, es, slot->out.data());
  return slot->out.data();
}

uint64_t next_stamp() {
  thread_local uint64_t clock = 0;
  return ++clock;
}


using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace

// ---------------------------------------------------------------- quantize_mx
void validate(const QuantizeMxOp& op, const Interpreter& in) {
  const Check c{"quantize_mx"};
  c.writable("dst", op.dst);
  c.writable("dst_scale", op.dst_scale);
  const DType ts = op.src.dtype(), td = op.dst.dtype();
  NKISIM_REQUIRE(c, ts == DType::bfloat16 || ts == DType::float16, "src",
                 "dtype must be float16 or bfloat16, found " + std::string(name(ts)));
  NKISIM_REQUIRE(c, td == DType::float8_e5m2_x4 || td == DType::float8_e4m3fn_x4, "dst",
                 "dtype must be float8_e5m2_x4 or float8_e4m3fn_x4 (quantize_mx does not produce "
                 "float4_e2m1fn_x4), found " + std::string(name(td)));
  check_data_partitions(c, "src", op.src);
  const int64_t F = op.src.free_size();
  NKISIM_REQUIRE(c, F % 4 == 0, "src",
                 "free size must be a multiple of 4 (4 values pack into one x4 element), found " +
                     shape_of(op.src));
  NKISIM_REQUIRE(c, op.dst.partitions() == op.src.partitions() && op.dst.free_size() == F / 4, "dst",
                 "must have src's partitions and 1/4 of its free size (" +
                     std::to_string(op.src.partitions()) + " x " + std::to_string(F / 4) +
                     " x4 elements), found " + shape_of(op.dst));
  check_scale(c, "dst_scale", op.dst_scale, "src", op.src, F / 4);
  (void)in;
}

void execute(QuantizeMxOp& op, Interpreter&) {
  op.dst.claim_for_overwrite({&op.src});
  const Rows s = rows_of(op.src), d = rows_of(op.dst), sc = rows_of(op.dst_scale);
  const DType td = op.dst.dtype();
  const int64_t P = s.nrows, F = s.ncols, C = F / 4;
  const int emax = td == DType::float8_e4m3fn_x4 ? 8 : 15;
  const float maxv = td == DType::float8_e4m3fn_x4 ? 448.f : 57344.f;
  auto group_rows = [&](int64_t ga, int64_t gb) {
    Scratch<float> x_lanes(8 * F), inv_lanes(F);
    Scratch<uint8_t> q_lanes(static_cast<size_t>(8 * F)), scale_lanes(static_cast<size_t>(C));
    Scratch<uint32_t> ebit_lanes(static_cast<size_t>(F));
    float *x = x_lanes, *inv = inv_lanes;
    uint8_t *q = q_lanes, *scales = scale_lanes;
    uint32_t* ebits = ebit_lanes;
    for (int64_t g = ga; g < gb; ++g) {
      load<float>(s, 8 * g, 8, 0, F, x);
      // Exponent field of each column's largest value over the 8 partitions (flat, vectorizable),
      // then the max of each 4 consecutive columns.
      std::fill(ebits, ebits + F, 0u);
      for (int64_t r = 0; r < 8; ++r) {
        const float* xr = x + r * F;
        for (int64_t i = 0; i < F; ++i)
          ebits[i] = std::max(ebits[i], std::bit_cast<uint32_t>(xr[i]) & 0x7f800000u);
      }
      for (int64_t cc = 0; cc < C; ++cc) {
        const uint32_t m = std::max(std::max(ebits[4 * cc], ebits[4 * cc + 1]),
                                    std::max(ebits[4 * cc + 2], ebits[4 * cc + 3])) >> 23;
        const int sv = std::max(0, static_cast<int>(m) - emax);
        scales[cc] = static_cast<uint8_t>(sv);
        // 1 / 2^(sv - 127) = 2^(127 - sv), exact for sv in [0, 254]; 2^127 at most.
        const float f = std::bit_cast<float>(uint32_t(254 - sv) << 23);
        inv[4 * cc] = inv[4 * cc + 1] = inv[4 * cc + 2] = inv[4 * cc + 3] = f;
      }
      for (int64_t r = 0; r < 8; ++r) {
        float* xr = x + r * F;
        // Exact power-of-two scaling, then saturation (NaN stays NaN through max/min).
        for (int64_t i = 0; i < F; ++i) xr[i] = std::min(std::max(xr[i] * inv[i], -maxv), maxv);
        x4_from_f32(td, xr, q + r * F, static_cast<size_t>(C));
      }
      scatter_raw(d, 8 * g, 8, 0, C, q);
      scatter_raw(sc, scale_row(g), 1, 0, C, scales);
    }
  };
  const int64_t groups = P / 8;
  if (P * F < (int64_t{1} << 16)) group_rows(0, groups);
  else parallel_rows(groups, P * F, group_rows);
}

// ---------------------------------------------------------------- nc_matmul_mx
void validate(const MatmulMxOp& op, const Interpreter& in) {
  const Check c{"nc_matmul_mx"};
  c.writable("dst", op.dst);
  const DType ts = op.stationary.dtype(), tm = op.moving.dtype(), td = op.dst.dtype();
  NKISIM_REQUIRE(c, is_mx(ts), "stationary",
                 "dtype must be float8_e5m2_x4, float8_e4m3fn_x4 or float4_e2m1fn_x4, found " +
                     std::string(name(ts)));
  NKISIM_REQUIRE(c, is_mx(tm), "moving",
                 "dtype must be float8_e5m2_x4, float8_e4m3fn_x4 or float4_e2m1fn_x4, found " +
                     std::string(name(tm)));
  NKISIM_REQUIRE(c, td == DType::float32 || td == DType::bfloat16, "dst",
                 "dtype must be float32 or bfloat16, found " + std::string(name(td)));
  check_data_partitions(c, "stationary", op.stationary);
  const int64_t K = op.stationary.partitions();
  NKISIM_REQUIRE(c, op.moving.partitions() == K, "moving",
                 "partition (contraction) dimension " + std::to_string(op.moving.partitions()) +
                     " must equal stationary's " + std::to_string(K));
  const int64_t M = op.stationary.free_size(), N = op.moving.free_size();
  NKISIM_REQUIRE(c, M % 2 == 0 && M <= 128, "stationary",
                 "free size must be even and at most 128, found " + shape_of(op.stationary));
  const int64_t nmax = td == DType::float32 ? 512 : 1024;
  NKISIM_REQUIRE(c, N <= nmax, "moving",
                 "free size " + std::to_string(N) + " exceeds " + std::to_string(nmax) + " for a " +
                     std::string(name(td)) + " dst");
  NKISIM_REQUIRE(c, op.dst.partitions() == M && op.dst.free_size() == N, "dst",
                 "must have shape [" + std::to_string(M) + ", " + std::to_string(N) +
                     "] (stationary free x moving free), found " + shape_of(op.dst));
  check_scale(c, "stationary_scale", op.stationary_scale, "stationary", op.stationary, M);
  check_scale(c, "moving_scale", op.moving_scale, "moving", op.moving, N);
  if (!op.tile_position.empty() || !op.tile_size.empty()) {
    NKISIM_REQUIRE(c, op.tile_position.size() == 2 && op.tile_size.size() == 2, "tile_position",
                   "tile_position and tile_size must both be given as (row, column) pairs");
    const int64_t rs = op.tile_size[0];
    NKISIM_REQUIRE(c, rs == 128 || rs == 64 || rs == 32, "tile_size",
                   "row size must be 128, 64 or 32, found " + std::to_string(rs));
    NKISIM_REQUIRE(c, op.tile_size[1] == 128, "tile_size",
                   "column size must be 128 (nc_matmul_mx tiles rows only), found " +
                       std::to_string(op.tile_size[1]));
    NKISIM_REQUIRE(c, op.tile_position[1] == 0, "tile_position",
                   "start column must be 0, found " + std::to_string(op.tile_position[1]));
    const int64_t st = op.tile_position[0];
    NKISIM_REQUIRE(c, st >= 0 && st < 128 && st % rs == 0, "tile_position",
                   "start row " + std::to_string(st) + " must be a multiple of the row size " +
                       std::to_string(rs) + " below 128");
    NKISIM_REQUIRE(c, K <= rs, "stationary",
                   "partition size " + std::to_string(K) + " exceeds the tile row size " +
                       std::to_string(rs));
  }
  (void)in;
}

void execute(MatmulMxOp& op, Interpreter&) {
  const Rows d = rows_of(op.dst);
  const int64_t K4 = 4 * op.stationary.partitions();
  const int64_t M = d.nrows, N = d.ncols;
  const uint64_t stamp = next_stamp();
  Scratch<float> a_lanes(static_cast<size_t>(4 * op.stationary.size())),
      b_lanes(static_cast<size_t>(4 * op.moving.size()));
  const float* A = dequantized(op.stationary, op.stationary_scale, 2 * stamp, a_lanes);
  const float* B = dequantized(op.moving, op.moving_scale, 2 * stamp + 1, b_lanes);
  Eigen::Map<const RowMat> Am(A, K4, M), Bm(B, K4, N);

  const WrittenState w = op.accumulate ? (*op.accumulate ? WrittenState::all : WrittenState::none)
                                       : written_state(d);
  const bool in_place = d.dtype == DType::float32 && d.contiguous && w != WrittenState::some &&
                        reinterpret_cast<uintptr_t>(d.base) % 4 == 0 && d.row_stride % 4 == 0;
  using OutMap = Eigen::Map<RowMat, 0, Eigen::OuterStride<>>;
  Scratch<float> r_lanes(M * N);
  float* R = in_place ? reinterpret_cast<float*>(d.base) : r_lanes.get();
  OutMap Rm(R, M, N, Eigen::OuterStride<>(in_place ? d.row_stride / 4 : N));
  const bool add = in_place && w == WrittenState::all;
  // The contraction in slices of 128 rows: each product's panels stay cache-sized.
  auto gemm = [&](int64_t c0, int64_t nc) {
    for (int64_t k0 = 0; k0 < K4; k0 += 128) {
      const int64_t kn = std::min<int64_t>(128, K4 - k0);
      auto prod = Am.middleRows(k0, kn).transpose() * Bm.block(k0, c0, kn, nc);
      if (add || k0 > 0) Rm.middleCols(c0, nc).noalias() += prod;
      else Rm.middleCols(c0, nc).noalias() = prod;
    }
  };
  if (M * N * K4 >= (int64_t{1} << 21) && N >= 64) {
    const int64_t half = (N / 2 + 15) / 16 * 16;
    parallel_rows(2, M * N * K4, [&](int64_t a, int64_t b) {
      for (int64_t part = a; part < b; ++part)
        gemm(part == 0 ? 0 : half, part == 0 ? half : N - half);
    });
  } else {
    gemm(0, N);
  }
  if (!in_place) store_psum(d, w, R);
}

}  // namespace nkisim
