// nkisim internal: the machinery every instruction body shares.
//
//  - Check: one-line preconditions with uniform messages
//    ("nki.isa.<op>: <operand>: <rule>, found <x>").
//  - Rows: an operand prepared for execution (partitions x free elements, free dims collapsed).
//  - load<T>/store<T>: move a block of rows x columns between an operand and a contiguous lane
//    buffer of T (float for arithmetic, int64_t for exact integer paths), converting dtypes once.
//  - for_blocks: walk partitions x free elements in cache-sized blocks, across both cores for
//    large instructions.
//  - alu_binary / alu_unary / act_apply: the ALU and activation tables as vectorized Eigen loops.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "nkisim/errors.hpp"
#include "nkisim/interpreter.hpp"
#include "nkisim/op.hpp"
#include "nkisim/tensor.hpp"
#include "parallel.hpp"

namespace nkisim::isa {

// ---------------------------------------------------------------- validation
// (Buffer masks kSbuf, kPsum, kHbm, kOnChip come from nkisim/op.hpp.)

// NKISIM_REQUIRE(check, condition, operand, message): the message is only built on failure.
#define NKISIM_REQUIRE(chk, cond, operand, ...) \
  do {                                          \
    if (!(cond)) (chk).fail(operand, __VA_ARGS__); \
  } while (0)

struct Check {
  std::string_view op;

  [[noreturn]] void fail(std::string_view operand, const std::string& rule) const;
  // Operand lives in one of the buffers of `allowed` (a mask of kSbuf, kPsum, kHbm), and an
  // on-chip operand belongs to this core.
  void buffer_in(std::string_view operand, const Tensor& t, unsigned allowed,
                 const Interpreter& in) const;
  void max_partitions(std::string_view operand, const Tensor& t, int64_t max) const;
  // Same partition count and same elements per partition as `ref`.
  void same_layout(std::string_view operand, const Tensor& t, std::string_view ref_name,
                   const Tensor& ref) const;
  void writable(std::string_view operand, const Tensor& t) const;
  void not_packed(std::string_view operand, const Tensor& t) const;
  // A second input read element for element with `ref`: not packed, the same layout as ref, and
  // not both in PSUM.
  void second_input(std::string_view operand, const Tensor& t, std::string_view ref_name,
                    const Tensor& ref) const;
  // A scalar, or a (P, 1) tile on SBUF/PSUM matching `partitions`, optionally float32 only.
  void scalar_or_vector(std::string_view operand, const Operand& o, int64_t partitions,
                        bool float32_only, const Interpreter& in) const;
  void engine_in(Engine e, std::initializer_list<Engine> allowed) const;
  // The element-wise contract: `src` and a writable `dst` in `bufs` on this core, at most the
  // target's partitions, the same layout, and (unless allowed) no packed x4 dtypes.
  void elementwise(const Tensor& dst, std::string_view src_name, const Tensor& src, unsigned bufs,
                   const Interpreter& in, bool allow_packed = false) const;
};

std::string shape_of(const Tensor& t);  // "[128, 512]"
using Named = std::pair<const char*, const Tensor*>;  // an operand and its parameter name

// ---------------------------------------------------------------- operands
struct Rows {
  std::byte* base = nullptr;
  uint8_t* shadow = nullptr;
  DType dtype = DType::float32;
  int es = 4;
  int64_t nrows = 1;
  int64_t row_stride = 0;  // bytes between partitions (or outer HBM rows)
  int nfd = 0;             // collapsed free dims, outermost first
  int64_t fcount[kMaxDims] = {};
  int64_t fstride[kMaxDims] = {};  // bytes
  int64_t ncols = 1;               // free elements per row
  bool contiguous = false;         // each row is one contiguous run
  bool raw_bits = false;           // integer lanes hold raw bit patterns (bitvec ops)
  const Allocation* alloc = nullptr;
};
Rows rows_of(const Tensor& t, bool raw_bits = false);

// Copy raw elements of rows [r0, r0+nr) x columns [c0, c0+nc) into / out of a contiguous buffer.
void gather_raw(const Rows& v, int64_t r0, int64_t nr, int64_t c0, int64_t nc, void* out);
void scatter_raw(const Rows& v, int64_t r0, int64_t nr, int64_t c0, int64_t nc, const void* in);

template <class T>
void load(const Rows& v, int64_t r0, int64_t nr, int64_t c0, int64_t nc, T* out);
template <class T>
void store(const Rows& v, int64_t r0, int64_t nr, int64_t c0, int64_t nc, const T* in);

// Whether the elements of a (PSUM) view were written before: accumulate=None decides on this.
enum class WrittenState { none, some, all };
WrittenState written_state(const Rows& d);

// Store an M x N block of matmul results R into PSUM view d: where d was written before (w),
// the old value is added first (accumulation), element by element when only some was written.
void store_psum(const Rows& d, WrittenState w, float* R);

// A view as one flat row (every dim, partition dim included, in row-major order): for DMA.
Rows flat_of(const Tensor& t);
// Written flags (1 = written) of each element of a block, row-major.
void load_written(const Rows& v, int64_t r0, int64_t nr, int64_t c0, int64_t nc, uint8_t* out);

// Scoped scratch: `Scratch<float> x(n);` is a 64-byte aligned buffer of at least n elements for
// the enclosing scope, taken from a per-thread stack of buffers that keep their capacity (no
// allocation in steady state). Nested scopes stack; each thread (both cores' workers) has its own.
std::byte* scratch_push(size_t bytes);
void scratch_pop();
template <class T>
class Scratch {
 public:
  explicit Scratch(size_t n) : p_(reinterpret_cast<T*>(scratch_push(n * sizeof(T)))) {}
  ~Scratch() { scratch_pop(); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* get() const { return p_; }
  operator T*() const { return p_; }  // NOLINT: used as the buffer it is

 private:
  T* p_;
};

// Instructions of fewer elements run on the calling thread only.
inline constexpr int64_t kParallelElems = int64_t{1} << 16;
// Blocks of about kBlockElems elements: whole rows when rows are short, row segments otherwise.
inline constexpr int64_t kBlockElems = 2048;  // 8 KiB of fp32 lanes: a few fit in L1
// Run `f(r0, nr, c0, nc)` over all blocks of nrows x ncols; rows are split across both cores
// when the instruction is large. `f` must only touch its own block.
template <class F>
void for_blocks(int64_t nrows, int64_t ncols, F&& f);

template <class F>
void for_blocks(int64_t nrows, int64_t ncols, F&& f) {
  auto body = [&](int64_t ra, int64_t rb) {
    if (ncols >= kBlockElems) {
      for (int64_t r = ra; r < rb; ++r)
        for (int64_t c = 0; c < ncols; c += kBlockElems) f(r, 1, c, std::min(kBlockElems, ncols - c));
    } else {
      const int64_t step = std::max<int64_t>(1, kBlockElems / ncols);
      for (int64_t r = ra; r < rb; r += step) f(r, std::min(step, rb - r), 0, ncols);
    }
  };
  if (nrows * ncols < kParallelElems || nrows < 2) {
    body(0, nrows);
  } else {
    parallel_rows(nrows, nrows * ncols, body);
  }
}

// A block of float32 lanes: nr x nc, row r at p + r * ld. Either the operand's memory itself
// (float32 operand, contiguous rows: no copies) or dense scratch (ld == nc).
struct Block {
  float* p;
  int64_t nr, nc, ld;
  float* row(int64_t r) const { return p + r * ld; }
};
// Source lanes: memory when possible, else converted into `scratch`.
Block src_block(const Rows& v, int64_t r0, int64_t nr, int64_t c0, int64_t nc, float* scratch);
// A float32 view whose rows can be used in place (contiguous, float-aligned), and all its rows
// as one block.
bool in_place_rows(const Rows& v);
Block whole_block(const Rows& v, int64_t ncols);
// Where to compute results: memory when `direct` (see dst_direct) and possible, else scratch.
Block dst_block(const Rows& v, bool direct, int64_t r0, int64_t nr, int64_t c0, int64_t nc,
                float* scratch);
// Finish a block from dst_block: mark memory lanes written, or convert and store scratch lanes.
void commit(const Rows& v, int64_t r0, int64_t nr, int64_t c0, int64_t nc, const Block& b);
// Results may be computed in dst's memory when every source either lives elsewhere or is
// exactly the same view (element i only ever feeds element i).
bool dst_direct(const Rows& dst, std::initializer_list<const Rows*> srcs);
void copy_block(const Block& dst, const Block& src);

// Per-partition operand values for rows [r0, r0+nr): a scalar broadcast, or the (P,1) tile.
void operand_rows(const Operand& o, int64_t r0, int64_t nr, float* out);
// An operand's per-partition values, read once when the instruction starts: a (P, 1) operand
// tile may be a column of dst (the hardware reads it before streaming), so it must not be read
// again after the instruction has written part of dst.
struct OperandValues {
  OperandValues(const Operand& o, int64_t partitions) : rows(static_cast<size_t>(partitions)) {
    operand_rows(o, 0, partitions, rows);
  }
  Scratch<float> rows;  // per partition: the tile's value, or the scalar repeated
};
// An operand's per-partition values for the fused row loops: value of row r at p[r * ld]. A scalar
// is one value (ld 0); a (P, 1) float32 tile of another allocation is read in place (nothing this
// instruction writes can change it); anything else is copied first (OperandValues).
struct OperandRows {
  OperandRows(const Operand& o, int64_t partitions, const Rows& dst);
  const float* p = nullptr;
  int64_t ld = 0;
  const float* at(int64_t r0) const { return p + r0 * ld; }

 private:
  float scalar_ = 0.f;
  std::optional<OperandValues> copy_;
};
// out = x op operand (operand op x when reverse) for a scalar or a (P, 1) operand; the blocks
// hold rows r0.. of the instruction (out may be x).
void apply_operand(AluOp op, const OperandValues& v, bool reverse, const Block& out,
                   const Block& x, int64_t r0);

// ---------------------------------------------------------------- math
// o = (x op0 s0[r]) op1 s1[r] on every row r (reverse: s op x); op1 may be none. The common
// pairs (add, subtract, multiply, maximum, minimum) run in one pass, the others in two; the
// results are the same, each op rounded to fp32.
// s0 / s1 hold row r's operand at s[r * ld] (ld 0: one value for every row).
void alu_rows2(AluOp op0, const float* s0, int64_t ld0, bool rev0, AluOp op1, const float* s1,
               int64_t ld1, bool rev1, const Block& o, const Block& x);
// o = a op b element-wise (o may alias a or b, element for element). Unary ops ignore b.
void alu_binary(AluOp op, const Block& o, const Block& a, const Block& b);
void alu_binary(AluOp op, int64_t* o, const int64_t* a, const int64_t* b, int64_t n);
// o = a op per_row[r] on every row r (per_row[r] op a when reverse).
void alu_rows(AluOp op, const Block& o, const Block& a, const float* per_row, bool reverse);
// Sum of each row.
void row_sums(const Block& x, float* out);
// Reduce each of `groups` consecutive runs of `len` lanes to one value.
void alu_reduce(AluOp op, const float* a, int64_t groups, int64_t len, float* out);
void alu_reduce(AluOp op, const int64_t* a, int64_t groups, int64_t len, int64_t* out);
// Activation function in place.
void act_apply(ActFn f, const Block& x);

// ---------------------------------------------------------------- the element-wise kernel
// Every element-wise instruction is one call: f sees each block of dst with its sources.
//   elementwise_f32(dst, {&a, &b}, f): f(const Block& out, const Block* in, int64_t r0) on float32
//     lanes; sources are used in place when they are contiguous float32, else converted; out is
//     dst's own memory when that is safe (dst_direct), else scratch converted once on commit.
//   elementwise_i64(dst, {&a, &b}, f): f(int64_t* out, const int64_t* const* in, int64_t n, r0, nr)
//     on exact int64 lanes (raw bits when the Rows were made with raw_bits), out stored once.
template <size_t N, class F>
void elementwise_f32(const Rows& d, const std::array<const Rows*, N>& srcs, F&& f) {
  bool direct = true;
  for (const Rows* s : srcs) direct = direct && dst_direct(d, {s});
  if constexpr (N == 0) direct = dst_direct(d, {});
  // Everything in memory (dst written directly, every source read in place) and small enough for
  // one core: one block of all rows (no scratch, nothing to commit).
  if (direct && d.nrows * d.ncols < kParallelElems && in_place_rows(d)) {
    Block in[N > 0 ? N : 1];
    bool all = true;
    for (size_t i = 0; i < N && all; ++i) {
      all = in_place_rows(*srcs[i]);
      if (all) in[i] = whole_block(*srcs[i], d.ncols);
    }
    if (all) {
      f(whole_block(d, d.ncols), static_cast<const Block*>(in), 0);
      return;
    }
  }
  for_blocks(d.nrows, d.ncols, [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
    const int64_t n = nr * nc;
    Scratch<float> out_lanes(n);
    const Block out = dst_block(d, direct, r0, nr, c0, nc, out_lanes);
    Block in[N > 0 ? N : 1];
    Scratch<float> lanes(static_cast<size_t>(n) * (N > 0 ? N : 1));
    for (size_t i = 0; i < N; ++i) in[i] = src_block(*srcs[i], r0, nr, c0, nc, lanes.get() + i * n);
    f(out, static_cast<const Block*>(in), r0);
    commit(d, r0, nr, c0, nc, out);
  });
}

template <size_t N, class F>
void elementwise_i64(const Rows& d, const std::array<const Rows*, N>& srcs, F&& f) {
  for_blocks(d.nrows, d.ncols, [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
    const int64_t n = nr * nc;
    Scratch<int64_t> lanes(static_cast<size_t>(n) * (N + 1));
    const int64_t* in[N > 0 ? N : 1];
    for (size_t i = 0; i < N; ++i) {
      load<int64_t>(*srcs[i], r0, nr, c0, nc, lanes.get() + (i + 1) * n);
      in[i] = lanes.get() + (i + 1) * n;
    }
    f(lanes.get(), static_cast<const int64_t* const*>(in), n, r0, nr);
    store<int64_t>(d, r0, nr, c0, nc, lanes.get());
  });
}

// Bit-exact transpose of a P x F block of es-byte elements: out[f][p] = in[p][f].
// Gather / scatter through a vector_offset view (issue 9): `src` or `dst` has a vector offset
// (an HBM view whose row w starts at index[w]); for each row whose index lies inside the indexed
// tensor, f(src_row, dst_row) moves it (the other operand's row w: partition w on chip, the w-th
// outer row in HBM). Out-of-range rows raise under oob_mode.error (naming row and index) and are
// skipped under oob_mode.skip. Both may be indirect (each resolves its own rows).
void indirect_rows(const Interpreter& in, std::string_view instr, const Tensor& src,
                   const Tensor& dst, OobMode oob,
                   const std::function<void(const Tensor&, const Tensor&)>& f);

void transpose_raw(const std::byte* in, std::byte* out, int64_t P, int64_t F, int64_t es);


// ---------------------------------------------------------------- scans, folds, accumulators (issue 7)
// a op b for one pair of float32 values.
float alu_apply(AluOp op, float a, float b);
// The identity of a reduction operator (0 for add, 1 for multiply, -inf for maximum, ...).
float alu_identity(AluOp op);
// out[i] = op1(op0(d0[i], out[i-1]), d1[i]) with out[-1] = init (reverse0: op0(out[i-1], d0[i]);
// reverse1: op1(d1[i], .)). Without d1 (nullptr): out[i] = op0(d0[i], out[i-1]).
void alu_scan(AluOp op0, bool rev0, AluOp op1, bool rev1, const float* d0, const float* d1,
              float init, int64_t n, float* out);
// alu_scan on every row of a block (several rows at a time); init holds one value per row.
void alu_scan_rows(AluOp op0, bool rev0, AluOp op1, bool rev1, const Block& d0, const Block* d1,
                   const float* init, const Block& out);
// out[r] = op folded over row r of x (a0 op a1 op ...).
void row_reduce(AluOp op, const Block& x, float* out);
// Physical partition (engine accumulator lane) of a tensor's first partition.
inline int64_t lane0_of(const Tensor& t) {
  return t.allocation().start_partition + t.start_partition();
}
// Run f(r0, nr) over whole rows, about kBlockElems elements (and at least min_rows rows) at a
// time; rows split across both cores when the instruction is large.
template <class F>
void for_rows(int64_t nrows, int64_t ncols, F&& f, int64_t min_rows = 1) {
  const int64_t step = std::max<int64_t>(min_rows, kBlockElems / std::max<int64_t>(1, ncols));
  auto body = [&](int64_t ra, int64_t rb) {
    for (int64_t r = ra; r < rb; r += step) f(r, std::min(step, rb - r));
  };
  if (nrows * ncols < kParallelElems || nrows < 2) body(0, nrows);
  else parallel_rows(nrows, nrows * ncols, body);
}

}  // namespace nkisim::isa
