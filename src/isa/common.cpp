#include "isa/common.hpp"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>

namespace nkisim::isa {

// ---------------------------------------------------------------- validation
std::string shape_of(const Tensor& t) {
  std::ostringstream o;
  o << "[";
  for (int d = 0; d < t.ndim(); ++d) o << (d ? ", " : "") << t.dim(d).count;
  o << "]";
  return o.str();
}

void Check::fail(std::string_view operand, const std::string& rule) const {
  std::string m = "nki.isa." + std::string(op);
  if (!operand.empty()) m += ": " + std::string(operand);
  m += ": " + rule;
  throw ValidationError(m);
}

void Check::buffer_in(std::string_view operand, const Tensor& t, unsigned allowed,
                      const Interpreter& in) const {
  if (!(allowed & (1u << static_cast<int>(t.buffer())))) {
    std::string list;
    if (allowed & kSbuf) list += "sbuf";
    if (allowed & kPsum) list += list.empty() ? "psum" : " or psum";
    if (allowed & kHbm) list += list.empty() ? "hbm" : " or hbm";
    fail(operand, "must be in " + list + ", found a tensor in " +
                      std::string(buffer_name(t.buffer())) + " (" + t.describe() + ")");
  }
  if (t.on_chip() && t.allocation().core != in.core_id())
    fail(operand, t.describe() + " lives in the " + std::string(buffer_name(t.buffer())) +
                      " of core " + std::to_string(t.allocation().core) +
                      ", but this instruction runs on core " + std::to_string(in.core_id()));
}

void Check::max_partitions(std::string_view operand, const Tensor& t, int64_t max) const {
  if (t.partitions() > max)
    fail(operand, "partition dimension " + std::to_string(t.partitions()) +
                      " exceeds the maximum " + std::to_string(max) + " (shape " + shape_of(t) +
                      ")");
}

void Check::same_layout(std::string_view operand, const Tensor& t, std::string_view ref_name,
                        const Tensor& ref) const {
  if (t.partitions() != ref.partitions())
    fail(operand, "partition dimension " + std::to_string(t.partitions()) + " (shape " +
                      shape_of(t) + ") must equal that of " + std::string(ref_name) + ", " +
                      std::to_string(ref.partitions()) + " (shape " + shape_of(ref) + ")");
  if (t.free_size() != ref.free_size())
    fail(operand, std::to_string(t.free_size()) + " elements per partition (shape " + shape_of(t) +
                      ") must equal those of " + std::string(ref_name) + ", " +
                      std::to_string(ref.free_size()) + " (shape " + shape_of(ref) + ")");
}

void Check::writable(std::string_view operand, const Tensor& t) const {
  if (t.allocation().read_only)
    fail(operand, t.describe() + " wraps a read-only array and cannot be written");
}

void Check::not_packed(std::string_view operand, const Tensor& t) const {
  if (is_packed(t.dtype()))
    fail(operand, "packed dtype " + std::string(name(t.dtype())) +
                      " cannot be computed on by this instruction (only moved by dma_copy or "
                      "consumed by nc_matmul_mx)");
}

void Check::second_input(std::string_view operand, const Tensor& t, std::string_view ref_name,
                         const Tensor& ref) const {
  not_packed(operand, t);
  same_layout(operand, t, ref_name, ref);
  if (t.buffer() == Buffer::psum && ref.buffer() == Buffer::psum)
    fail(operand, std::string(ref_name) + " and " + std::string(operand) + " cannot both be in psum");
}

void Check::scalar_or_vector(std::string_view operand, const Operand& o, int64_t partitions,
                             bool float32_only, const Interpreter& in) const {
  if (!o.present || !o.tile) return;
  const Tensor& t = *o.tile;
  buffer_in(operand, t, kOnChip, in);
  if (t.partitions() != partitions || t.free_size() != 1)
    fail(operand, "a vector operand must have shape (" + std::to_string(partitions) +
                      ", 1), one value per partition, found shape " + shape_of(t));
  if (float32_only && t.dtype() != DType::float32)
    fail(operand, "a vector operand of an arithmetic op must be float32, found " +
                      std::string(name(t.dtype())));
}

void Check::engine_in(Engine e, std::initializer_list<Engine> allowed) const {
  if (e == Engine::unknown) return;
  for (Engine a : allowed)
    if (a == e) return;
  std::string list;
  for (Engine a : allowed) list += (list.empty() ? "" : ", ") + std::string(engine_name(a));
  fail("engine", "this instruction runs on " + list + ", not on the " +
                     std::string(engine_name(e)) + " engine");
}

void Check::elementwise(const Tensor& dst, std::string_view src_name, const Tensor& src,
                        unsigned bufs, const Interpreter& in, bool allow_packed) const {
  buffer_in("dst", dst, bufs, in);
  buffer_in(src_name, src, bufs, in);
  writable("dst", dst);
  max_partitions(src_name, src, in.target().partitions);
  same_layout("dst", dst, src_name, src);
  if (!allow_packed) {
    not_packed(src_name, src);
    not_packed("dst", dst);
  }
}

void transpose_raw(const std::byte* in, std::byte* out, int64_t P, int64_t F, int64_t es) {
  for (int64_t p = 0; p < P; ++p)
    for (int64_t f = 0; f < F; ++f) std::memcpy(out + (f * P + p) * es, in + (p * F + f) * es, es);
}

// ---------------------------------------------------------------- operands
namespace {
Rows collapse(const Tensor& t, bool flat) {
  Strided s = t.strided();
  Rows r;
  r.base = s.base;
  r.shadow = s.shadow;
  r.dtype = t.dtype();
  r.es = static_cast<int>(size_of(t.dtype()));
  r.nrows = flat ? 1 : s.count[0];
  r.row_stride = flat ? 0 : s.stride[0];
  // Collapse free dims: drop size-1 dims, merge (outer, inner) when outer stride = inner span.
  int n = 0;
  for (int d = flat ? 0 : 1; d < s.ndim; ++d) {
    if (s.count[d] == 1) continue;
    if (n > 0 && r.fstride[n - 1] == s.stride[d] * s.count[d]) {
      r.fcount[n - 1] *= s.count[d];
      r.fstride[n - 1] = s.stride[d];
    } else {
      r.fcount[n] = s.count[d];
      r.fstride[n] = s.stride[d];
      ++n;
    }
  }
  if (n == 0) {
    r.fcount[0] = 1;
    r.fstride[0] = r.es;
    n = 1;
  }
  r.nfd = n;
  r.ncols = 1;
  for (int d = 0; d < n; ++d) r.ncols *= r.fcount[d];
  r.contiguous = (n == 1 && r.fstride[0] == r.es);
  r.alloc = &t.allocation();
  return r;
}
}  // namespace

Rows rows_of(const Tensor& t, bool raw_bits) {
  Rows r = collapse(t, false);
  r.raw_bits = raw_bits;
  return r;
}
Rows flat_of(const Tensor& t) { return collapse(t, true); }

namespace {
// Visit the contiguous-in-index runs of row `r`, columns [c0, c0+nc): f(ptr, stride_bytes, len).
template <class F>
inline void for_runs(const Rows& v, std::byte* base, int64_t r, int64_t c0, int64_t nc, F&& f) {
  std::byte* row = base + r * v.row_stride;
  const int last = v.nfd - 1;
  if (last == 0) {
    f(row + c0 * v.fstride[0], v.fstride[0], nc);
    return;
  }
  int64_t idx[kMaxDims];
  int64_t rem = c0;
  for (int d = last; d >= 0; --d) {
    idx[d] = rem % v.fcount[d];
    rem /= v.fcount[d];
  }
  while (nc > 0) {
    std::byte* p = row;
    for (int d = 0; d < last; ++d) p += idx[d] * v.fstride[d];
    const int64_t len = std::min(nc, v.fcount[last] - idx[last]);
    f(p + idx[last] * v.fstride[last], v.fstride[last], len);
    nc -= len;
    idx[last] = 0;
    for (int d = last - 1; d >= 0; --d) {
      if (++idx[d] < v.fcount[d]) break;
      idx[d] = 0;
    }
  }
}

template <class E>
inline void copy_strided_out(const std::byte* p, int64_t stride, int64_t len, std::byte* out) {
  E* o = reinterpret_cast<E*>(out);
  for (int64_t i = 0; i < len; ++i) std::memcpy(&o[i], p + i * stride, sizeof(E));
}
template <class E>
inline void copy_strided_in(std::byte* p, int64_t stride, int64_t len, const std::byte* in) {
  const E* s = reinterpret_cast<const E*>(in);
  for (int64_t i = 0; i < len; ++i) std::memcpy(p + i * stride, &s[i], sizeof(E));
}
template <class Fn>
inline void by_size(int es, Fn&& fn) {
  switch (es) {
    case 1: fn(uint8_t{}); break;
    case 2: fn(uint16_t{}); break;
    case 4: fn(uint32_t{}); break;
    default: fn(uint64_t{}); break;
  }
}
}  // namespace

namespace {
// One collapsed free dim (the common case): typed element moves, no per-row library calls.
template <class E>
void gather1(const Rows& v, int64_t r0, int64_t nr, int64_t c0, int64_t nc, std::byte* out) {
  const int64_t fs = v.fstride[0];
  E* o = reinterpret_cast<E*>(out);
  const std::byte* base = v.base + c0 * fs;
  if (fs == static_cast<int64_t>(sizeof(E)) && nc >= 16) {
    for (int64_t r = 0; r < nr; ++r) std::memcpy(o + r * nc, base + (r0 + r) * v.row_stride, nc * sizeof(E));
    return;
  }
  for (int64_t r = 0; r < nr; ++r) {
    const std::byte* p = base + (r0 + r) * v.row_stride;
    for (int64_t i = 0; i < nc; ++i) std::memcpy(o + r * nc + i, p + i * fs, sizeof(E));
  }
}
template <class E>
void scatter1(const Rows& v, int64_t r0, int64_t nr, int64_t c0, int64_t nc, const std::byte* in) {
  const int64_t fs = v.fstride[0];
  const E* s = reinterpret_cast<const E*>(in);
  std::byte* base = v.base + c0 * fs;
  if (fs == static_cast<int64_t>(sizeof(E)) && nc >= 16) {
    for (int64_t r = 0; r < nr; ++r) std::memcpy(base + (r0 + r) * v.row_stride, s + r * nc, nc * sizeof(E));
    return;
  }
  for (int64_t r = 0; r < nr; ++r) {
    std::byte* p = base + (r0 + r) * v.row_stride;
    for (int64_t i = 0; i < nc; ++i) std::memcpy(p + i * fs, s + r * nc + i, sizeof(E));
  }
}
}  // namespace

void gather_raw(const Rows& v, int64_t r0, int64_t nr, int64_t c0, int64_t nc, void* out) {
  std::byte* o = static_cast<std::byte*>(out);
  by_size(v.es, [&](auto tag) {
    using E = decltype(tag);
    if (v.nfd == 1) {
      gather1<E>(v, r0, nr, c0, nc, o);
      return;
    }
    for (int64_t r = r0; r < r0 + nr; ++r)
      for_runs(v, v.base, r, c0, nc, [&](std::byte* p, int64_t stride, int64_t len) {
        if (stride == static_cast<int64_t>(sizeof(E))) std::memcpy(o, p, len * sizeof(E));
        else copy_strided_out<E>(p, stride, len, o);
        o += len * sizeof(E);
      });
  });
}

void scatter_raw(const Rows& v, int64_t r0, int64_t nr, int64_t c0, int64_t nc, const void* in) {
  const std::byte* s = static_cast<const std::byte*>(in);
  by_size(v.es, [&](auto tag) {
    using E = decltype(tag);
    if (v.nfd == 1) {
      scatter1<E>(v, r0, nr, c0, nc, s);
      return;
    }
    for (int64_t r = r0; r < r0 + nr; ++r)
      for_runs(v, v.base, r, c0, nc, [&](std::byte* p, int64_t stride, int64_t len) {
        if (stride == static_cast<int64_t>(sizeof(E))) std::memcpy(p, s, len * sizeof(E));
        else copy_strided_in<E>(p, stride, len, s);
        s += len * sizeof(E);
      });
  });
}

WrittenState written_state(const Rows& d) {
  if (d.shadow == nullptr)  // the allocation is written nowhere or everywhere
    return d.alloc->wstate == Allocation::WriteState::none ? WrittenState::none : WrittenState::all;
  bool any_written = false, any_unwritten = false;
  if (d.contiguous) {  // scan each row's shadow bytes (vectorized memchr)
    const size_t span = static_cast<size_t>(d.ncols * d.es);
    for (int64_t r = 0; r < d.nrows && !(any_written && any_unwritten); ++r) {
      const uint8_t* row = d.shadow + r * d.row_stride;
      any_unwritten |= std::memchr(row, 0, span) != nullptr;
      any_written |= std::memchr(row, 1, span) != nullptr;
    }
  } else {
    const int64_t n = d.nrows * d.ncols;
    Scratch<uint8_t> w(static_cast<size_t>(n));
    load_written(d, 0, d.nrows, 0, d.ncols, w);
    const int64_t ones = std::count(w.get(), w.get() + n, uint8_t{1});
    any_written = ones > 0;
    any_unwritten = ones < n;
  }
  return any_written ? (any_unwritten ? WrittenState::some : WrittenState::all) : WrittenState::none;
}

void store_psum(const Rows& d, WrittenState w, float* R) {
  const int64_t M = d.nrows, N = d.ncols;
  if (w != WrittenState::none) {  // bf16 PSUM, or a partly written region: combine per element
    Scratch<float> old(M * N);
    load<float>(d, 0, M, 0, N, old);
    Scratch<uint8_t> wr(static_cast<size_t>(M * N));
    load_written(d, 0, M, 0, N, wr);
    for (int64_t i = 0; i < M * N; ++i) R[i] += wr[i] ? old[i] : 0.f;
  }
  store<float>(d, 0, M, 0, N, R);
}

void load_written(const Rows& v, int64_t r0, int64_t nr, int64_t c0, int64_t nc, uint8_t* out) {
  if (v.shadow == nullptr) {  // written nowhere or everywhere
    const bool none = v.alloc && v.alloc->wstate == Allocation::WriteState::none;
    std::memset(out, none ? 0 : 1, static_cast<size_t>(nr * nc));
    return;
  }
  std::byte* sbase = reinterpret_cast<std::byte*>(v.shadow);
  for (int64_t r = r0; r < r0 + nr; ++r)
    for_runs(v, sbase, r, c0, nc, [&](std::byte* p, int64_t stride, int64_t len) {
      for (int64_t i = 0; i < len; ++i) *out++ = static_cast<uint8_t>(p[i * stride]);
    });
}

namespace {
inline void cvt_in(const Rows& v, const void* src, float* dst, size_t n) {
  to_f32(v.dtype, src, dst, n);
}
inline void cvt_in(const Rows& v, const void* src, int64_t* dst, size_t n) {
  to_i64(v.dtype, src, dst, n, v.raw_bits);
}
inline void cvt_out(DType t, const float* src, void* dst, size_t n) { from_f32(t, src, dst, n); }
inline void cvt_out(DType t, const int64_t* src, void* dst, size_t n) { from_i64(t, src, dst, n); }
}  // namespace

template <class T>
void load(const Rows& v, int64_t r0, int64_t nr, int64_t c0, int64_t nc, T* out) {
  // Long contiguous rows convert straight from memory; anything else is gathered first.
  if (v.contiguous && nc >= 64) {
    for (int64_t r = 0; r < nr; ++r)
      cvt_in(v, v.base + (r0 + r) * v.row_stride + c0 * v.es, out + r * nc, nc);
    return;
  }
  const int64_t n = nr * nc;
  Scratch<std::byte> raw(static_cast<size_t>(n) * v.es);
  gather_raw(v, r0, nr, c0, nc, raw);
  cvt_in(v, raw, out, n);
}

template <class T>
void store(const Rows& v, int64_t r0, int64_t nr, int64_t c0, int64_t nc, const T* in) {
  if (v.contiguous && nc >= 64) {
    for (int64_t r = 0; r < nr; ++r)
      cvt_out(v.dtype, in + r * nc, v.base + (r0 + r) * v.row_stride + c0 * v.es, nc);
    return;
  }
  const int64_t n = nr * nc;
  Scratch<std::byte> raw(static_cast<size_t>(n) * v.es);
  cvt_out(v.dtype, in, raw, n);
  scatter_raw(v, r0, nr, c0, nc, raw);
}

template void load<float>(const Rows&, int64_t, int64_t, int64_t, int64_t, float*);
template void load<int64_t>(const Rows&, int64_t, int64_t, int64_t, int64_t, int64_t*);
template void store<float>(const Rows&, int64_t, int64_t, int64_t, int64_t, const float*);
template void store<int64_t>(const Rows&, int64_t, int64_t, int64_t, int64_t, const int64_t*);

namespace {
// 64-byte aligned growable buffers: lanes always start on a vector boundary, so how Eigen splits
// a block into vector body and scalar tail depends only on the block, never on the heap.
struct Aligned {
  std::byte* p = nullptr;
  size_t cap = 0;
  ~Aligned() { std::free(p); }
  std::byte* get(size_t n) {
    if (n > cap) {
      const size_t want = std::max<size_t>(n, 4096);
      if (want > SIZE_MAX - 63) throw std::bad_alloc();
      auto* q = static_cast<std::byte*>(std::aligned_alloc(64, (want + 63) / 64 * 64));
      if (q == nullptr) throw std::bad_alloc();  // the old buffer and capacity stay as they were
      std::free(p);
      p = q;
      cap = want;
    }
    return p;
  }
};
struct ScratchStack {
  static constexpr int kDepth = 32;
  Aligned buf[kDepth];
  int top = 0;
};
// The stack itself is owned by a thread_local (freed when the thread ends); the hot path reads
// it through a plain pointer in static TLS (one instruction instead of a __tls_get_addr call and
// an init guard: measured on the per-instruction path).
ScratchStack& scratch_stack() {
  static thread_local ScratchStack* fast __attribute__((tls_model("initial-exec"))) = nullptr;
  if (fast == nullptr) [[unlikely]] {
    thread_local std::unique_ptr<ScratchStack> owner = std::make_unique<ScratchStack>();
    fast = owner.get();
  }
  return *fast;
}
}  // namespace

std::byte* scratch_push(size_t bytes) {
  ScratchStack& s = scratch_stack();
  if (s.top == ScratchStack::kDepth) throw std::logic_error("nkisim: scratch nesting too deep");
  std::byte* p = s.buf[s.top].get(bytes);
  ++s.top;
  return p;
}
void scratch_pop() { --scratch_stack().top; }

namespace {
// The block's rows of a float32 operand can be used in place.
inline bool in_place(const Rows& v, int64_t nr) {
  // float32 rows that are contiguous and float-aligned (views made with .view()/.ap(dtype=) or
  // packed next to 2-byte tensors may not be).
  return v.dtype == DType::float32 && v.contiguous && reinterpret_cast<uintptr_t>(v.base) % 4 == 0 &&
         (nr == 1 || v.row_stride % 4 == 0);
}
inline float* mem(const Rows& v, int64_t r0, int64_t c0) {
  return reinterpret_cast<float*>(v.base + r0 * v.row_stride + c0 * 4);
}
}  // namespace

bool in_place_rows(const Rows& v) { return in_place(v, v.nrows); }
Block whole_block(const Rows& v, int64_t ncols) {
  return Block{mem(v, 0, 0), v.nrows, ncols, v.row_stride / 4};
}

Block src_block(const Rows& v, int64_t r0, int64_t nr, int64_t c0, int64_t nc, float* scratch) {
  if (in_place(v, nr)) return Block{mem(v, r0, c0), nr, nc, v.row_stride / 4};
  load<float>(v, r0, nr, c0, nc, scratch);
  return Block{scratch, nr, nc, nc};
}

Block dst_block(const Rows& v, bool direct, int64_t r0, int64_t nr, int64_t c0, int64_t nc,
                float* scratch) {
  if (direct && in_place(v, nr)) return Block{mem(v, r0, c0), nr, nc, v.row_stride / 4};
  return Block{scratch, nr, nc, nc};
}

void commit(const Rows& v, int64_t r0, int64_t nr, int64_t c0, int64_t nc, const Block& b) {
  if (in_place(v, nr) && b.p == mem(v, r0, c0)) return;  // computed in place
  store<float>(v, r0, nr, c0, nc, b.p);
}

void copy_block(const Block& dst, const Block& src) {
  if (dst.p == src.p && dst.ld == src.ld) return;
  for (int64_t r = 0; r < dst.nr; ++r) std::copy(src.row(r), src.row(r) + dst.nc, dst.row(r));
}

bool dst_direct(const Rows& dst, std::initializer_list<const Rows*> srcs) {
  if (dst.dtype != DType::float32 || !dst.contiguous) return false;
  for (const Rows* s : srcs) {
    if (s == nullptr || s->alloc != dst.alloc) continue;
    const bool same = s->base == dst.base && s->row_stride == dst.row_stride &&
                      s->dtype == dst.dtype && s->contiguous;
    if (!same) return false;
  }
  return true;
}

void operand_rows(const Operand& o, int64_t r0, int64_t nr, float* out) {
  if (!o.tile) {
    std::fill(out, out + nr, static_cast<float>(o.value));
    return;
  }
  Rows v = rows_of(*o.tile);
  if (v.dtype == DType::float32) {  // the usual fp32 (P, 1) tile: one load per partition
    for (int64_t r = 0; r < nr; ++r) std::memcpy(out + r, v.base + (r0 + r) * v.row_stride, 4);
    return;
  }
  load<float>(v, r0, nr, 0, 1, out);
}

OperandRows::OperandRows(const Operand& o, int64_t partitions, const Rows& dst) {
  if (!o.tile) {
    scalar_ = static_cast<float>(o.value);
    p = &scalar_;
    return;
  }
  const Tensor& t = *o.tile;
  const Allocation& a = t.allocation();
  // In place only when no write of this instruction can reach it: another allocation, neither
  // of them placed by address (explicit placements may alias).
  if (&a != dst.alloc && !a.pinned && !dst.alloc->pinned) {
    const Rows v = rows_of(t);
    if (in_place_rows(v)) {  // float32, float-aligned
      p = reinterpret_cast<const float*>(v.base);
      ld = v.row_stride / 4;
      return;
    }
  }
  copy_.emplace(o, partitions);
  p = copy_->rows;
  ld = 1;
}

void apply_operand(AluOp op, const OperandValues& v, bool reverse, const Block& out,
                   const Block& x, int64_t r0) {
  alu_rows(op, out, x, v.rows + r0, reverse);
}


}  // namespace nkisim::isa
