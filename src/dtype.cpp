// nkisim: dtype table and exact float32 <-> element conversions.
//
// Design notes
//  * Dispatch on the dtype happens once per call (a switch in each public entry point); each case
//    runs a tight, branch-free loop over the elements that GCC auto-vectorizes at -O3
//    -march=native (bit arithmetic over uint32 lanes plus selects). Loads and stores go through
//    memcpy so that buffers at any byte offset are fine; GCC turns them into plain (unaligned)
//    vector loads.
//  * Every narrowing conversion rounds to nearest, ties to even, directly from the float32 bits
//    (one rounding, so no double-rounding errors). Overflow and NaN follow ml_dtypes: formats with
//    an infinity overflow to +-inf, the "fn" formats (no infinity) overflow to NaN, and a NaN input
//    becomes the format's canonical quiet NaN with the input's sign (float16 keeps the truncated
//    payload, exactly like the F16C instruction).
//  * The three fp8 formats (and the portable float16 fallback) share one generic encoder/decoder
//    parameterized by a MiniFloat descriptor.
//  * The code assumes the default floating-point environment (round-to-nearest-even, no FTZ/DAZ),
//    which is what -O3 -march=native without -ffast-math gives.
#include "nkisim/dtype.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "nkisim/errors.hpp"

#if defined(__F16C__) && defined(__AVX__)
#include <immintrin.h>
#define NKISIM_HAVE_F16C 1
#else
#define NKISIM_HAVE_F16C 0
#endif

namespace nkisim {

// ------------------------------------------------------------------------------------------------
// DType table
// ------------------------------------------------------------------------------------------------

//                              name                size  float  int    signed packed
const DTypeInfo kDTypeInfo[kNumDTypes] = {
    {"bool", 1, false, true, false, false},
    {"int8", 1, false, true, true, false},
    {"int16", 2, false, true, true, false},
    {"int32", 4, false, true, true, false},
    {"uint8", 1, false, true, false, false},
    {"uint16", 2, false, true, false, false},
    {"uint32", 4, false, true, false, false},
    {"float16", 2, true, false, true, false},
    {"float32", 4, true, false, true, false},
    {"bfloat16", 2, true, false, true, false},
    {"tfloat32", 4, true, false, true, false},
    {"float8_e4m3", 1, true, false, true, false},
    {"float8_e4m3fn", 1, true, false, true, false},
    {"float8_e5m2", 1, true, false, true, false},
    {"float8_e5m2_x4", 4, true, false, true, true},
    {"float8_e4m3fn_x4", 4, true, false, true, true},
    {"float4_e2m1fn_x4", 2, true, false, true, true},
};

void invalid_dtype(DType t) {
  throw ValidationError("invalid dtype id " + std::to_string(static_cast<size_t>(t)));
}

DType dtype_from_name(std::string_view name) {
  for (size_t i = 0; i < static_cast<size_t>(kNumDTypes); ++i)
    if (kDTypeInfo[i].name == name) return static_cast<DType>(i);
  if (name == "bool_") return DType::bool_;  // the Python attribute name nl.bool_
  std::string msg = "unknown dtype '" + std::string(name) + "'; expected one of ";
  for (size_t i = 0; i < static_cast<size_t>(kNumDTypes); ++i) {
    if (i) msg += ", ";
    msg += kDTypeInfo[i].name;
  }
  throw ValidationError(msg);
}

// ------------------------------------------------------------------------------------------------
// Small helpers
// ------------------------------------------------------------------------------------------------

namespace {

[[noreturn]] void throw_packed(DType t, const char* what) {
  throw UnsupportedError(std::string(what) + ": dtype '" + std::string(name(t)) +
                         "' is a packed x4 type (4 values per element): it is moved bit-exactly, "
                         "and converted 4 values at a time with x4_to_f32 / x4_from_f32");
}

template <typename T>
inline T load(const void* p, size_t i) {
  T v;
  std::memcpy(&v, static_cast<const char*>(p) + i * sizeof(T), sizeof(T));
  return v;
}

template <typename T>
inline void store(void* p, size_t i, T v) {
  std::memcpy(static_cast<char*>(p) + i * sizeof(T), &v, sizeof(T));
}

inline uint32_t f2u(float f) { return std::bit_cast<uint32_t>(f); }
inline float u2f(uint32_t u) { return std::bit_cast<float>(u); }

// Exact power of two as a float (constexpr, no libm).
constexpr float pow2f(int e) {
  float r = 1.0f;
  for (; e > 0; --e) r *= 2.0f;
  for (; e < 0; ++e) r *= 0.5f;
  return r;
}

// ------------------------------------------------------------------------------------------------
// Generic small float format ("minifloat"): 1 sign bit, E exponent bits, M mantissa bits.
//  ieee = true : exponent all-ones encodes inf (mantissa 0) and NaN (mantissa != 0).
//  ieee = false: the "fn" flavour: no infinity, only S.1111.111 is NaN, all other codes finite.
//  keep_nan_payload: NaN inputs keep their top mantissa bits (float16, like F16C); otherwise the
//  canonical quiet NaN (ml_dtypes behaviour for fp8).
// ------------------------------------------------------------------------------------------------

struct MiniFloat {
  int ebits;
  int mbits;
  int bias;
  bool ieee;
  bool keep_nan_payload;
};

inline constexpr MiniFloat kE4M3{4, 3, 7, true, false};
inline constexpr MiniFloat kE4M3FN{4, 3, 7, false, false};
inline constexpr MiniFloat kE5M2{5, 2, 15, true, false};
inline constexpr MiniFloat kF16{5, 10, 15, true, true};

// float32 -> minifloat code (in the low ebits+mbits+1 bits of the result). Branch-free so that
// GCC can vectorize the calling loop.
template <MiniFloat F>
inline uint32_t mini_encode(float x) {
  constexpr int kShift = 23 - F.mbits;                         // dropped mantissa bits
  constexpr uint32_t kSignBit = 1u << (F.ebits + F.mbits);
  constexpr uint32_t kAllOnesExp = ((1u << F.ebits) - 1) << F.mbits;
  constexpr uint32_t kInfCode = kAllOnesExp;                   // ieee only
  constexpr uint32_t kFnNanCode = kSignBit - 1;                // S.111..1 (fn only)
  // Largest magnitude code a finite overflow may produce: inf for ieee formats, the NaN code for
  // fn formats (rounding past the largest finite value lands exactly there, as in ml_dtypes).
  constexpr uint32_t kClampCode = F.ieee ? kInfCode : kFnNanCode;
  constexpr uint32_t kQuietNan = F.ieee ? (kInfCode | (1u << (F.mbits - 1))) : kFnNanCode;
  // float32 bits of the smallest normal of the format: 2^(1-bias).
  constexpr uint32_t kMinNormalBits = uint32_t(127 + 1 - F.bias) << 23;
  // Adding this to a value below the smallest normal rounds (RNE, in hardware) at exactly the
  // format's subnormal spacing 2^(1-bias-mbits); the sum's low bits are then the subnormal code.
  constexpr float kMagic = pow2f(24 - F.bias - F.mbits);
  static_assert(F.bias < 127 && F.mbits <= 22, "format must be narrower than float32");

  const uint32_t bits = f2u(x);
  const uint32_t sign = (bits >> 31) * kSignBit;
  const uint32_t a = bits & 0x7fffffffu;

  // Normal range: rebias the exponent in place, then round the mantissa to nearest even. A carry
  // out of the mantissa increments the exponent, which is exactly right.
  const uint32_t rebased = a - (uint32_t(127 - F.bias) << 23);
  const uint32_t normal =
      (rebased + ((1u << (kShift - 1)) - 1) + ((rebased >> kShift) & 1u)) >> kShift;
  // Subnormal range (may round up to the smallest normal, whose code is 1 << mbits).
  const uint32_t sub = f2u(u2f(a) + kMagic) - f2u(kMagic);

  uint32_t mag = a < kMinNormalBits ? sub : std::min(normal, kClampCode);
  uint32_t nan = kQuietNan;
  if constexpr (F.keep_nan_payload) nan |= (a >> kShift) & ((1u << F.mbits) - 1);
  mag = a > 0x7f800000u ? nan : mag;
  return sign | mag;
}

// minifloat code -> float32 (exact). Used to build the fp8 tables and as the float16 fallback.
template <MiniFloat F>
inline float mini_decode(uint32_t code) {
  constexpr int kShift = 23 - F.mbits;
  constexpr uint32_t kExpMax = (1u << F.ebits) - 1;
  constexpr uint32_t kManMax = (1u << F.mbits) - 1;
  const uint32_t sign = ((code >> (F.ebits + F.mbits)) & 1u) << 31;
  const uint32_t e = (code >> F.mbits) & kExpMax;
  const uint32_t m = code & kManMax;
  uint32_t out;
  if (e == 0) {
    // Subnormal (or zero): m * 2^(1-bias-mbits) is exact in float32.
    out = f2u(float(m) * pow2f(1 - F.bias - F.mbits));
  } else if (F.ieee && e == kExpMax) {
    out = m == 0 ? 0x7f800000u
                 : (F.keep_nan_payload ? 0x7fc00000u | (m << kShift) : 0x7fc00000u);
  } else if (!F.ieee && e == kExpMax && m == kManMax) {
    out = 0x7fc00000u;
  } else {
    out = ((e - F.bias + 127) << 23) | (m << kShift);
  }
  return u2f(sign | out);
}

template <MiniFloat F>
const std::array<float, 256>& fp8_table() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (uint32_t c = 0; c < 256; ++c) t[c] = mini_decode<F>(c);
    return t;
  }();
  return table;
}

// ------------------------------------------------------------------------------------------------
// bfloat16 / tfloat32 (bit arithmetic on the float32 pattern)
// ------------------------------------------------------------------------------------------------

inline uint16_t bf16_encode(float x) {
  const uint32_t b = f2u(x);
  const uint32_t rounded = (b + 0x7fffu + ((b >> 16) & 1u)) >> 16;  // RNE; carries are correct
  const uint32_t nan = ((b >> 16) & 0x8000u) | 0x7fc0u;  // sign | canonical quiet NaN (ml_dtypes)
  return uint16_t((b & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

inline float tf32_round(float x) {
  const uint32_t b = f2u(x);
  const uint32_t rounded = (b + 0xfffu + ((b >> 13) & 1u)) & 0xffffe000u;
  const uint32_t nan = (b | 0x00400000u) & 0xffffe000u;  // quiet, keeps the top payload bits
  return u2f((b & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

// ------------------------------------------------------------------------------------------------
// float16: F16C when available, the generic minifloat code otherwise (and for loop tails).
// ------------------------------------------------------------------------------------------------

inline uint16_t f16_encode_scalar(float x) {
#if NKISIM_HAVE_F16C
  return _cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT);  // identical to the vector instruction
#else
  return uint16_t(mini_encode<kF16>(x));
#endif
}

inline float f16_decode_scalar(uint16_t h) {
#if NKISIM_HAVE_F16C
  return _cvtsh_ss(h);  // identical to the vector instruction, NaNs included
#else
  return mini_decode<kF16>(h);
#endif
}

void f16_to_f32(const void* src, float* dst, size_t n) {
  size_t i = 0;
#if NKISIM_HAVE_F16C
  const char* s = static_cast<const char*>(src);
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 2 * i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
#endif
  for (; i < n; ++i) dst[i] = f16_decode_scalar(load<uint16_t>(src, i));
}

void f32_to_f16(const float* src, void* dst, size_t n) {
  size_t i = 0;
#if NKISIM_HAVE_F16C
  char* d = static_cast<char*>(dst);
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 2 * i), h);
  }
#endif
  for (; i < n; ++i) store<uint16_t>(dst, i, f16_encode_scalar(src[i]));
}

// ------------------------------------------------------------------------------------------------
// float32 -> integer: round half to even, saturate, NaN -> 0. Branch-free (selects only).
// ------------------------------------------------------------------------------------------------

template <typename I>
inline I f32_to_int(float x) {
  using L = std::numeric_limits<I>;
  // rint rounds half to even in the default rounding mode and compiles to vroundps.
  // NaN is replaced by 0 before anything else (converting a NaN to an integer is UB in C++).
  const float r = (x == x) ? std::rint(x) : 0.0f;
  if constexpr (sizeof(I) <= 2) {
    // The whole range is exactly representable: clamp in float, then convert.
    const float c = std::min(std::max(r, float(L::min())), float(L::max()));
    return I(int32_t(c));
  } else if constexpr (std::is_signed_v<I>) {
    // int32: [-2^31, 2^31) are the floats that convert; 2^31 and above saturate.
    constexpr float kTop = 2147483648.0f;
    const float c = std::min(std::max(r, -kTop), 2147483520.0f);  // largest float below 2^31
    const I v = I(c);
    return r >= kTop ? L::max() : v;
  } else {
    // uint32: [0, 2^32) convert; 2^32 and above saturate.
    constexpr float kTop = 4294967296.0f;
    const float c = std::min(std::max(r, 0.0f), 4294967040.0f);  // largest float below 2^32
    const I v = I(c);
    return r >= kTop ? L::max() : v;
  }
}

inline int64_t f32_to_i64(float x) {
  constexpr float kTop = 9223372036854775808.0f;  // 2^63
  const float r = (x == x) ? std::rint(x) : 0.0f;  // NaN -> 0
  const float c = std::min(std::max(r, -kTop), 9223371487098961920.0f);  // largest float < 2^63
  const int64_t v = int64_t(c);
  return r >= kTop ? std::numeric_limits<int64_t>::max() : v;
}

// ------------------------------------------------------------------------------------------------
// Typed loops. Each is a plain counted loop with no calls inside, so GCC vectorizes it.
// ------------------------------------------------------------------------------------------------

template <typename S>
void ints_to_f32(const void* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = float(load<S>(src, i));  // RNE like a C cast
}

template <typename I>
void f32_to_ints(const float* src, void* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) store<I>(dst, i, f32_to_int<I>(src[i]));
}

template <MiniFloat F>
void fp8_to_f32(const void* src, float* dst, size_t n) {
  const float* table = fp8_table<F>().data();
  const auto* s = static_cast<const uint8_t*>(src);
  for (size_t i = 0; i < n; ++i) dst[i] = table[s[i]];
}

template <MiniFloat F>
void f32_to_fp8(const float* src, void* dst, size_t n) {
  auto* d = static_cast<uint8_t*>(dst);
  for (size_t i = 0; i < n; ++i) d[i] = uint8_t(mini_encode<F>(src[i]));
}

template <typename S, bool kSigned>
void ints_to_i64(const void* src, int64_t* dst, size_t n) {
  using U = std::make_unsigned_t<S>;
  if constexpr (kSigned) {
    for (size_t i = 0; i < n; ++i) dst[i] = int64_t(load<S>(src, i));
  } else {
    for (size_t i = 0; i < n; ++i) dst[i] = int64_t(load<U>(src, i));
  }
}

template <typename U>
void i64_to_ints(const int64_t* src, void* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) store<U>(dst, i, U(uint64_t(src[i])));  // wraps (two's complement)
}

constexpr size_t kChunk = 512;  // stack buffer for float dtypes in the int64 paths

}  // namespace

// ------------------------------------------------------------------------------------------------
// Public conversions
// ------------------------------------------------------------------------------------------------

void to_f32(DType t, const void* src, float* dst, size_t n) {
  switch (t) {
    case DType::bool_: {
      const auto* s = static_cast<const uint8_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = s[i] != 0 ? 1.0f : 0.0f;  // any nonzero byte is true
      return;
    }
    case DType::int8: return ints_to_f32<int8_t>(src, dst, n);
    case DType::int16: return ints_to_f32<int16_t>(src, dst, n);
    case DType::int32: return ints_to_f32<int32_t>(src, dst, n);
    case DType::uint8: return ints_to_f32<uint8_t>(src, dst, n);
    case DType::uint16: return ints_to_f32<uint16_t>(src, dst, n);
    case DType::uint32: return ints_to_f32<uint32_t>(src, dst, n);
    case DType::float16: return f16_to_f32(src, dst, n);
    case DType::float32:
    case DType::tfloat32:  // float32 container: the stored value is the value
      if (n) std::memmove(dst, src, n * sizeof(float));
      return;
    case DType::bfloat16:
      for (size_t i = 0; i < n; ++i) dst[i] = u2f(uint32_t(load<uint16_t>(src, i)) << 16);
      return;
    case DType::float8_e4m3: return fp8_to_f32<kE4M3>(src, dst, n);
    case DType::float8_e4m3fn: return fp8_to_f32<kE4M3FN>(src, dst, n);
    case DType::float8_e5m2: return fp8_to_f32<kE5M2>(src, dst, n);
    case DType::float8_e5m2_x4:
    case DType::float8_e4m3fn_x4:
    case DType::float4_e2m1fn_x4: throw_packed(t, "to_f32");
  }
  throw ValidationError("to_f32: invalid dtype id " + std::to_string(int(t)));
}

void from_f32(DType t, const float* src, void* dst, size_t n) {
  switch (t) {
    case DType::bool_: {
      // Choice: NaN -> 1 (true). NaN is "nonzero" (NaN != 0 is true), matching numpy's
      // astype(bool) and C++'s bool(NaN).
      auto* d = static_cast<uint8_t*>(dst);
      for (size_t i = 0; i < n; ++i) d[i] = src[i] != 0.0f ? 1 : 0;
      return;
    }
    case DType::int8: return f32_to_ints<int8_t>(src, dst, n);
    case DType::int16: return f32_to_ints<int16_t>(src, dst, n);
    case DType::int32: return f32_to_ints<int32_t>(src, dst, n);
    case DType::uint8: return f32_to_ints<uint8_t>(src, dst, n);
    case DType::uint16: return f32_to_ints<uint16_t>(src, dst, n);
    case DType::uint32: return f32_to_ints<uint32_t>(src, dst, n);
    case DType::float16: return f32_to_f16(src, dst, n);
    case DType::float32:
      if (n) std::memmove(dst, src, n * sizeof(float));
      return;
    case DType::bfloat16:
      for (size_t i = 0; i < n; ++i) store<uint16_t>(dst, i, bf16_encode(src[i]));
      return;
    case DType::tfloat32:
      for (size_t i = 0; i < n; ++i) store<float>(dst, i, tf32_round(src[i]));
      return;
    case DType::float8_e4m3: return f32_to_fp8<kE4M3>(src, dst, n);
    case DType::float8_e4m3fn: return f32_to_fp8<kE4M3FN>(src, dst, n);
    case DType::float8_e5m2: return f32_to_fp8<kE5M2>(src, dst, n);
    case DType::float8_e5m2_x4:
    case DType::float8_e4m3fn_x4:
    case DType::float4_e2m1fn_x4: throw_packed(t, "from_f32");
  }
  throw ValidationError("from_f32: invalid dtype id " + std::to_string(int(t)));
}

void to_i64(DType t, const void* src, int64_t* dst, size_t n, bool raw_bits) {
  if (is_packed(t)) throw_packed(t, "to_i64");
  if (raw_bits) {
    // Zero-extend the stored bit pattern, whatever the dtype.
    switch (size_of(t)) {
      case 1: return ints_to_i64<uint8_t, false>(src, dst, n);
      case 2: return ints_to_i64<uint16_t, false>(src, dst, n);
      default: return ints_to_i64<uint32_t, false>(src, dst, n);
    }
  }
  switch (t) {
    case DType::bool_: {
      const auto* s = static_cast<const uint8_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = s[i] != 0;
      return;
    }
    case DType::int8: return ints_to_i64<int8_t, true>(src, dst, n);
    case DType::int16: return ints_to_i64<int16_t, true>(src, dst, n);
    case DType::int32: return ints_to_i64<int32_t, true>(src, dst, n);
    case DType::uint8: return ints_to_i64<uint8_t, false>(src, dst, n);
    case DType::uint16: return ints_to_i64<uint16_t, false>(src, dst, n);
    case DType::uint32: return ints_to_i64<uint32_t, false>(src, dst, n);
    default: break;
  }
  // Float dtypes: widen to float32 (exact), then round half to even and saturate (NaN -> 0).
  float buf[kChunk];
  const auto* s = static_cast<const char*>(src);
  const size_t esz = size_of(t);
  for (size_t base = 0; base < n; base += kChunk) {
    const size_t m = std::min(kChunk, n - base);
    to_f32(t, s + base * esz, buf, m);
    for (size_t i = 0; i < m; ++i) dst[base + i] = f32_to_i64(buf[i]);
  }
}

void from_i64(DType t, const int64_t* src, void* dst, size_t n) {
  switch (t) {
    case DType::bool_: {
      // bool is not wrapped (256 would become false): nonzero -> 1.
      auto* d = static_cast<uint8_t*>(dst);
      for (size_t i = 0; i < n; ++i) d[i] = src[i] != 0 ? 1 : 0;
      return;
    }
    case DType::int8:
    case DType::uint8: return i64_to_ints<uint8_t>(src, dst, n);
    case DType::int16:
    case DType::uint16: return i64_to_ints<uint16_t>(src, dst, n);
    case DType::int32:
    case DType::uint32: return i64_to_ints<uint32_t>(src, dst, n);
    case DType::float8_e5m2_x4:
    case DType::float8_e4m3fn_x4:
    case DType::float4_e2m1fn_x4: throw_packed(t, "from_i64");
    default: break;
  }
  // Float dtypes: int64 -> float32 (RNE, like a C cast), then float32 -> dtype (RNE). The two
  // roundings can differ from a single rounding only for |v| >= 2^24 landing on a tie.
  float buf[kChunk];
  auto* d = static_cast<char*>(dst);
  const size_t esz = size_of(t);
  for (size_t base = 0; base < n; base += kChunk) {
    const size_t m = std::min(kChunk, n - base);
    for (size_t i = 0; i < m; ++i) buf[i] = float(src[base + i]);
    from_f32(t, buf, d + base * esz, m);
  }
}

// ------------------------------------------------------------------------------------------------
// Packed x4 microscaling dtypes (issue 10)
// ------------------------------------------------------------------------------------------------

namespace {
// float4_e2m1fn: 1 sign, 2 exponent (bias 1), 1 mantissa bit; no inf, no NaN. The "fn" minifloat
// encoder saturates overflow to the largest code (6.0), as ml_dtypes does.
inline constexpr MiniFloat kE2M1FN{2, 1, 1, false, false};
constexpr float kFp4Values[16] = {0.f,  0.5f,  1.f,  1.5f,  2.f,  3.f,  4.f,  6.f,
                                  -0.f, -0.5f, -1.f, -1.5f, -2.f, -3.f, -4.f, -6.f};
}  // namespace

float fp4_e2m1fn_to_f32(uint8_t code) { return kFp4Values[code & 15u]; }
uint8_t f32_to_fp4_e2m1fn(float x) {
  return x != x ? uint8_t{8} : uint8_t(mini_encode<kE2M1FN>(x));  // NaN -> -0 (ml_dtypes)
}

const float* fp8_decode_table(DType t) {
  switch (t) {
    case DType::float8_e4m3: return fp8_table<kE4M3>().data();
    case DType::float8_e4m3fn:
    case DType::float8_e4m3fn_x4: return fp8_table<kE4M3FN>().data();
    case DType::float8_e5m2:
    case DType::float8_e5m2_x4: return fp8_table<kE5M2>().data();
    default: throw ValidationError("fp8_decode_table: " + std::string(name(t)) + " is not an fp8 dtype");
  }
}

uint8_t f32_to_fp8_code(DType t, float x) {
  switch (t) {
    case DType::float8_e4m3: return uint8_t(mini_encode<kE4M3>(x));
    case DType::float8_e4m3fn:
    case DType::float8_e4m3fn_x4: return uint8_t(mini_encode<kE4M3FN>(x));
    case DType::float8_e5m2:
    case DType::float8_e5m2_x4: return uint8_t(mini_encode<kE5M2>(x));
    default: throw ValidationError("f32_to_fp8_code: " + std::string(name(t)) + " is not an fp8 dtype");
  }
}

void x4_to_f32(DType t, const void* src, float* dst, size_t n) {
  switch (t) {
    case DType::float8_e5m2_x4: return fp8_to_f32<kE5M2>(src, dst, 4 * n);
    case DType::float8_e4m3fn_x4: return fp8_to_f32<kE4M3FN>(src, dst, 4 * n);
    case DType::float4_e2m1fn_x4: {
      const auto* s = static_cast<const uint8_t*>(src);
      for (size_t i = 0; i < 2 * n; ++i) {
        dst[2 * i] = kFp4Values[s[i] & 15u];
        dst[2 * i + 1] = kFp4Values[s[i] >> 4];
      }
      return;
    }
    default: throw ValidationError("x4_to_f32: " + std::string(name(t)) + " is not a packed x4 dtype");
  }
}

void x4_from_f32(DType t, const float* src, void* dst, size_t n) {
  switch (t) {
    case DType::float8_e5m2_x4: return f32_to_fp8<kE5M2>(src, dst, 4 * n);
    case DType::float8_e4m3fn_x4: return f32_to_fp8<kE4M3FN>(src, dst, 4 * n);
    case DType::float4_e2m1fn_x4: {
      auto* d = static_cast<uint8_t*>(dst);
      for (size_t i = 0; i < 2 * n; ++i)
        d[i] = uint8_t(f32_to_fp4_e2m1fn(src[2 * i]) | (f32_to_fp4_e2m1fn(src[2 * i + 1]) << 4));
      return;
    }
    default: throw ValidationError("x4_from_f32: " + std::string(name(t)) + " is not a packed x4 dtype");
  }
}

// ------------------------------------------------------------------------------------------------
// Scalar helpers
// ------------------------------------------------------------------------------------------------

float round_to(DType t, float x) {
  if (is_packed(t)) throw_packed(t, "round_to");
  alignas(8) unsigned char tmp[8];
  float out;
  from_f32(t, &x, tmp, 1);
  to_f32(t, tmp, &out, 1);
  return out;
}

uint16_t f32_to_bf16_bits(float x) { return bf16_encode(x); }
float bf16_bits_to_f32(uint16_t b) { return u2f(uint32_t(b) << 16); }

uint16_t f32_to_f16_bits(float x) { return f16_encode_scalar(x); }
float f16_bits_to_f32(uint16_t b) { return f16_decode_scalar(b); }

}  // namespace nkisim
