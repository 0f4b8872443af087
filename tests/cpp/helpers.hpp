// Helpers for the Catch2 tests: build tensors in a core's memory and read them back.
#pragma once

#include <cstring>
#include <vector>

#include "nkisim/nkisim.hpp"

namespace nkisim::test {

// An HBM tensor holding `values` (converted to dtype).
inline Tensor hbm(const std::vector<int64_t>& shape, const std::vector<float>& values,
                  DType t = DType::float32) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  auto a = make_hbm(Buffer::shared_hbm, n * static_cast<int64_t>(size_of(t)), t, "hbm");
  if (!values.empty()) from_f32(t, values.data(), a->data, values.size());
  return Tensor(a, t, shape);
}

// Read any tensor back as float32 in row-major order of its view.
inline std::vector<float> read(const Tensor& v) {
  std::vector<float> out;
  const Strided s = v.strided();
  std::vector<int64_t> idx(s.ndim, 0);
  const int64_t n = v.size();
  for (int64_t e = 0; e < n; ++e) {
    const std::byte* p = s.base;
    for (int d = 0; d < s.ndim; ++d) p += idx[d] * s.stride[d];
    float f;
    to_f32(v.dtype(), p, &f, 1);
    out.push_back(f);
    for (int d = s.ndim - 1; d >= 0; --d) {
      if (++idx[d] < s.count[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

// Load an SBUF tile from values through dma_copy (the same path kernels use).
inline Tensor sbuf(Interpreter& in, const std::vector<int64_t>& shape, const std::vector<float>& values,
                   DType t = DType::float32) {
  Tensor tile = in.allocate(Buffer::sbuf, shape, t, "tile");
  Tensor src = hbm(shape, values, t);
  DmaCopyOp op;
  op.dst = tile;
  op.src = src;
  in.run(op);
  return tile;
}

inline std::vector<float> iota_values(int64_t n, float scale = 1.f, float shift = 0.f) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(i) * scale + shift;
  return v;
}

}  // namespace nkisim::test
