// The ALU and activation tables as vectorized Eigen array expressions. The op is decided once per
// call (the switch), never per element.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <unsupported/Eigen/SpecialFunctions>

#include "isa/common.hpp"

namespace nkisim::isa {

namespace {
using AF = Eigen::Array<float, Eigen::Dynamic, 1>;
using MapF = Eigen::Map<AF>;

// Calls fn(f) with f the scalar function of a float ALU op, so that each op gets its own
// vectorized loop (the op is decided once per call, never per element).
template <class Fn>
void with_float_op(AluOp op, Fn&& fn) {
  switch (op) {
    case AluOp::add: fn([](float a, float b) { return a + b; }); break;
    case AluOp::subtract: fn([](float a, float b) { return a - b; }); break;
    case AluOp::multiply: fn([](float a, float b) { return a * b; }); break;
    case AluOp::maximum: fn([](float a, float b) { return a > b ? a : b; }); break;
    case AluOp::minimum: fn([](float a, float b) { return a < b ? a : b; }); break;
    case AluOp::equal: fn([](float a, float b) { return a == b ? 1.f : 0.f; }); break;
    case AluOp::not_equal: fn([](float a, float b) { return a != b ? 1.f : 0.f; }); break;
    case AluOp::greater_equal: fn([](float a, float b) { return a >= b ? 1.f : 0.f; }); break;
    case AluOp::greater: fn([](float a, float b) { return a > b ? 1.f : 0.f; }); break;
    case AluOp::less_equal: fn([](float a, float b) { return a <= b ? 1.f : 0.f; }); break;
    case AluOp::less: fn([](float a, float b) { return a < b ? 1.f : 0.f; }); break;
    case AluOp::logical_and:
      fn([](float a, float b) { return (a != 0.f && b != 0.f) ? 1.f : 0.f; });
      break;
    case AluOp::logical_or:
      fn([](float a, float b) { return (a != 0.f || b != 0.f) ? 1.f : 0.f; });
      break;
    case AluOp::logical_xor:
      fn([](float a, float b) { return ((a != 0.f) != (b != 0.f)) ? 1.f : 0.f; });
      break;
    case AluOp::rsqrt: fn([](float a, float) { return 1.f / std::sqrt(a); }); break;
    case AluOp::reciprocal: fn([](float a, float) { return 1.f / a; }); break;
    case AluOp::abs: fn([](float a, float) { return std::fabs(a); }); break;
    case AluOp::power: fn([](float a, float b) { return std::pow(a, b); }); break;
    default:
      throw UnsupportedError("ALU op " + std::string(alu_name(op)) +
                             " has no float32 implementation (bitvec ops need integer dtypes)");
  }
}
}  // namespace

void alu_binary(AluOp op, const Block& o, const Block& a, const Block& b) {
  with_float_op(op, [&](auto f) {
    if (o.nc == 1) {  // a column (one element per partition): one strided loop
      for (int64_t r = 0; r < o.nr; ++r) o.p[r * o.ld] = f(a.p[r * a.ld], b.p[r * b.ld]);
      return;
    }
    for (int64_t r = 0; r < o.nr; ++r) {
      float* __restrict__ out = o.row(r);
      const float* x = a.row(r);
      const float* y = b.row(r);
      for (int64_t c = 0; c < o.nc; ++c) out[c] = f(x[c], y[c]);
    }
  });
}

void alu_rows(AluOp op, const Block& o, const Block& a, const float* per_row, bool reverse) {
  with_float_op(op, [&](auto f) {
    if (o.nc == 1) {
      for (int64_t r = 0; r < o.nr; ++r)
        o.p[r * o.ld] = reverse ? f(per_row[r], a.p[r * a.ld]) : f(a.p[r * a.ld], per_row[r]);
      return;
    }
    for (int64_t r = 0; r < o.nr; ++r) {
      float* out = o.row(r);
      const float* x = a.row(r);
      const float s = per_row[r];
      if (out == x) {  // in place: one pointer, so no overlap test per row
        if (reverse)
          for (int64_t c = 0; c < o.nc; ++c) out[c] = f(s, out[c]);
        else
          for (int64_t c = 0; c < o.nc; ++c) out[c] = f(out[c], s);
      } else if (reverse) {
        for (int64_t c = 0; c < o.nc; ++c) out[c] = f(s, x[c]);
      } else {
        for (int64_t c = 0; c < o.nc; ++c) out[c] = f(x[c], s);
      }
    }
  });
}

// The two-operator pairs fused into one pass (tensor_scalar, activation's scale/bias): each
// element is loaded, put through op0 and op1 and stored once. Both results are rounded to fp32
// exactly as two passes would (no multiply-add contraction: the attribute below), so the fused and
// the two-pass paths agree bit for bit.
namespace {
template <class Fn>
bool with_fusable_op(AluOp op, bool reverse, Fn&& fn) {
  switch (op) {
    case AluOp::add: fn([](float a, float b) { return a + b; }); return true;
    case AluOp::multiply: fn([](float a, float b) { return a * b; }); return true;
    case AluOp::subtract:
      if (reverse) fn([](float a, float b) { return b - a; });
      else fn([](float a, float b) { return a - b; });
      return true;
    case AluOp::maximum:  // not symmetric for NaN: reversed forms take the two-pass path
      if (reverse) return false;
      fn([](float a, float b) { return a > b ? a : b; });
      return true;
    case AluOp::minimum:
      if (reverse) return false;
      fn([](float a, float b) { return a < b ? a : b; });
      return true;
    default: return false;
  }
}

// Rows are independent here, so successive passes over the same tile walk them in alternating
// directions: a tile larger than L1 (partition rows are a cache line or more apart) then starts
// where its previous pass left off, on lines that are still cached, instead of evicting them all
// in LRU order. The direction is kept per destination address (a small table; a collision only
// changes a direction).
inline bool flip_direction(const void* dst) {
  static thread_local uint8_t backward[64] __attribute__((tls_model("initial-exec"))) = {};
  const size_t i = (reinterpret_cast<uintptr_t>(dst) >> 2) * 0x9E3779B97F4A7C15ull >> 58;
  backward[i] ^= 1;
  return backward[i];
}

// Rows of n lanes: w = f1(f0(v, a[r]), b[r]) for rows r = first, first + step, ... (nr of them),
// 64 lanes per step (eight AVX2 vectors, fully unrolled: few loop instructions per element, which
// is what a short row costs), then 32, then the rest. `inplace`: v is w (one pointer, no aliasing
// question); otherwise rows of w and v never overlap.
template <bool inplace, class F0, class F1>
__attribute__((always_inline, optimize("fp-contract=off"))) inline void fused_row_loop(
    F0 f0, F1 f1, float* w, int64_t wld, const float* v, int64_t vld, int64_t n, const float* s0,
    int64_t ld0, const float* s1, int64_t ld1, int64_t nr, int64_t first, int64_t step) {
  const int64_t nvec = n / 32, rest = n % 32;
  w += first * wld;
  v += first * vld;
  s0 += first * ld0;
  s1 += first * ld1;
  const int64_t wstep = step * wld, vstep = step * vld, step0 = step * ld0, step1 = step * ld1;
  const int64_t n64 = nvec / 2;
  const bool odd32 = nvec % 2 != 0;
  for (int64_t i = 0; i < nr; ++i, w += wstep, v += vstep, s0 += step0, s1 += step1) {
    const float a = *s0, b = *s1;
    float* __restrict__ o = w;
    const float* __restrict__ x = inplace ? w : v;
    for (int64_t j = 0; j < n64; ++j, o += 64, x += 64) {  // 64 lanes: one step for a 64-wide row
#pragma GCC unroll 64
      for (int k = 0; k < 64; ++k) o[k] = f1(f0(inplace ? o[k] : x[k], a), b);
    }
    if (odd32) {
#pragma GCC unroll 32
      for (int k = 0; k < 32; ++k) o[k] = f1(f0(inplace ? o[k] : x[k], a), b);
      o += 32;
      x += 32;
    }
    for (int64_t k = 0; k < rest; ++k) o[k] = f1(f0(inplace ? o[k] : x[k], a), b);
  }
}

template <class F0, class F1>
__attribute__((optimize("fp-contract=off"))) void fused_rows(F0 f0, F1 f1, const Block& o,
                                                             const Block& x, const float* s0,
                                                             int64_t ld0, const float* s1,
                                                             int64_t ld1) {
  if (ld0 == 0 && ld1 == 0 && (o.nr == 1 || (o.ld == o.nc && x.ld == x.nc))) {
    // Scalars over rows that follow each other in memory (a tile with rows of its own): one row.
    const int64_t n = o.nr * o.nc;
    if (o.p == x.p) fused_row_loop<true>(f0, f1, o.p, n, x.p, n, n, s0, 0, s1, 0, 1, 0, 1);
    else fused_row_loop<false>(f0, f1, o.p, n, x.p, n, n, s0, 0, s1, 0, 1, 0, 1);
    return;
  }
  const bool back = flip_direction(o.p);
  const int64_t nr = o.nr, first = back ? nr - 1 : 0, step = back ? -1 : 1;
  if (o.nc == 1) {  // a column (one element per partition): one strided loop
    float* w = o.p + first * o.ld;
    const float* v = x.p + first * x.ld;
    const int64_t wstep = step * o.ld, vstep = step * x.ld;
    if (ld0 == 0 && ld1 == 0) {  // two scalars
      const float a = *s0, b = *s1;
      for (int64_t i = 0; i < nr; ++i, w += wstep, v += vstep) *w = f1(f0(*v, a), b);
      return;
    }
    for (int64_t i = 0, r = first; i < nr; ++i, r += step, w += wstep, v += vstep)
      *w = f1(f0(*v, s0[r * ld0]), s1[r * ld1]);
    return;
  }
  if (o.p == x.p && o.ld == x.ld) {  // in place, row for row
    fused_row_loop<true>(f0, f1, o.p, o.ld, x.p, x.ld, o.nc, s0, ld0, s1, ld1, nr, first, step);
    return;
  }
  // Otherwise no row of o overlaps a row of x (dst_direct lets only the same view or memory of
  // another tensor through; scratch is separate memory).
  fused_row_loop<false>(f0, f1, o.p, o.ld, x.p, x.ld, o.nc, s0, ld0, s1, ld1, nr, first, step);
}
}  // namespace

void alu_rows2(AluOp op0, const float* s0, int64_t ld0, bool rev0, AluOp op1, const float* s1,
               int64_t ld1, bool rev1, const Block& o, const Block& x) {
  bool done = false;
  if (op1 == AluOp::none)  // one op: the same loop with an identity second op
    with_fusable_op(op0, rev0, [&](auto f0) {
      fused_rows(f0, [](float t, float) { return t; }, o, x, s0, ld0, s0, 0);
      done = true;
    });
  else
    with_fusable_op(op0, rev0, [&](auto f0) {
      with_fusable_op(op1, rev1, [&](auto f1) {
        fused_rows(f0, f1, o, x, s0, ld0, s1, ld1);
        done = true;
      });
    });
  if (done) return;
  // Two passes over per-row arrays.
  auto rows = [&](const float* s, int64_t ld, float* buf) {
    if (ld == 1) return s;
    for (int64_t r = 0; r < o.nr; ++r) buf[r] = s[r * ld];
    return static_cast<const float*>(buf);
  };
  Scratch<float> buf(static_cast<size_t>(2 * o.nr));
  alu_rows(op0, o, x, rows(s0, ld0, buf), rev0);
  if (op1 != AluOp::none) alu_rows(op1, o, o, rows(s1, ld1, buf + o.nr), rev1);
}

namespace {
// Sum or product of n floats in an order fixed by the index alone: eight lanes (element i goes to
// lane i % 8), combined pairwise, then the tail. Eigen's reductions start their vector lanes at
// the first 32-byte-aligned address, so their rounding would depend on where the host keeps the
// row (an SBUF offset, a tile's own storage, a scratch buffer) and replays would not be exact.
template <bool kProduct>
__attribute__((optimize("fp-contract=off"))) float lane_fold(const float* p, int64_t n) {
  float acc[8];
  for (float& a : acc) a = kProduct ? 1.f : -0.f;  // -0: adding it changes nothing, even -0
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] = kProduct ? acc[k] * p[i + k] : acc[k] + p[i + k];
  auto f = [](float a, float b) { return kProduct ? a * b : a + b; };
  float s = f(f(f(acc[0], acc[1]), f(acc[2], acc[3])), f(f(acc[4], acc[5]), f(acc[6], acc[7])));
  for (; i < n; ++i) s = f(s, p[i]);
  return s;
}
}  // namespace

void row_sums(const Block& x, float* out) {
  for (int64_t r = 0; r < x.nr; ++r) out[r] = lane_fold<false>(x.row(r), x.nc);
}

void alu_binary(AluOp op, int64_t* o, const int64_t* a, const int64_t* b, int64_t n) {
  // Integer lanes: bitvec ops on raw bits, arithmetic exact in 64 bits (wrapped on store).
  switch (op) {
#define NKISIM_INT_LOOP(expr) \
  for (int64_t i = 0; i < n; ++i) o[i] = (expr); \
  break
    case AluOp::invert: NKISIM_INT_LOOP(~a[i]);
    case AluOp::bitwise_and: NKISIM_INT_LOOP(a[i] & b[i]);
    case AluOp::bitwise_or: NKISIM_INT_LOOP(a[i] | b[i]);
    case AluOp::bitwise_xor: NKISIM_INT_LOOP(a[i] ^ b[i]);
    case AluOp::left_shift:
      NKISIM_INT_LOOP((b[i] < 0 || b[i] > 63) ? 0 : static_cast<int64_t>(static_cast<uint64_t>(a[i]) << b[i]));
    case AluOp::right_shift:
      NKISIM_INT_LOOP((b[i] < 0 || b[i] > 63) ? 0 : static_cast<int64_t>(static_cast<uint64_t>(a[i]) >> b[i]));
    case AluOp::add: NKISIM_INT_LOOP(a[i] + b[i]);
    case AluOp::subtract: NKISIM_INT_LOOP(a[i] - b[i]);
    case AluOp::multiply: NKISIM_INT_LOOP(a[i] * b[i]);
    case AluOp::maximum: NKISIM_INT_LOOP(std::max(a[i], b[i]));
    case AluOp::minimum: NKISIM_INT_LOOP(std::min(a[i], b[i]));
    case AluOp::equal: NKISIM_INT_LOOP(a[i] == b[i]);
    case AluOp::not_equal: NKISIM_INT_LOOP(a[i] != b[i]);
    case AluOp::greater_equal: NKISIM_INT_LOOP(a[i] >= b[i]);
    case AluOp::greater: NKISIM_INT_LOOP(a[i] > b[i]);
    case AluOp::less_equal: NKISIM_INT_LOOP(a[i] <= b[i]);
    case AluOp::less: NKISIM_INT_LOOP(a[i] < b[i]);
    case AluOp::logical_and: NKISIM_INT_LOOP((a[i] != 0) && (b[i] != 0));
    case AluOp::logical_or: NKISIM_INT_LOOP((a[i] != 0) || (b[i] != 0));
    case AluOp::logical_xor: NKISIM_INT_LOOP((a[i] != 0) != (b[i] != 0));
    case AluOp::abs: NKISIM_INT_LOOP(a[i] < 0 ? -a[i] : a[i]);
#undef NKISIM_INT_LOOP
    default:
      throw UnsupportedError("ALU op " + std::string(alu_name(op)) +
                             " has no exact integer implementation");
  }
}

namespace {
template <class T>
T reduce_identity(AluOp op) {
  switch (op) {
    case AluOp::multiply: case AluOp::logical_and: return T(1);
    case AluOp::bitwise_and: return T(-1);
    case AluOp::maximum: return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
    case AluOp::minimum: return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
    default: return T(0);
  }
}
}  // namespace

void alu_reduce(AluOp op, const float* a, int64_t groups, int64_t len, float* out) {
  using M = Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const M> A(a, groups, len);
  Eigen::Map<AF> O(out, groups);
  switch (op) {
    case AluOp::add:
      for (int64_t g = 0; g < groups; ++g) out[g] = lane_fold<false>(a + g * len, len);
      break;
    case AluOp::multiply:
      for (int64_t g = 0; g < groups; ++g) out[g] = lane_fold<true>(a + g * len, len);
      break;
    case AluOp::maximum: O = A.rowwise().maxCoeff(); break;
    case AluOp::minimum: O = A.rowwise().minCoeff(); break;
    case AluOp::subtract:  // a0 - a1 - a2 - ...
      for (int64_t g = 0; g < groups; ++g) {
        const float* x = a + g * len;
        out[g] = len > 1 ? x[0] - lane_fold<false>(x + 1, len - 1) : x[0];
      }
      break;
    case AluOp::logical_and: O = (A != 0.f).rowwise().all().cast<float>(); break;
    case AluOp::logical_or: O = (A != 0.f).rowwise().any().cast<float>(); break;
    case AluOp::logical_xor:
      O = (A != 0.f).cast<int>().rowwise().sum().unaryExpr([](int v) { return float(v & 1); });
      break;
    default:
      throw UnsupportedError("reduction op " + std::string(alu_name(op)) +
                             " has no float32 implementation");
  }
}

void alu_reduce(AluOp op, const int64_t* a, int64_t groups, int64_t len, int64_t* out) {
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t* x = a + g * len;
    int64_t acc = op == AluOp::subtract ? x[0] : reduce_identity<int64_t>(op);
    for (int64_t i = op == AluOp::subtract ? 1 : 0; i < len; ++i) {
      switch (op) {
        case AluOp::bitwise_and: acc &= x[i]; break;
        case AluOp::bitwise_or: acc |= x[i]; break;
        case AluOp::bitwise_xor: acc ^= x[i]; break;
        case AluOp::add: acc += x[i]; break;
        case AluOp::subtract: acc -= x[i]; break;
        case AluOp::multiply: acc *= x[i]; break;
        case AluOp::maximum: acc = std::max(acc, x[i]); break;
        case AluOp::minimum: acc = std::min(acc, x[i]); break;
        case AluOp::logical_and: acc = acc && x[i]; break;
        case AluOp::logical_or: acc = acc || x[i]; break;
        case AluOp::logical_xor: acc = (acc != 0) != (x[i] != 0); break;
        default:
          throw UnsupportedError("reduction op " + std::string(alu_name(op)) +
                                 " has no integer implementation");
      }
    }
    out[g] = acc;
  }
}

namespace {
// An activation over an aligned buffer whose size is a multiple of the packet size: Eigen takes
// its vector path for every element (no scalar head or tail, whose results differ from the vector
// functions' in the last bit), so an element's result does not depend on where the host keeps it.
// Aligned for the widest packet this build uses (AVX-512: 16 floats, 64 bytes).
constexpr int kPacket = Eigen::internal::packet_traits<float>::size;
using ChunkF = Eigen::Map<AF, Eigen::AlignedMax>;
using ChunkTmp = Eigen::Array<float, Eigen::Dynamic, 1, 0, 256, 1>;  // on the stack
void act_chunk(ActFn f, ChunkF X) {
  constexpr float kInvSqrt2 = 0.70710678118654752f;
  constexpr float kInvSqrt2Pi = 0.39894228040143268f;
  constexpr float k2InvSqrtPi = 1.12837916709551257f;
  switch (f) {
    case ActFn::copy: break;
    case ActFn::square: X = X.square(); break;
    case ActFn::sigmoid: X = X.logistic(); break;
    case ActFn::relu: X = X.max(0.f); break;
    case ActFn::gelu: X = 0.5f * X * (1.f + (X * kInvSqrt2).erf()); break;
    case ActFn::gelu_dx:
      X = 0.5f * (1.f + (X * kInvSqrt2).erf()) + X * kInvSqrt2Pi * (-0.5f * X.square()).exp();
      break;
    case ActFn::gelu_apprx_tanh:
      X = 0.5f * X * (1.f + (0.7978845608f * (X + 0.044715f * X.cube())).tanh());
      break;
    case ActFn::gelu_apprx_sigmoid: X = X * (1.702f * X).logistic(); break;
    case ActFn::gelu_apprx_sigmoid_dx: {
      ChunkTmp s = (1.702f * X).logistic();
      X = s + 1.702f * X * s * (1.f - s);
      break;
    }
    case ActFn::silu: X = X * X.logistic(); break;
    case ActFn::silu_dx: {
      ChunkTmp s = X.logistic();
      X = s * (1.f + X * (1.f - s));
      break;
    }
    case ActFn::tanh: X = X.tanh(); break;
    case ActFn::softplus: X = X.max(0.f) + (-X.abs()).exp().log1p(); break;
    case ActFn::mish: X = X * (X.max(0.f) + (-X.abs()).exp().log1p()).tanh(); break;
    case ActFn::erf: X = X.erf(); break;
    case ActFn::erf_dx: X = k2InvSqrtPi * (-X.square()).exp(); break;
    case ActFn::exp: X = X.exp(); break;
    case ActFn::log: X = X.log(); break;
    case ActFn::sin: X = X.sin(); break;
    case ActFn::arctan: X = X.atan(); break;
    case ActFn::sqrt: X = X.sqrt(); break;
    case ActFn::rsqrt: X = X.rsqrt(); break;
    case ActFn::reciprocal: X = X.inverse(); break;
    case ActFn::sign: X = X.sign(); break;
    case ActFn::abs: X = X.abs(); break;
    default: throw UnsupportedError("unknown activation function");
  }
}
}  // namespace

void act_apply(ActFn f, const Block& b) {
  if (f == ActFn::copy) return;
  constexpr int64_t kChunk = 256;
  alignas(EIGEN_MAX_ALIGN_BYTES > 32 ? EIGEN_MAX_ALIGN_BYTES : 32) float buf[kChunk];
  auto run = [&](float* p, int64_t n) {
    for (int64_t i = 0; i < n; i += kChunk) {
      const int64_t m = std::min(kChunk, n - i), padded = (m + kPacket - 1) / kPacket * kPacket;
      std::memcpy(buf, p + i, static_cast<size_t>(m) * sizeof(float));
      std::fill(buf + m, buf + padded, 0.f);
      act_chunk(f, ChunkF(buf, padded));
      std::memcpy(p + i, buf, static_cast<size_t>(m) * sizeof(float));
    }
  };
  if (b.ld == b.nc || b.nr == 1) {
    run(b.p, b.nr * b.nc);
    return;
  }
  for (int64_t r = 0; r < b.nr; ++r) run(b.row(r), b.nc);
}

}  // namespace nkisim::isa

// ---------------------------------------------------------------- scans and folds (issue 7)
namespace nkisim::isa {

float alu_apply(AluOp op, float a, float b) {
  float r = 0.f;
  with_float_op(op, [&](auto f) { r = f(a, b); });
  return r;
}

float alu_identity(AluOp op) { return reduce_identity<float>(op); }

namespace {
// An optimisation barrier: the compiler may not contract the operations around it into one FMA.
inline void round_here(float& v) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  asm volatile("" : "+x"(v));
#elif defined(__GNUC__)
  asm volatile("" : "+w"(v));
#else
  volatile float t = v;
  v = t;
#endif
}
}  // namespace

void alu_scan(AluOp op0, bool rev0, AluOp op1, bool rev1, const float* d0, const float* d1,
              float init, int64_t n, float* out) {
  with_float_op(op0, [&](auto f0) {
    if (d1 == nullptr) {
      float prev = init;
      if (rev0)
        for (int64_t i = 0; i < n; ++i) out[i] = prev = f0(prev, d0[i]);
      else
        for (int64_t i = 0; i < n; ++i) out[i] = prev = f0(d0[i], prev);
      return;
    }
    with_float_op(op1, [&](auto f1) {
      float prev = init;
      for (int64_t i = 0; i < n; ++i) {
        float t = rev0 ? f0(prev, d0[i]) : f0(d0[i], prev);
        round_here(t);  // op0's result is rounded to float32 before op1 (no fused multiply-add)
        out[i] = prev = rev1 ? f1(d1[i], t) : f1(t, d1[i]);
      }
    });
  });
}

void alu_scan_rows(AluOp op0, bool rev0, AluOp op1, bool rev1, const Block& d0, const Block* d1,
                   const float* init, const Block& out) {
  constexpr int K = 8;  // rows scanned together: independent dependency chains run in parallel
  const int64_t n = out.nc;
  int64_t r = 0;
  with_float_op(op0, [&](auto f0) {
    auto g = [&](auto f1, bool two) {
      for (; r + K <= out.nr; r += K) {
        float prev[K];
        const float* a[K];
        const float* b[K];
        float* o[K];
        for (int k = 0; k < K; ++k) {
          prev[k] = init[r + k];
          a[k] = d0.row(r + k);
          b[k] = two ? d1->row(r + k) : nullptr;
          o[k] = out.row(r + k);
        }
        for (int64_t i = 0; i < n; ++i) {
#pragma GCC unroll 8
          for (int k = 0; k < K; ++k) {
            float t = rev0 ? f0(prev[k], a[k][i]) : f0(a[k][i], prev[k]);
            if (two) {
              round_here(t);
              t = rev1 ? f1(b[k][i], t) : f1(t, b[k][i]);
            }
            o[k][i] = prev[k] = t;
          }
        }
      }
    };
    if (d1 == nullptr) g([](float x, float) { return x; }, false);
    else with_float_op(op1, [&](auto f1) { g(f1, true); });
  });
  for (; r < out.nr; ++r)
    alu_scan(op0, rev0, op1, rev1, d0.row(r), d1 ? d1->row(r) : nullptr, init[r], n, out.row(r));
}

void row_reduce(AluOp op, const Block& x, float* out) {
  for (int64_t r = 0; r < x.nr; ++r) alu_reduce(op, x.row(r), 1, x.nc, out + r);
}

}  // namespace nkisim::isa
