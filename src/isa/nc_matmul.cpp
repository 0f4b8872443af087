// nisa.nc_matmul: dst[M, N] (+)= stationary[K, M].T @ moving[K, N] on the tensor engine, float32
// products and accumulation in PSUM. accumulate=None: the first write to a PSUM location
// overwrites, later writes accumulate (decided per element from the PSUM shadow map).
#include <Eigen/Core>
#include <algorithm>
#include <cstring>

#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

namespace {
bool is_mm_input(DType t) {
  switch (t) {
    case DType::float8_e4m3: case DType::float8_e5m2: case DType::bfloat16: case DType::float16:
    case DType::tfloat32: case DType::float32: return true;
    default: return false;
  }
}
bool is_fp8(DType t) { return t == DType::float8_e4m3 || t == DType::float8_e5m2; }
bool is_wide(DType t) { return t == DType::float32 || t == DType::tfloat32; }

// Contraction rows: K partitions, or 2K with double_row (each partition holds two rows).
int64_t k_rows(const MatmulOp& op) {
  return op.perf_mode == PerfMode::double_row ? 2 * op.stationary.partitions()
                                              : op.stationary.partitions();
}

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;


void transpose_exact(MatmulOp& op) {
  // Transpose mode on trn2+: a bit-exact data movement dst = stationary.T.
  const Rows s = rows_of(op.stationary), d = rows_of(op.dst);
  const int64_t K = s.nrows, M = s.ncols;
  if (op.dst.dtype() == op.stationary.dtype()) {
    const int64_t es = s.es;
    Scratch<std::byte> in(static_cast<size_t>(K * M * es)), out(static_cast<size_t>(K * M * es));
    gather_raw(s, 0, K, 0, M, in);
    transpose_raw(in, out, K, M, es);
    scatter_raw(d, 0, M, 0, K, out);
    return;
  }
  Scratch<float> in(K * M), out(K * M);
  load<float>(s, 0, K, 0, M, in);
  transpose_raw(reinterpret_cast<const std::byte*>(in.get()), reinterpret_cast<std::byte*>(out.get()), K, M, 4);
  store<float>(d, 0, M, 0, K, out);
}
}  // namespace

void validate(const MatmulOp& op, const Interpreter& in) {
  const Check c{"nc_matmul"};
  const Target& tg = in.target();
  c.buffer_in("stationary", op.stationary, kSbuf, in);
  c.buffer_in("moving", op.moving, kSbuf, in);
  c.buffer_in("dst", op.dst, kPsum, in);
  c.writable("dst", op.dst);
  const DType ts = op.stationary.dtype(), tm = op.moving.dtype(), td = op.dst.dtype();
  NKISIM_REQUIRE(c, is_mm_input(ts), "stationary",
            "dtype must be one of float8_e4m3, float8_e5m2, bfloat16, float16, tfloat32, float32, "
            "found " + std::string(name(ts)));
  NKISIM_REQUIRE(c, is_mm_input(tm), "moving",
            "dtype must be one of float8_e4m3, float8_e5m2, bfloat16, float16, tfloat32, float32, "
            "found " + std::string(name(tm)));
  NKISIM_REQUIRE(c, is_wide(ts) == is_wide(tm), "moving",
            "if either input is float32/tfloat32 both must be, found stationary " +
                std::string(name(ts)) + " and moving " + std::string(name(tm)));
  const int64_t K = op.stationary.partitions();
  NKISIM_REQUIRE(c, op.moving.partitions() == K, "moving",
            "partition (contraction) dimension " + std::to_string(op.moving.partitions()) +
                " must equal stationary's " + std::to_string(K));
  NKISIM_REQUIRE(c, K <= tg.matmul_max_k, "stationary",
            "partition (contraction) dimension " + std::to_string(K) + " exceeds the maximum " +
                std::to_string(tg.matmul_max_k));
  // On trn1 is_transpose only labels the instruction: the math below applies unchanged.
  if (op.is_transpose && tg.gen != Gen::gen2) {
    const int64_t M = op.stationary.free_size();
    NKISIM_REQUIRE(c, op.moving.free_size() == K, "moving",
              "transpose mode needs a [" + std::to_string(K) + ", " + std::to_string(K) +
                  "] identity as moving, found " + shape_of(op.moving));
    NKISIM_REQUIRE(c, op.dst.partitions() == M && op.dst.free_size() == K, "dst",
              "transpose mode writes stationary.T with shape [" + std::to_string(M) + ", " +
                  std::to_string(K) + "], found " + shape_of(op.dst));
    const bool same = td == ts || (is_fp8(ts) && size_of(td) == 2) || td == DType::float32;
    NKISIM_REQUIRE(c, same, "dst", "transpose mode needs dst dtype " + std::string(name(ts)) +
                               " (or float32), found " + std::string(name(td)));
    NKISIM_REQUIRE(c, M <= 128, "stationary", "transpose mode takes at most 128 free elements");
    return;
  }
  if (tg.gen == Gen::gen4)
    NKISIM_REQUIRE(c, td == DType::float32 || td == DType::bfloat16, "dst",
              "dtype must be float32 or bfloat16 on trn3, found " + std::string(name(td)));
  else
    NKISIM_REQUIRE(c, td == DType::float32, "dst",
              "dtype must be float32 on " + std::string(tg.name) + ", found " + std::string(name(td)));
  int64_t M = op.stationary.free_size(), N = op.moving.free_size();
  if (op.perf_mode == PerfMode::double_row) {
    NKISIM_REQUIRE(c, tg.gen != Gen::gen2, "perf_mode", "double_row needs trn2 or newer");
    NKISIM_REQUIRE(c, is_fp8(ts) && is_fp8(tm), "perf_mode",
              "double_row takes float8_e4m3/float8_e5m2 inputs, found " + std::string(name(ts)) +
                  " and " + std::string(name(tm)));
    NKISIM_REQUIRE(c, op.stationary.ndim() == 3 && op.stationary.dim(1).count == 2, "stationary",
              "double_row needs shape [K, 2, M], found " + shape_of(op.stationary));
    NKISIM_REQUIRE(c, op.moving.ndim() == 3 && op.moving.dim(1).count == 2, "moving",
              "double_row needs shape [K, 2, N], found " + shape_of(op.moving));
    NKISIM_REQUIRE(c, op.tile_size.empty() || op.tile_size[1] == 128, "tile_size",
              "double_row cannot be combined with column tiling");
    M /= 2;
    N /= 2;
  }
  NKISIM_REQUIRE(c, M <= tg.matmul_max_stationary_free, "stationary",
            "free size " + std::to_string(M) + " exceeds the maximum " +
                std::to_string(tg.matmul_max_stationary_free) + " (nl.tile_size.gemm_stationary_fmax)");
  NKISIM_REQUIRE(c, N <= tg.matmul_max_moving_free, "moving",
            "free size " + std::to_string(N) + " exceeds the maximum " +
                std::to_string(tg.matmul_max_moving_free) + " on " + std::string(tg.name));
  NKISIM_REQUIRE(c, op.dst.partitions() == M && op.dst.free_size() == N, "dst",
            "must have shape [" + std::to_string(M) + ", " + std::to_string(N) +
                "] (stationary free x moving free), found " + shape_of(op.dst));
  // One accumulation target per bank on trn1/trn2.
  if (tg.gen != Gen::gen4) {
    const Strided s = op.dst.strided();
    int64_t lo = 0, hi = 0;
    for (int d = 1; d < s.ndim; ++d) hi += (s.count[d] - 1) * s.stride[d];
    const int64_t base = op.dst.allocation().byte_offset +
                         (s.base - op.dst.allocation().data) % op.dst.allocation().partition_stride;
    lo += base;
    hi += base + static_cast<int64_t>(size_of(td)) - 1;
    NKISIM_REQUIRE(c, lo / tg.psum_bank_bytes == hi / tg.psum_bank_bytes, "dst",
              "spans PSUM bytes [" + std::to_string(lo) + ", " + std::to_string(hi) +
                  "] which cross a 2 KiB bank boundary; a matmul writes one bank on " +
                  std::string(tg.name));
  }
  if (!op.tile_position.empty() || !op.tile_size.empty()) {
    NKISIM_REQUIRE(c, op.tile_position.size() == 2 && op.tile_size.size() == 2, "tile_position",
              "tile_position and tile_size must both be given as (row, column) pairs");
    for (int i = 0; i < 2; ++i) {
      const int64_t sz = op.tile_size[i], st = op.tile_position[i];
      const bool ok = sz == 128 || sz == 64 || (sz == 32 && tg.gen != Gen::gen2);
      NKISIM_REQUIRE(c, ok, "tile_size",
                std::string(i ? "column" : "row") + " size must be 128, 64" +
                    (tg.gen != Gen::gen2 ? " or 32" : "") + ", found " + std::to_string(sz));
      NKISIM_REQUIRE(c, st >= 0 && st < 128 && st % sz == 0, "tile_position",
                std::string(i ? "column" : "row") + " start " + std::to_string(st) +
                    " must be a multiple of the tile size " + std::to_string(sz) + " below 128");
    }
    NKISIM_REQUIRE(c, K <= op.tile_size[0], "stationary",
              "partition size " + std::to_string(K) + " exceeds the tile row size " +
                  std::to_string(op.tile_size[0]));
    NKISIM_REQUIRE(c, M <= op.tile_size[1], "stationary",
              "free size " + std::to_string(M) + " exceeds the tile column size " +
                  std::to_string(op.tile_size[1]));
  }
}

void execute(MatmulOp& op, Interpreter& in) {
  if (op.is_transpose && in.target().gen != Gen::gen2) {
    transpose_exact(op);
    return;
  }
  const Rows s = rows_of(op.stationary), m = rows_of(op.moving), d = rows_of(op.dst);
  const int64_t K = k_rows(op);
  const int64_t M = d.nrows, N = d.ncols;
  // With double_row a partition holds rows (p, 0) and (p, 1): [K, 2, M] row-major = [2K, M].
  Scratch<float> S(K * M), V(K * N), scratch_R(M * N);
  load<float>(s, 0, s.nrows, 0, s.ncols, S);
  load<float>(m, 0, m.nrows, 0, m.ncols, V);
  Eigen::Map<const RowMat> Sm(S, K, M), Vm(V, K, N);

  // Per element, overwrite or accumulate: decided by `accumulate`, or (None) by the PSUM map.
  const WrittenState w = op.accumulate ? (*op.accumulate ? WrittenState::all : WrittenState::none)
                                       : written_state(d);
  const bool in_place = d.dtype == DType::float32 && d.contiguous && w != WrittenState::some &&
                        reinterpret_cast<uintptr_t>(d.base) % 4 == 0 && d.row_stride % 4 == 0;
  using OutMap = Eigen::Map<RowMat, 0, Eigen::OuterStride<>>;
  auto gemm = [&](OutMap out, int64_t c0, int64_t nc, bool add) {
    if (add) out.middleCols(c0, nc).noalias() += Sm.transpose() * Vm.middleCols(c0, nc);
    else out.middleCols(c0, nc).noalias() = Sm.transpose() * Vm.middleCols(c0, nc);
  };
  // Results land straight in PSUM (float32 rows) or in a scratch block.
  float* R = in_place ? reinterpret_cast<float*>(d.base) : scratch_R.get();
  OutMap Rm(R, M, N, Eigen::OuterStride<>(in_place ? d.row_stride / 4 : N));
  const bool add = in_place && w == WrittenState::all;
  if (M * N * K >= (int64_t{1} << 21) && N >= 64) {
    const int64_t half = (N / 2 + 15) / 16 * 16;  // split the moving columns across both cores
    parallel_rows(2, M * N * K, [&](int64_t a, int64_t b) {
      for (int64_t part = a; part < b; ++part)
        gemm(Rm, part == 0 ? 0 : half, part == 0 ? half : N - half, add);
    });
  } else {
    gemm(Rm, 0, N, add);
  }
  if (!in_place) store_psum(d, w, R);
}

}  // namespace nkisim
