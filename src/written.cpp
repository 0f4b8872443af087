#include "written.hpp"

#include <cstring>

namespace nkisim::written {

namespace {
// The view's layout over the shadow map instead of the data.
Strided shadow_layout(const Tensor& t) {
  Strided s = t.strided();
  const Allocation& a = t.allocation();
  s.base = reinterpret_cast<std::byte*>(a.written) + (s.base - a.data);
  return s;
}

// Visit the innermost runs of a layout in row-major order: f(ptr, stride_bytes, len, outer_index)
// returns false to stop.
template <class F>
bool for_runs(const Strided& s, F&& f) {
  const int last = s.ndim - 1;
  int64_t idx[kMaxDims] = {};
  int64_t outer = 1;
  for (int d = 0; d < last; ++d) outer *= s.count[d];
  for (int64_t o = 0; o < outer; ++o) {
    std::byte* p = s.base;
    for (int d = 0; d < last; ++d) p += idx[d] * s.stride[d];
    if (!f(p, s.stride[last], s.count[last], idx)) return false;
    for (int d = last - 1; d >= 0; --d) {
      if (++idx[d] < s.count[d]) break;
      idx[d] = 0;
    }
  }
  return true;
}
}  // namespace

void begin_partial(const Allocation& a) {
  for (int p = 0; p < a.num_partitions; ++p) std::memset(a.written + p * a.partition_stride, 0, a.bytes);
  a.wstate = Allocation::WriteState::some;
}

void mark(const Tensor& t) {
  const int64_t es = static_cast<int64_t>(size_of(t.dtype()));
  for_runs(shadow_layout(t), [&](std::byte* p, int64_t stride, int64_t len, const int64_t*) {
    if (stride == es) std::memset(p, 1, len * es);
    else
      for (int64_t i = 0; i < len; ++i) std::memset(p + i * stride, 1, es);
    return true;
  });
}

bool first_unwritten(const Tensor& t, std::vector<int64_t>& index) {
  const Allocation& a = t.allocation();
  if (a.wstate == Allocation::WriteState::all) return false;
  const Strided s = shadow_layout(t);
  index.assign(t.ndim(), 0);
  if (a.wstate == Allocation::WriteState::none) return true;
  const int64_t es = static_cast<int64_t>(size_of(t.dtype()));
  const bool found = !for_runs(s, [&](std::byte* p, int64_t stride, int64_t len, const int64_t* outer) {
    int64_t hit = -1;
    if (stride == es) {
      if (const void* z = std::memchr(p, 0, len * es))
        hit = (static_cast<const std::byte*>(z) - p) / es;
    } else {
      for (int64_t i = 0; i < len && hit < 0; ++i)
        if (std::memchr(p + i * stride, 0, es)) hit = i;
    }
    if (hit < 0) return true;
    for (int d = 0; d + 1 < s.ndim; ++d) index[d] = outer[d];
    index[s.ndim - 1] = hit;
    return false;
  });
  if (!found && t.covers_allocation()) a.wstate = Allocation::WriteState::all;
  return found;
}

}  // namespace nkisim::written
