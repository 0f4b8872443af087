// Tests for nkisim/dtype.hpp: the dtype table, bit-exact float conversions (checked against
// known bit patterns, ml_dtypes answers, and a slow double-precision reference), integer
// rounding/saturation and the int64 lane paths.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "nkisim/dtype.hpp"
#include "nkisim/errors.hpp"

using namespace nkisim;

namespace {

float f(uint32_t bits) { return std::bit_cast<float>(bits); }
uint32_t bits(float x) { return std::bit_cast<uint32_t>(x); }
const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

// One-element helpers.
uint32_t enc(DType t, float x) {
  uint32_t out = 0;  // little-endian: the low size_of(t) bytes hold the element
  from_f32(t, &x, &out, 1);
  return out;
}
float dec(DType t, uint32_t code) {
  float out;
  to_f32(t, &code, &out, 1);
  return out;
}

// ---- Slow, obviously-correct reference for the small float formats (double arithmetic). ----
struct Fmt {
  int e, m, bias;
  bool ieee;  // exponent all-ones = inf/NaN; otherwise "fn": only S.1..1 is NaN, no inf
};
const Fmt kRefE4M3{4, 3, 7, true};
const Fmt kRefE4M3FN{4, 3, 7, false};
const Fmt kRefE5M2{5, 2, 15, true};
const Fmt kRefF16{5, 10, 15, true};
const Fmt kRefBF16{8, 7, 127, true};

uint32_t ref_inf_code(const Fmt& F) { return ((1u << F.e) - 1) << F.m; }
uint32_t ref_nan_code(const Fmt& F) {  // canonical quiet NaN, positive
  return F.ieee ? ref_inf_code(F) | (1u << (F.m - 1)) : (1u << (F.e + F.m)) - 1;
}
double ref_max_finite(const Fmt& F) {
  if (F.ieee) return (2.0 - std::ldexp(1.0, -F.m)) * std::ldexp(1.0, (1 << F.e) - 2 - F.bias);
  return (2.0 - std::ldexp(2.0, -F.m)) * std::ldexp(1.0, (1 << F.e) - 1 - F.bias);
}

// Decoded value of a code (NaN for NaN codes).
double ref_decode(const Fmt& F, uint32_t c) {
  const bool neg = (c >> (F.e + F.m)) & 1;
  const uint32_t e = (c >> F.m) & ((1u << F.e) - 1), m = c & ((1u << F.m) - 1);
  double v;
  if (F.ieee && e == (1u << F.e) - 1)
    v = m ? std::nan("") : INFINITY;
  else if (!F.ieee && e == (1u << F.e) - 1 && m == (1u << F.m) - 1)
    v = std::nan("");
  else if (e == 0)
    v = std::ldexp(double(m), 1 - F.bias - F.m);
  else
    v = std::ldexp(1.0 + std::ldexp(double(m), -F.m), int(e) - F.bias);
  return neg ? -v : v;
}

// Round-to-nearest-even of x into format F, with overflow to inf (ieee) or NaN (fn).
// NaN inputs give the canonical quiet NaN with the input's sign.
uint32_t ref_encode(const Fmt& F, float x) {
  const uint32_t sign = std::signbit(x) ? 1u << (F.e + F.m) : 0u;
  if (std::isnan(x)) return sign | ref_nan_code(F);
  const double a = std::fabs(double(x));
  if (a == 0) return sign;
  const int emin = 1 - F.bias;
  int ex;
  std::frexp(a, &ex);                   // a = frac * 2^ex, frac in [0.5, 1)
  const int E = std::max(ex - 1, emin);  // exponent of the quantum's binade
  const double q = std::ldexp(1.0, E - F.m);
  const double k = a / q;  // exact (power-of-two scaling in double)
  const double fl = std::floor(k), d = k - fl;
  const double r = d > 0.5 ? fl + 1 : d < 0.5 ? fl : (std::fmod(fl, 2.0) == 0 ? fl : fl + 1);
  const double v = r * q;
  if (v > ref_max_finite(F)) return sign | (F.ieee ? ref_inf_code(F) : ref_nan_code(F));
  if (v < std::ldexp(1.0, emin)) return sign | uint32_t(r);  // subnormal: code = multiple of q
  std::frexp(v, &ex);
  const int E2 = ex - 1;
  const uint32_t mant = uint32_t(v / std::ldexp(1.0, E2 - F.m) - std::ldexp(1.0, F.m));
  return sign | (uint32_t(E2 + F.bias) << F.m) | mant;
}

// Round half to even of a double, then clamp, NaN -> 0 (reference for the int paths).
double ref_round_sat(double x, double lo, double hi) {
  if (std::isnan(x)) return 0;
  const double fl = std::floor(x), d = x - fl;
  double r = d > 0.5 ? fl + 1 : d < 0.5 ? fl : (std::fmod(fl, 2.0) == 0 ? fl : fl + 1);
  return std::min(std::max(r, lo), hi);
}

// ~4.2M float32 patterns striding through the whole 2^32 space, plus every special value.
std::vector<float> strided_patterns() {
  std::vector<float> v;
  for (uint64_t b = 0; b < (1ull << 32); b += 1021) v.push_back(f(uint32_t(b)));
  for (uint32_t b : {0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00000u,
                     0x7f800001u, 0x00000001u, 0x807fffffu, 0x7f7fffffu, 0xff7fffffu})
    v.push_back(f(b));
  return v;
}

// For a small format: the midpoints between neighbouring finite codes (exact ties in float32), the
// floats right next to them, and the codes themselves.
std::vector<float> tie_patterns(const Fmt& F) {
  std::vector<float> v;
  const uint32_t n = 1u << (F.e + F.m);
  for (uint32_t c = 0; c + 1 < n; ++c) {
    const double a = ref_decode(F, c), b = ref_decode(F, c + 1);
    if (std::isnan(a) || std::isnan(b) || std::isinf(a) || std::isinf(b)) continue;
    const float mid = float((a + b) / 2);
    REQUIRE(double(mid) == (a + b) / 2);  // ties are exact in float32
    for (float s : {1.0f, -1.0f}) {
      const float m = s * mid;
      v.insert(v.end(), {m, std::nextafter(m, 0.0f), std::nextafter(m, s * kInf), s * float(a)});
    }
  }
  // Around the overflow threshold: max + half an ulp of the top binade, and neighbours.
  const double top = ref_max_finite(F);
  int ex;
  std::frexp(top, &ex);
  const float thr = float(top + std::ldexp(1.0, ex - 1 - F.m - 1));
  for (float s : {1.0f, -1.0f})
    v.insert(v.end(), {s * thr, std::nextafter(s * thr, 0.0f), std::nextafter(s * thr, s * kInf)});
  return v;
}

template <typename Code>
void check_against_reference(DType t, const Fmt& F, const std::vector<float>& in) {
  std::vector<Code> out(in.size());
  from_f32(t, in.data(), out.data(), in.size());
  size_t bad = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    uint32_t want = ref_encode(F, in[i]);
    uint32_t got = out[i];
    if (t == DType::float16 && std::isnan(in[i])) {
      // float16 keeps the truncated payload (F16C): sign | quiet NaN | top 10 payload bits.
      want = (bits(in[i]) >> 16 & 0x8000u) | 0x7e00u | (bits(in[i]) >> 13 & 0x3ffu);
    }
    if (got != want && bad++ < 10) {
      INFO("dtype " << name(t) << " input bits 0x" << std::hex << bits(in[i]) << " got 0x" << got
                    << " want 0x" << want);
      CHECK(got == want);
    }
  }
  CHECK(bad == 0);
}

}  // namespace

// ------------------------------------------------------------------------------------------------

TEST_CASE("dtype table and names", "[dtype]") {
  const char* names[] = {"bool",        "int8",          "int16",          "int32",
                         "uint8",       "uint16",        "uint32",         "float16",
                         "float32",     "bfloat16",      "tfloat32",       "float8_e4m3",
                         "float8_e4m3fn", "float8_e5m2", "float8_e5m2_x4", "float8_e4m3fn_x4",
                         "float4_e2m1fn_x4"};
  const int sizes[] = {1, 1, 2, 4, 1, 2, 4, 2, 4, 2, 4, 1, 1, 1, 4, 4, 2};
  for (int i = 0; i < kNumDTypes; ++i) {
    const auto t = static_cast<DType>(i);
    CHECK(name(t) == names[i]);
    CHECK(int(size_of(t)) == sizes[i]);
    CHECK(dtype_from_name(names[i]) == t);
    CHECK(is_packed(t) == (i >= 14));
    CHECK(is_float(t) == (i >= 7));
    CHECK(is_int(t) == (i <= 6));
  }
  CHECK(info(DType::int8).is_signed);
  CHECK_FALSE(info(DType::uint32).is_signed);
  CHECK(dtype_from_name("bool_") == DType::bool_);
  CHECK_THROWS_AS(dtype_from_name("xyz"), ValidationError);
  CHECK_THROWS_WITH(dtype_from_name("xyz"), Catch::Contains("unknown dtype 'xyz'; expected one of") &&
                                                Catch::Contains("float8_e4m3fn"));
  CHECK_THROWS_AS(dtype_from_name("float64"), ValidationError);
}

TEST_CASE("packed x4 dtypes are not convertible element-wise", "[dtype]") {
  for (DType t : {DType::float8_e5m2_x4, DType::float8_e4m3fn_x4, DType::float4_e2m1fn_x4}) {
    uint32_t raw[2] = {0, 0};
    float fl[2] = {0, 0};
    int64_t i64[2] = {0, 0};
    const std::string nm(name(t));
    CHECK_THROWS_AS(to_f32(t, raw, fl, 2), UnsupportedError);
    CHECK_THROWS_AS(from_f32(t, fl, raw, 2), UnsupportedError);
    CHECK_THROWS_AS(to_i64(t, raw, i64, 2, false), UnsupportedError);
    CHECK_THROWS_AS(to_i64(t, raw, i64, 2, true), UnsupportedError);
    CHECK_THROWS_AS(from_i64(t, i64, raw, 2), UnsupportedError);
    CHECK_THROWS_AS(round_to(t, 1.0f), UnsupportedError);
    CHECK_THROWS_WITH(to_f32(t, raw, fl, 2),
                      Catch::Contains(nm) && Catch::Contains("is a packed x4 type") &&
                          Catch::Contains("x4_to_f32"));
    CHECK_THROWS_WITH(from_i64(t, i64, raw, 2), Catch::Contains(nm));
  }
}

TEST_CASE("packed x4 dtypes convert 4 values per element", "[dtype][mx]") {
  // fp8 x4: value k in byte k (little-endian uint32).
  const uint32_t e5 = 0x3C003800u | 0x00C0u;  // bytes: C0 (-2.0), 38 (0.5), 00 (0), 3C (1.0)
  float v[4];
  x4_to_f32(DType::float8_e5m2_x4, &e5, v, 1);
  CHECK(v[0] == -2.0f);
  CHECK(v[1] == 0.5f);
  CHECK(v[2] == 0.0f);
  CHECK(v[3] == 1.0f);
  uint32_t back = 0;
  x4_from_f32(DType::float8_e5m2_x4, v, &back, 1);
  CHECK(back == e5);
  // e4m3fn: 1.0 = 0x38, 448 = 0x7E, overflow and NaN -> 0x7F (ml_dtypes).
  const float in[4] = {1.0f, 448.0f, 1000.0f, kNaN};
  x4_from_f32(DType::float8_e4m3fn_x4, in, &back, 1);
  CHECK(back == 0x7F7F7E38u);
  // fp4 x4: value k in bits 4k..4k+3 of a uint16; e2m1fn saturates at 6, NaN -> -0 (ml_dtypes).
  const float f4[8] = {0.5f, -6.0f, 100.0f, 2.5f, kNaN, 0.25f, 0.75f, -kInf};
  uint16_t p[2] = {0, 0};
  x4_from_f32(DType::float4_e2m1fn_x4, f4, p, 2);
  CHECK(p[0] == 0x47F1u);  // 0.5 -> 1, -6 -> F, 100 -> 7 (6.0), 2.5 -> 4 (2.0, tie to even)
  CHECK(p[1] == 0xF208u);  // NaN -> 8, 0.25 -> 0 (tie to even), 0.75 -> 2 (1.0), -inf -> F
  float out[8];
  x4_to_f32(DType::float4_e2m1fn_x4, p, out, 2);
  const float want[8] = {0.5f, -6.0f, 6.0f, 2.0f, -0.0f, 0.0f, 1.0f, -6.0f};
  for (int i = 0; i < 8; ++i) CHECK(out[i] == want[i]);
  CHECK(std::signbit(out[4]));
  for (int c = 0; c < 16; ++c) CHECK(f32_to_fp4_e2m1fn(fp4_e2m1fn_to_f32(uint8_t(c))) == (c == 8 ? 8 : c));
  CHECK_THROWS_AS(x4_to_f32(DType::bfloat16, p, out, 1), ValidationError);
}

TEST_CASE("bfloat16 known bit patterns", "[dtype][bf16]") {
  CHECK(f32_to_bf16_bits(1.0f) == 0x3F80);
  CHECK(f32_to_bf16_bits(f(0x3F808000)) == 0x3F80);  // tie, even stays
  CHECK(f32_to_bf16_bits(f(0x3F818000)) == 0x3F82);  // tie, odd rounds up
  CHECK(f32_to_bf16_bits(f(0x3F808001)) == 0x3F81);
  CHECK(f32_to_bf16_bits(f(0x3F807FFF)) == 0x3F80);
  CHECK(f32_to_bf16_bits(f(0x3FFF8000)) == 0x4000);  // carry into the exponent
  CHECK(f32_to_bf16_bits(f(0x7F7FFFFF)) == 0x7F80);  // FLT_MAX -> inf
  CHECK(f32_to_bf16_bits(f(0x7F7F7FFF)) == 0x7F7F);
  CHECK(f32_to_bf16_bits(-kInf) == 0xFF80);
  CHECK(f32_to_bf16_bits(-0.0f) == 0x8000);
  CHECK(f32_to_bf16_bits(f(0x00008000)) == 0x0000);  // subnormal tie -> even (0)
  CHECK(f32_to_bf16_bits(f(0x00018000)) == 0x0002);
  CHECK(f32_to_bf16_bits(f(0x007FFFFF)) == 0x0080);  // largest subnormal rounds to min normal
  // NaNs: canonical quiet NaN with the sign (ml_dtypes), including signalling and payload-only-low.
  CHECK(f32_to_bf16_bits(kNaN) == 0x7FC0);
  CHECK(f32_to_bf16_bits(f(0xFFC00000)) == 0xFFC0);
  CHECK(f32_to_bf16_bits(f(0x7F800001)) == 0x7FC0);
  CHECK(f32_to_bf16_bits(f(0x7FFFFFFF)) == 0x7FC0);
  CHECK(bits(bf16_bits_to_f32(0x3F80)) == 0x3F800000);
  CHECK(bits(bf16_bits_to_f32(0x8001)) == 0x80010000);
  CHECK(std::isnan(bf16_bits_to_f32(0x7FC1)));
  CHECK(enc(DType::bfloat16, 3.0f) == 0x4040);
  CHECK(dec(DType::bfloat16, 0xC040) == -3.0f);
}

TEST_CASE("float16 known bit patterns", "[dtype][f16]") {
  CHECK(f32_to_f16_bits(1.0f) == 0x3C00);
  CHECK(f32_to_f16_bits(65504.0f) == 0x7BFF);
  CHECK(f32_to_f16_bits(65519.0f) == 0x7BFF);
  CHECK(f32_to_f16_bits(65520.0f) == 0x7C00);  // tie between 65504 and 65536 -> inf
  CHECK(f32_to_f16_bits(-1e10f) == 0xFC00);
  CHECK(f32_to_f16_bits(5.9604645e-8f) == 0x0001);  // smallest subnormal 2^-24
  CHECK(f32_to_f16_bits(std::ldexp(1.0f, -25)) == 0x0000);            // tie -> even (0)
  CHECK(f32_to_f16_bits(std::nextafter(std::ldexp(1.0f, -25), 1.0f)) == 0x0001);
  CHECK(f32_to_f16_bits(std::ldexp(3.0f, -25)) == 0x0002);            // 1.5 ulp tie -> 2
  CHECK(f32_to_f16_bits(f(0x387FE000)) == 0x0400);  // largest subnormal + half ulp -> min normal
  CHECK(f32_to_f16_bits(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);  // tie, even
  CHECK(f32_to_f16_bits(1.0f + std::ldexp(3.0f, -11)) == 0x3C02);  // tie, odd -> up
  CHECK(f32_to_f16_bits(-0.0f) == 0x8000);
  CHECK(f32_to_f16_bits(kNaN) == 0x7E00);
  CHECK(f32_to_f16_bits(f(0xFFC00000)) == 0xFE00);
  CHECK(f32_to_f16_bits(f(0x7F800001)) == 0x7E00);  // signalling NaN is quieted
  CHECK(f16_bits_to_f32(0x0001) == std::ldexp(1.0f, -24));
  CHECK(f16_bits_to_f32(0x7BFF) == 65504.0f);
  CHECK(f16_bits_to_f32(0xFC00) == -kInf);
  CHECK(std::isnan(f16_bits_to_f32(0x7C01)));
  CHECK(std::isnan(f16_bits_to_f32(0x7E00)));
}

TEST_CASE("float16 vector body and scalar tail agree", "[dtype][f16]") {
  // Arrays of 9: element 0 goes through the 8-wide path, element 8 through the tail.
  for (uint32_t b : {0x3F800000u, 0x7F800001u, 0x7FA00000u, 0xFFFFFFFFu, 0x7FC00123u, 0x33800000u,
                     0x33000001u, 0x477FF000u, 0x00000001u, 0x807FFFFFu, 0x38800000u, 0xC0490FDBu}) {
    std::vector<float> in(9, f(b));
    std::vector<uint16_t> h(9);
    from_f32(DType::float16, in.data(), h.data(), 9);
    INFO("input 0x" << std::hex << b);
    CHECK(h[0] == h[8]);
    CHECK(h[0] == f32_to_f16_bits(f(b)));
  }
  for (uint32_t c = 0; c < 0x10000; c += 0x3F) {
    std::vector<uint16_t> h(9, uint16_t(c));
    std::vector<float> out(9);
    to_f32(DType::float16, h.data(), out.data(), 9);
    if (bits(out[0]) != bits(out[8])) FAIL("f16 decode mismatch for 0x" << std::hex << c);
  }
}

TEST_CASE("tfloat32 rounding", "[dtype][tf32]") {
  CHECK(round_to(DType::tfloat32, 1.0f + std::ldexp(1.0f, -11)) == 1.0f);  // tie, even
  CHECK(round_to(DType::tfloat32, 1.0f + std::ldexp(3.0f, -11)) == 1.0f + std::ldexp(1.0f, -9));
  CHECK(round_to(DType::tfloat32, 1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -23)) ==
        1.0f + std::ldexp(1.0f, -10));
  CHECK(bits(round_to(DType::tfloat32, f(0x3FFFF000))) == 0x40000000);  // carry into exponent
  CHECK(bits(round_to(DType::tfloat32, f(0x7F7FFFFF))) == 0x7F800000);  // overflow -> inf
  CHECK(bits(round_to(DType::tfloat32, f(0x00001000))) == 0x00000000);  // subnormal tie -> even
  CHECK(bits(round_to(DType::tfloat32, f(0x00003000))) == 0x00004000);
  CHECK(bits(round_to(DType::tfloat32, -0.0f)) == 0x80000000);
  CHECK(std::isnan(round_to(DType::tfloat32, f(0x7F800001))));  // payload only in low bits
  CHECK(std::isnan(round_to(DType::tfloat32, kNaN)));
  // Low 13 bits are always zero.
  for (uint64_t b = 0; b < (1ull << 32); b += 65537) {
    const float r = round_to(DType::tfloat32, f(uint32_t(b)));
    if (bits(r) & 0x1FFF) FAIL("tf32 low bits set for 0x" << std::hex << b);
  }
  // In-place conversion works.
  float buf[3] = {1.0f + std::ldexp(3.0f, -11), 2.0f, -kInf};
  from_f32(DType::tfloat32, buf, buf, 3);
  CHECK(buf[0] == 1.0f + std::ldexp(1.0f, -9));
  CHECK(buf[2] == -kInf);
}

TEST_CASE("fp8 known bit patterns (ml_dtypes answers)", "[dtype][fp8]") {
  using D = DType;
  // float8_e4m3: IEEE-like, max 240, has inf.
  CHECK(enc(D::float8_e4m3, 240.0f) == 0x77);
  CHECK(enc(D::float8_e4m3, 247.9f) == 0x77);
  CHECK(enc(D::float8_e4m3, 248.0f) == 0x78);  // tie between 240 and "256" -> inf
  CHECK(enc(D::float8_e4m3, 256.0f) == 0x78);
  CHECK(enc(D::float8_e4m3, 464.0f) == 0x78);
  CHECK(enc(D::float8_e4m3, -kInf) == 0xF8);
  CHECK(enc(D::float8_e4m3, kNaN) == 0x7C);
  CHECK(enc(D::float8_e4m3, -kNaN) == 0xFC);
  CHECK(enc(D::float8_e4m3, f(0x7FFFFFFF)) == 0x7C);
  CHECK(enc(D::float8_e4m3, std::ldexp(1.0f, -9)) == 0x01);  // smallest subnormal
  CHECK(enc(D::float8_e4m3, std::ldexp(1.0f, -10)) == 0x00);  // tie -> 0
  CHECK(enc(D::float8_e4m3, std::ldexp(3.0f, -11)) == 0x01);
  CHECK(dec(D::float8_e4m3, 0x77) == 240.0f);
  CHECK(dec(D::float8_e4m3, 0x78) == kInf);
  CHECK(dec(D::float8_e4m3, 0x01) == std::ldexp(1.0f, -9));
  CHECK(bits(dec(D::float8_e4m3, 0xFD)) == 0xFFC00000);

  // float8_e4m3fn: no inf, max 448, NaN = S.1111.111, overflow -> NaN.
  CHECK(enc(D::float8_e4m3fn, 448.0f) == 0x7E);
  CHECK(enc(D::float8_e4m3fn, 449.0f) == 0x7E);
  CHECK(enc(D::float8_e4m3fn, 464.0f) == 0x7E);  // tie between 448 (even) and 480 -> 448
  CHECK(enc(D::float8_e4m3fn, std::nextafter(464.0f, 1e9f)) == 0x7F);  // -> NaN
  CHECK(enc(D::float8_e4m3fn, 480.0f) == 0x7F);
  CHECK(enc(D::float8_e4m3fn, 1e6f) == 0x7F);
  CHECK(enc(D::float8_e4m3fn, kInf) == 0x7F);
  CHECK(enc(D::float8_e4m3fn, -kInf) == 0xFF);
  CHECK(enc(D::float8_e4m3fn, -kNaN) == 0xFF);
  CHECK(enc(D::float8_e4m3fn, 248.0f) == 0x78);  // 256 is finite here
  CHECK(enc(D::float8_e4m3fn, -0.0f) == 0x80);
  CHECK(enc(D::float8_e4m3fn, -1e-9f) == 0x80);
  CHECK(enc(D::float8_e4m3fn, f(0x00000001)) == 0x00);
  CHECK(enc(D::float8_e4m3fn, std::ldexp(3.0f, -11)) == 0x01);
  CHECK(dec(D::float8_e4m3fn, 0x7E) == 448.0f);
  CHECK(dec(D::float8_e4m3fn, 0x78) == 256.0f);
  CHECK(std::isnan(dec(D::float8_e4m3fn, 0x7F)));
  CHECK(bits(dec(D::float8_e4m3fn, 0xFF)) == 0xFFC00000);

  // float8_e5m2: IEEE-like, max 57344, has inf.
  CHECK(enc(D::float8_e5m2, 57344.0f) == 0x7B);
  CHECK(enc(D::float8_e5m2, 61439.0f) == 0x7B);
  CHECK(enc(D::float8_e5m2, 61440.0f) == 0x7C);  // tie -> inf
  CHECK(enc(D::float8_e5m2, 65536.0f) == 0x7C);
  CHECK(enc(D::float8_e5m2, 464.0f) == 0x5F);
  CHECK(enc(D::float8_e5m2, 480.0f) == 0x60);
  CHECK(enc(D::float8_e5m2, kNaN) == 0x7E);
  CHECK(enc(D::float8_e5m2, -kNaN) == 0xFE);
  CHECK(enc(D::float8_e5m2, std::ldexp(1.0f, -10)) == 0x14);
  CHECK(enc(D::float8_e5m2, std::ldexp(1.0f, -11)) == 0x10);
  CHECK(enc(D::float8_e5m2, std::ldexp(1.0f, -12)) == 0x0C);
  CHECK(enc(D::float8_e5m2, std::ldexp(3.0f, -11)) == 0x16);
  CHECK(enc(D::float8_e5m2, std::ldexp(1.0f, -16)) == 0x01);  // smallest subnormal
  CHECK(enc(D::float8_e5m2, std::ldexp(1.0f, -17)) == 0x00);  // tie -> 0
  CHECK(enc(D::float8_e5m2, std::ldexp(3.0f, -17)) == 0x02);  // tie -> even (2)
  CHECK(dec(D::float8_e5m2, 0x7B) == 57344.0f);
  CHECK(dec(D::float8_e5m2, 0xFC) == -kInf);
  CHECK(dec(D::float8_e5m2, 0x03) == std::ldexp(3.0f, -16));
  CHECK(bits(dec(D::float8_e5m2, 0x7D)) == 0x7FC00000);
}

TEST_CASE("fp8 decode matches reference and all non-NaN codes round-trip", "[dtype][fp8]") {
  struct Case {
    DType t;
    Fmt F;
  };
  for (const Case& c : {Case{DType::float8_e4m3, kRefE4M3}, Case{DType::float8_e4m3fn, kRefE4M3FN},
                        Case{DType::float8_e5m2, kRefE5M2}}) {
    uint8_t codes[256];
    for (int i = 0; i < 256; ++i) codes[i] = uint8_t(i);
    float vals[256];
    uint8_t back[256];
    to_f32(c.t, codes, vals, 256);
    from_f32(c.t, vals, back, 256);
    int nans = 0;
    for (int i = 0; i < 256; ++i) {
      INFO(name(c.t) << " code " << i);
      const double want = ref_decode(c.F, uint32_t(i));
      if (std::isnan(want)) {
        ++nans;
        CHECK(std::isnan(vals[i]));
        CHECK(std::signbit(vals[i]) == (i >= 128));
        CHECK(back[i] == (ref_nan_code(c.F) | (i & 0x80)));
        continue;
      }
      CHECK(double(vals[i]) == want);
      CHECK(std::signbit(vals[i]) == (i >= 128));
      CHECK(back[i] == i);
    }
    CHECK(nans == (c.t == DType::float8_e4m3fn ? 2 : c.t == DType::float8_e4m3 ? 14 : 6));
  }
}

TEST_CASE("small floats agree with the slow reference", "[dtype][exhaustive]") {
  const std::vector<float> in = strided_patterns();
  check_against_reference<uint16_t>(DType::bfloat16, kRefBF16, in);
  check_against_reference<uint16_t>(DType::float16, kRefF16, in);
  check_against_reference<uint8_t>(DType::float8_e4m3, kRefE4M3, in);
  check_against_reference<uint8_t>(DType::float8_e4m3fn, kRefE4M3FN, in);
  check_against_reference<uint8_t>(DType::float8_e5m2, kRefE5M2, in);
  // Exact ties and their neighbours for every pair of adjacent codes.
  check_against_reference<uint8_t>(DType::float8_e4m3, kRefE4M3, tie_patterns(kRefE4M3));
  check_against_reference<uint8_t>(DType::float8_e4m3fn, kRefE4M3FN, tie_patterns(kRefE4M3FN));
  check_against_reference<uint8_t>(DType::float8_e5m2, kRefE5M2, tie_patterns(kRefE5M2));
  check_against_reference<uint16_t>(DType::float16, kRefF16, tie_patterns(kRefF16));

  // Decoding every float16 code matches the reference.
  for (uint32_t c = 0; c < 0x10000; ++c) {
    const double want = ref_decode(kRefF16, c);
    const float got = f16_bits_to_f32(uint16_t(c));
    const bool ok = std::isnan(want) ? std::isnan(got) : double(got) == want;
    if (!ok) FAIL("f16 decode 0x" << std::hex << c);
  }
}

TEST_CASE("float32 to integers: round half to even, saturate, NaN -> 0", "[dtype][int]") {
  using D = DType;
  const auto as = [](D t, float x) -> int64_t {
    uint32_t raw = enc(t, x);
    int64_t out;
    to_i64(t, &raw, &out, 1, false);
    return out;
  };
  CHECK(as(D::int8, 300.0f) == 127);
  CHECK(as(D::int8, -300.0f) == -128);
  CHECK(as(D::int8, -128.5f) == -128);
  CHECK(as(D::uint8, -1.5f) == 0);
  CHECK(as(D::uint8, 255.5f) == 255);
  CHECK(as(D::int32, 2.5f) == 2);
  CHECK(as(D::int32, 3.5f) == 4);
  CHECK(as(D::int32, -2.5f) == -2);
  CHECK(as(D::int32, 0.5f) == 0);
  CHECK(as(D::int32, -0.5f) == 0);
  CHECK(as(D::int16, 1.5f) == 2);
  CHECK(as(D::int16, -32768.5f) == -32768);
  CHECK(as(D::int16, 40000.0f) == 32767);
  CHECK(as(D::uint16, 65535.5f) == 65535);
  CHECK(as(D::uint16, 70000.0f) == 65535);
  CHECK(as(D::int32, 2147483648.0f) == 2147483647);
  CHECK(as(D::int32, 2147483520.0f) == 2147483520);
  CHECK(as(D::int32, -2147483648.0f) == -2147483648ll);
  CHECK(as(D::int32, -1e20f) == -2147483648ll);
  CHECK(as(D::int32, kInf) == 2147483647);
  CHECK(as(D::uint32, 4294967296.0f) == 4294967295ll);
  CHECK(as(D::uint32, 4294967040.0f) == 4294967040ll);
  CHECK(as(D::uint32, 3e9f) == 3000000000ll);
  CHECK(as(D::uint32, -kInf) == 0);
  for (D t : {D::int8, D::int16, D::int32, D::uint8, D::uint16, D::uint32}) {
    CHECK(as(t, kNaN) == 0);
    CHECK(as(t, -kNaN) == 0);
  }
  // bool: nonzero -> 1, NaN counts as nonzero (numpy's astype(bool)).
  CHECK(enc(D::bool_, 0.0f) == 0);
  CHECK(enc(D::bool_, -0.0f) == 0);
  CHECK(enc(D::bool_, 0.25f) == 1);
  CHECK(enc(D::bool_, -3.0f) == 1);
  CHECK(enc(D::bool_, kNaN) == 1);
  CHECK(dec(D::bool_, 0) == 0.0f);
  CHECK(dec(D::bool_, 7) == 1.0f);

  // Bulk comparison against the reference (covers the vectorized loops and their tails).
  const std::vector<float> in = strided_patterns();
  struct R {
    D t;
    double lo, hi;
  };
  for (const R& r : {R{D::int8, -128, 127}, R{D::int16, -32768, 32767},
                     R{D::int32, -2147483648.0, 2147483647.0}, R{D::uint8, 0, 255},
                     R{D::uint16, 0, 65535}, R{D::uint32, 0, 4294967295.0}}) {
    std::vector<uint8_t> raw(in.size() * 4);
    std::vector<int64_t> got(in.size());
    from_f32(r.t, in.data(), raw.data(), in.size());
    to_i64(r.t, raw.data(), got.data(), in.size(), false);
    size_t bad = 0;
    for (size_t i = 0; i < in.size(); ++i)
      if (double(got[i]) != ref_round_sat(in[i], r.lo, r.hi)) ++bad;
    INFO(name(r.t));
    CHECK(bad == 0);
  }
}

TEST_CASE("integers to float32", "[dtype][int]") {
  const int32_t i32[] = {16777217, -16777219, 2147483647, -2147483647 - 1, 7};
  float out[5];
  to_f32(DType::int32, i32, out, 5);
  CHECK(out[0] == 16777216.0f);   // tie -> even
  CHECK(out[1] == -16777220.0f);  // tie -> even
  CHECK(out[2] == 2147483648.0f);
  CHECK(out[3] == -2147483648.0f);
  CHECK(out[4] == 7.0f);
  const uint32_t u32[] = {4294967295u, 3u};
  to_f32(DType::uint32, u32, out, 2);
  CHECK(out[0] == 4294967296.0f);
  CHECK(out[1] == 3.0f);
  const int8_t i8[] = {-128, 127, -1};
  to_f32(DType::int8, i8, out, 3);
  CHECK(out[0] == -128.0f);
  CHECK(out[2] == -1.0f);
  const uint16_t u16[] = {65535, 0};
  to_f32(DType::uint16, u16, out, 2);
  CHECK(out[0] == 65535.0f);
}

TEST_CASE("to_i64: raw bits and values", "[dtype][i64]") {
  int64_t out[4];
  const int8_t i8[] = {-1, 5, -128, 127};
  to_i64(DType::int8, i8, out, 4, true);
  CHECK(out[0] == 255);
  CHECK(out[2] == 128);
  to_i64(DType::int8, i8, out, 4, false);
  CHECK(out[0] == -1);
  CHECK(out[2] == -128);
  const int32_t i32[] = {-1, 2147483647};
  to_i64(DType::int32, i32, out, 2, true);
  CHECK(out[0] == 0xFFFFFFFFll);
  to_i64(DType::int32, i32, out, 2, false);
  CHECK(out[0] == -1);
  CHECK(out[1] == 2147483647);
  const uint16_t u16[] = {65535};
  to_i64(DType::uint16, u16, out, 1, false);
  CHECK(out[0] == 65535);
  const uint32_t u32[] = {0xFFFFFFFFu};
  to_i64(DType::uint32, u32, out, 1, false);
  CHECK(out[0] == 0xFFFFFFFFll);

  const float fl[] = {1.0f, -2.5f, 3.5f, kNaN};
  to_i64(DType::float32, fl, out, 4, true);
  CHECK(out[0] == 0x3F800000);
  CHECK(out[1] == 0xC0200000);
  to_i64(DType::float32, fl, out, 4, false);
  CHECK(out[0] == 1);
  CHECK(out[1] == -2);
  CHECK(out[2] == 4);
  CHECK(out[3] == 0);
  const float big[] = {1e30f, -1e30f, kInf, 9223371487098961920.0f};
  to_i64(DType::float32, big, out, 4, false);
  CHECK(out[0] == std::numeric_limits<int64_t>::max());
  CHECK(out[1] == std::numeric_limits<int64_t>::min());
  CHECK(out[2] == std::numeric_limits<int64_t>::max());
  CHECK(out[3] == 9223371487098961920ll);

  const uint16_t bf[] = {0x4040, 0xBFC0};  // 3.0, -1.5
  to_i64(DType::bfloat16, bf, out, 2, true);
  CHECK(out[0] == 0x4040);
  CHECK(out[1] == 0xBFC0);
  to_i64(DType::bfloat16, bf, out, 2, false);
  CHECK(out[0] == 3);
  CHECK(out[1] == -2);
  const uint8_t e4[] = {0x7E, 0xFE};  // e4m3fn 448, -448
  to_i64(DType::float8_e4m3fn, e4, out, 2, true);
  CHECK(out[1] == 0xFE);
  to_i64(DType::float8_e4m3fn, e4, out, 2, false);
  CHECK(out[0] == 448);
  CHECK(out[1] == -448);
  const uint8_t b[] = {0, 1, 9};
  to_i64(DType::bool_, b, out, 3, false);
  CHECK(out[2] == 1);
  to_i64(DType::bool_, b, out, 3, true);
  CHECK(out[2] == 9);

  // Longer than one internal chunk.
  std::vector<uint16_t> h(1500);
  for (size_t i = 0; i < h.size(); ++i) h[i] = f32_to_f16_bits(float(i) - 700.5f);
  std::vector<int64_t> v(h.size());
  to_i64(DType::float16, h.data(), v.data(), h.size(), false);
  bool ok = true;
  for (size_t i = 0; i < h.size(); ++i)
    ok &= v[i] == int64_t(ref_round_sat(f16_bits_to_f32(h[i]), -1e300, 1e300));
  CHECK(ok);
}

TEST_CASE("from_i64: integers wrap, floats convert", "[dtype][i64]") {
  const int64_t src[] = {300, -1, (1ll << 32) + 5, -129, 65536 + 7};
  int8_t i8[5];
  from_i64(DType::int8, src, i8, 5);
  CHECK(i8[0] == 44);
  CHECK(i8[1] == -1);
  CHECK(i8[2] == 5);
  CHECK(i8[3] == 127);
  uint8_t u8[5];
  from_i64(DType::uint8, src, u8, 5);
  CHECK(u8[1] == 255);
  uint16_t u16[5];
  from_i64(DType::uint16, src, u16, 5);
  CHECK(u16[1] == 65535);
  CHECK(u16[4] == 7);
  int32_t i32[5];
  from_i64(DType::int32, src, i32, 5);
  CHECK(i32[2] == 5);
  CHECK(i32[1] == -1);
  uint32_t u32[5];
  from_i64(DType::uint32, src, u32, 5);
  CHECK(u32[1] == 0xFFFFFFFFu);
  uint8_t bl[5];
  const int64_t bsrc[] = {0, 256, -1, 1, 2};
  from_i64(DType::bool_, bsrc, bl, 5);
  CHECK(bl[0] == 0);
  CHECK(bl[1] == 1);
  CHECK(bl[2] == 1);

  const int64_t fsrc[] = {3, 70000, -1000, 16777217};
  uint16_t bf[4], h[4];
  from_i64(DType::bfloat16, fsrc, bf, 4);
  CHECK(bf[0] == 0x4040);
  from_i64(DType::float16, fsrc, h, 4);
  CHECK(h[0] == 0x4200);
  CHECK(h[1] == 0x7C00);  // overflow -> inf
  uint8_t fn[4];
  from_i64(DType::float8_e4m3fn, fsrc, fn, 4);
  CHECK(fn[0] == 0x44);
  CHECK(fn[2] == 0xFF);  // -1000 overflows -> NaN
  float f32[4];
  from_i64(DType::float32, fsrc, f32, 4);
  CHECK(f32[3] == 16777216.0f);
  CHECK(f32[2] == -1000.0f);
}

TEST_CASE("unaligned buffers and lengths around vector widths", "[dtype]") {
  for (DType t : {DType::bfloat16, DType::float16, DType::float32, DType::tfloat32,
                  DType::float8_e4m3, DType::float8_e5m2, DType::int16, DType::int32,
                  DType::uint32}) {
    for (size_t n : {0u, 1u, 7u, 8u, 9u, 15u, 16u, 17u, 33u, 100u}) {
      std::vector<float> in(n);
      for (size_t i = 0; i < n; ++i) in[i] = float(i) * 0.75f - 10.0f;
      std::vector<unsigned char> raw(n * 4 + 1);
      std::vector<float> out(n + 1);
      from_f32(t, in.data(), raw.data() + 1, n);  // odd byte offset
      to_f32(t, raw.data() + 1, out.data() + 1, n);
      bool ok = true;
      for (size_t i = 0; i < n; ++i) ok &= bits(out[i + 1]) == bits(round_to(t, in[i]));
      INFO(name(t) << " n=" << n);
      CHECK(ok);
    }
  }
}
