// nkisim: NKI element types and exact, vectorized conversions to and from float32.
//
// Engines read any dtype, compute in float32 (or in 64-bit integer lanes for exact integer
// paths), and round once when they write. Everything that converts goes through this file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace nkisim {

// The 17 dtypes of nki.language 0.3.0. The order is part of the C++ API (the Python side uses the
// integer ids), append only.
enum class DType : uint8_t {
  bool_ = 0,
  int8,
  int16,
  int32,
  uint8,
  uint16,
  uint32,
  float16,
  float32,
  bfloat16,
  tfloat32,
  float8_e4m3,
  float8_e4m3fn,
  float8_e5m2,
  float8_e5m2_x4,
  float8_e4m3fn_x4,
  float4_e2m1fn_x4,
};
inline constexpr int kNumDTypes = 17;

struct DTypeInfo {
  std::string_view name;  // the nki.language string, e.g. "bfloat16"
  uint8_t size;           // bytes of one element in memory
  bool is_float;          // any floating format (incl. tfloat32, fp8)
  bool is_int;            // int8..uint32 and bool_
  bool is_signed;         // for ints
  bool is_packed;         // the x4 microscaling containers: not convertible, raw copies only
};

extern const DTypeInfo kDTypeInfo[kNumDTypes];
[[noreturn]] void invalid_dtype(DType t);  // throws ValidationError
// Inline: dtype facts are read on every instruction's path.
inline const DTypeInfo& info(DType t) {
  const auto i = static_cast<size_t>(t);
  if (i >= static_cast<size_t>(kNumDTypes)) [[unlikely]] invalid_dtype(t);
  return kDTypeInfo[i];
}
inline std::string_view name(DType t) { return info(t).name; }
inline size_t size_of(DType t) { return info(t).size; }
inline bool is_float(DType t) { return info(t).is_float; }
inline bool is_int(DType t) { return info(t).is_int; }
inline bool is_packed(DType t) { return info(t).is_packed; }
// Parses an nki.language dtype name; throws ValidationError for unknown names.
DType dtype_from_name(std::string_view name);

// Contiguous conversions. `src`/`dst` point at n elements of the given dtype.
//  - to float32: exact (every format here widens exactly); ints convert as values.
//  - from float32: round-to-nearest-even. Float formats follow ml_dtypes (overflow -> inf for
//    formats with inf, NaN for the "fn" formats without inf; NaN stays NaN). tfloat32 keeps 10
//    mantissa bits inside a float32 container. Integers: round half to even, saturate to the
//    range, NaN -> 0. bool_: nonzero -> 1.
//  Packed x4 dtypes throw UnsupportedError (they are moved bit-exactly, never converted).
void to_f32(DType t, const void* src, float* dst, size_t n);
void from_f32(DType t, const float* src, void* dst, size_t n);

// Integer lanes for exact integer paths (bitvec ops, int32 arithmetic on GpSimd).
//  - to_i64 with raw_bits=true zero-extends the bit pattern (bitvec semantics), otherwise
//    sign-extends signed types. Float dtypes are rounded to nearest even (raw_bits=true gives the
//    bit pattern of the float).
//  - from_i64 truncates to the dtype's width (wraps) for integer dtypes; for float dtypes it
//    converts the value.
void to_i64(DType t, const void* src, int64_t* dst, size_t n, bool raw_bits);
void from_i64(DType t, const int64_t* src, void* dst, size_t n);

// The packed x4 microscaling dtypes (issue 10): each element holds 4 values, value k of an fp8 x4
// element in byte k (little-endian uint32 container), value k of float4_e2m1fn_x4 in bits 4k..4k+3
// (uint16 container). x4_to_f32 widens n packed elements to 4n float32 values (exact); x4_from_f32
// packs 4n values into n elements, rounding to nearest even like ml_dtypes (float8_e4m3fn: overflow
// and NaN -> NaN; float8_e5m2: overflow -> inf; float4_e2m1fn: saturates to +-6, NaN -> -0).
// Other dtypes throw ValidationError.
void x4_to_f32(DType t, const void* src, float* dst, size_t n);
void x4_from_f32(DType t, const float* src, void* dst, size_t n);
// The 4 values of one packed element, as float32 (table lookups; fp4 codes 0..15).
float fp4_e2m1fn_to_f32(uint8_t code);
uint8_t f32_to_fp4_e2m1fn(float x);
// Decode tables for the fp8 formats (256 entries, exact).
const float* fp8_decode_table(DType t);  // float8_e4m3, float8_e4m3fn, float8_e5m2 (+ their x4)
uint8_t f32_to_fp8_code(DType t, float x);  // the same formats, RNE as from_f32

// Scalar helpers (tests, immediates).
float round_to(DType t, float x);  // from_f32 then to_f32 of one value
uint16_t f32_to_bf16_bits(float x);
float bf16_bits_to_f32(uint16_t b);
uint16_t f32_to_f16_bits(float x);
float f16_bits_to_f32(uint16_t b);

}  // namespace nkisim
