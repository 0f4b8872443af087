// Selection instructions:
//   nisa.select_reduce:          dst = predicate ? on_true : on_false, max into the Vector accumulator
//   nisa.range_select:           dst = comp_op0(j, bound0) and comp_op1(j, bound1) ? on_true : fill,
//                                j = range_start + free index, max into the Vector accumulator
//   nisa.affine_select:          dst = cmp_op(affine value, 0) ? on_true_tile : on_false_value (GpSimd)
//   nisa.tensor_copy_predicated: dst = src where predicate (dst unchanged elsewhere)
#include <algorithm>
#include <cfloat>
#include <cstring>
#include <limits>

#include <Eigen/Core>

#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

namespace {
std::string cmd_name(ReduceCmd c) {
  const EnumMember* m = enum_member(EnumId::reduce_cmd, static_cast<int>(c));
  return m ? std::string(m->name) : std::to_string(static_cast<int>(c));
}

bool is_cmp(AluOp op) {
  switch (op) {
    case AluOp::equal: case AluOp::not_equal: case AluOp::less: case AluOp::less_equal:
    case AluOp::greater: case AluOp::greater_equal:
      return true;
    default:
      return false;
  }
}

// fn(cmp) with cmp(a, b) -> bool for a comparison operator, chosen once per call.
template <class Fn>
void with_cmp(AluOp op, Fn&& fn) {
  switch (op) {
    case AluOp::equal: fn([](auto a, auto b) { return a == b; }); break;
    case AluOp::not_equal: fn([](auto a, auto b) { return a != b; }); break;
    case AluOp::less: fn([](auto a, auto b) { return a < b; }); break;
    case AluOp::less_equal: fn([](auto a, auto b) { return a <= b; }); break;
    case AluOp::greater: fn([](auto a, auto b) { return a > b; }); break;
    case AluOp::greater_equal: fn([](auto a, auto b) { return a >= b; }); break;
    default: throw UnsupportedError("not a comparison operator: " + std::string(alu_name(op)));
  }
}

float row_max(const float* x, int64_t n) {
  if (n <= 0) return -std::numeric_limits<float>::infinity();
  return Eigen::Map<const Eigen::ArrayXf>(x, n).maxCoeff();
}

// The Vector accumulator under a max reduction: before the instruction.
void max_acc_begin(ReduceCmd cmd, float* acc, int64_t P) {
  if (cmd == ReduceCmd::reset || cmd == ReduceCmd::reset_reduce)
    std::fill(acc, acc + P, -std::numeric_limits<float>::infinity());
}
bool max_acc_active(ReduceCmd cmd) {
  return cmd == ReduceCmd::reduce || cmd == ReduceCmd::reset_reduce;
}

void check_reduce_res(const Check& c, const std::optional<Tensor>& rr, int64_t P,
                      const Interpreter& in) {
  if (!rr) return;
  c.writable("reduce_res", *rr);
  NKISIM_REQUIRE(c, rr->partitions() == P && rr->free_size() == 1, "reduce_res",
                 "must have shape (" + std::to_string(P) + ", 1), one element per partition, found " +
                     shape_of(*rr));
  NKISIM_REQUIRE(c, is_float(rr->dtype()) && !is_packed(rr->dtype()), "reduce_res",
                 "dtype must be a float type, found " + std::string(name(rr->dtype())));
  (void)in;
}
}  // namespace

// ---------------------------------------------------------------- select_reduce
void validate(const SelectReduceOp& op, const Interpreter& in) {
  const Check c{"select_reduce"};
  c.elementwise(op.dst, "on_true", op.on_true, kOnChip, in);
  c.same_layout("predicate", op.predicate, "on_true", op.on_true);
  const DType t = op.on_true.dtype();
  NKISIM_REQUIRE(c, t != DType::tfloat32 && t != DType::int32 && t != DType::uint32, "on_true",
                 "dtype cannot be tfloat32, int32 or uint32, found " + std::string(name(t)));
  const DType pd = op.predicate.dtype();
  NKISIM_REQUIRE(c, pd == DType::int8 || pd == DType::uint8 || pd == DType::int16 || pd == DType::uint16,
                 "predicate", "dtype must be int8, uint8, int16 or uint16, found " + std::string(name(pd)));
  NKISIM_REQUIRE(c, !(op.on_true.buffer() == Buffer::psum && op.predicate.buffer() == Buffer::psum),
                 "predicate", "on_true and predicate cannot both be in psum");
  NKISIM_REQUIRE(c, op.on_false.present, "on_false", "is required (a float32 scalar or a (P, 1) tile)");
  c.scalar_or_vector("on_false", op.on_false, op.on_true.partitions(), /*float32_only=*/false, in);
  NKISIM_REQUIRE(c, op.reduce_op == AluOp::maximum, "reduce_op",
                 "only nl.maximum is supported, found " + std::string(alu_name(op.reduce_op)));
  NKISIM_REQUIRE(c, op.reduce_cmd == ReduceCmd::idle || op.reduce_cmd == ReduceCmd::reset_reduce ||
                        op.reduce_cmd == ReduceCmd::reduce,
                 "reduce_cmd", "must be idle, reset_reduce or reduce, found " + cmd_name(op.reduce_cmd));
  check_reduce_res(c, op.reduce_res, op.on_true.partitions(), in);
}

void execute(SelectReduceOp& op, Interpreter& in) {
  op.dst.claim_for_overwrite({&op.on_true, &op.predicate, op.on_false.tile_ptr(),
                              op.reduce_res ? &*op.reduce_res : nullptr});
  const Rows d = rows_of(op.dst), t = rows_of(op.on_true), p = rows_of(op.predicate);
  const int64_t P = d.nrows;
  float* acc = in.vector_acc.data() + lane0_of(op.on_true);
  max_acc_begin(op.reduce_cmd, acc, P);
  const bool active = max_acc_active(op.reduce_cmd);
  std::vector<float> fv(static_cast<size_t>(P));
  operand_rows(op.on_false, 0, P, fv.data());
  const bool direct = dst_direct(d, {&t, &p});
  const bool rev = op.reverse_pred;
  for_blocks(P, d.ncols, [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
    const int64_t n = nr * nc;
    Scratch<float> scr1(n);
    const Block x = src_block(t, r0, nr, c0, nc, scr1);
    Scratch<std::byte> scr2(static_cast<size_t>(n) * p.es);
    std::byte* qraw = scr2;  // predicate bits, as stored
    gather_raw(p, r0, nr, c0, nc, qraw);
    Scratch<float> scr3(n);
    const Block out = dst_block(d, direct, r0, nr, c0, nc, scr3);
    auto rows = [&](auto tag) {
      using E = decltype(tag);
      const E* q = reinterpret_cast<const E*>(qraw);
      for (int64_t r = 0; r < nr; ++r) {
        const float f = fv[r0 + r];
        const float* xr = x.row(r);
        const E* qr = q + r * nc;
        float* o = out.row(r);
        if (rev)
          for (int64_t j = 0; j < nc; ++j) o[j] = qr[j] == 0 ? xr[j] : f;
        else
          for (int64_t j = 0; j < nc; ++j) o[j] = qr[j] != 0 ? xr[j] : f;
        if (active) acc[r0 + r] = std::max(acc[r0 + r], row_max(o, nc));
      }
    };
    if (p.es == 1) rows(uint8_t{});
    else rows(uint16_t{});
    commit(d, r0, nr, c0, nc, out);
  });
  if (op.reduce_res) store<float>(rows_of(*op.reduce_res), 0, P, 0, 1, acc);
}

// ---------------------------------------------------------------- range_select
void validate(const RangeSelectOp& op, const Interpreter& in) {
  const Check c{"range_select"};
  c.elementwise(op.dst, "on_true_tile", op.on_true_tile, kOnChip, in);
  NKISIM_REQUIRE(c, is_float(op.on_true_tile.dtype()), "on_true_tile",
                 "dtype must be a float type, found " + std::string(name(op.on_true_tile.dtype())));
  for (auto [n, o] : {std::pair<const char*, AluOp>{"comp_op0", op.comp_op0}, {"comp_op1", op.comp_op1}})
    NKISIM_REQUIRE(c, is_cmp(o) && o != AluOp::not_equal, n,
                   "must be nl.equal, nl.less, nl.less_equal, nl.greater or nl.greater_equal, found " +
                       std::string(alu_name(o)));
  const int64_t P = op.on_true_tile.partitions();
  for (auto [n, o] : {std::pair<const char*, const Operand*>{"bound0", &op.bound0}, {"bound1", &op.bound1}}) {
    NKISIM_REQUIRE(c, o->present && o->tile.has_value(), n,
                   "must be a (" + std::to_string(P) + ", 1) float32 tile, one bound per partition");
    c.scalar_or_vector(n, *o, P, /*float32_only=*/true, in);
  }
  NKISIM_REQUIRE(c, op.reduce_op == AluOp::maximum, "reduce_op",
                 "only nl.maximum is supported, found " + std::string(alu_name(op.reduce_op)));
  NKISIM_REQUIRE(c, op.reduce_cmd != ReduceCmd::load_reduce, "reduce_cmd",
                 "load_reduce is not available on range_select (it has no initial value operand)");
  NKISIM_REQUIRE(c, !op.on_false_value.tile && static_cast<float>(op.on_false_value.value) == -FLT_MAX,
                 "on_false_value",
                 "must be FP32_MIN (-3.4028235e+38), a hardware constraint, found " +
                     (op.on_false_value.tile ? std::string("a tile")
                                             : std::to_string(op.on_false_value.value)));
  const int64_t last = op.range_start + op.on_true_tile.free_size() - 1;
  NKISIM_REQUIRE(c, op.range_start >= -(int64_t{1} << 24) && last <= (int64_t{1} << 24), "range_start",
                 "range_start + free index must stay within 2^24 (compared in float32), found "
                 "range_start " + std::to_string(op.range_start) + " with " +
                     std::to_string(op.on_true_tile.free_size()) + " elements per partition");
  check_reduce_res(c, op.reduce_res, P, in);
}

void execute(RangeSelectOp& op, Interpreter& in) {
  op.dst.claim_for_overwrite({&op.on_true_tile, op.bound0.tile_ptr(), op.bound1.tile_ptr(),
                              op.reduce_res ? &*op.reduce_res : nullptr});
  const Rows d = rows_of(op.dst), t = rows_of(op.on_true_tile);
  const int64_t P = d.nrows;
  float* acc = in.vector_acc.data() + lane0_of(op.on_true_tile);
  max_acc_begin(op.reduce_cmd, acc, P);
  const bool active = max_acc_active(op.reduce_cmd);
  std::vector<float> b0(static_cast<size_t>(P)), b1(static_cast<size_t>(P));
  operand_rows(op.bound0, 0, P, b0.data());
  operand_rows(op.bound1, 0, P, b1.data());
  const float fill = static_cast<float>(op.on_false_value.value);
  // idx = float(range_start + j) increases with j, so each comparison holds on a prefix
  // (less, less_equal), a suffix (greater, greater_equal) or at most one j (equal) of the row:
  // the selected columns of a row are one interval [lo, hi), found by binary search with the
  // float32 comparison itself.
  const int64_t N = d.ncols;
  auto idx = [&](int64_t j) { return static_cast<float>(op.range_start + j); };
  auto first = [&](auto&& pred) {  // first j in [0, N] with pred(j) (pred monotone false -> true)
    int64_t a = 0, b = N;
    while (a < b) {
      const int64_t m = a + (b - a) / 2;
      if (pred(m)) b = m;
      else a = m + 1;
    }
    return a;
  };
  auto interval = [&](AluOp cmp, float bound) -> std::pair<int64_t, int64_t> {
    switch (cmp) {
      case AluOp::less: return {0, first([&](int64_t j) { return !(idx(j) < bound); })};
      case AluOp::less_equal: return {0, first([&](int64_t j) { return !(idx(j) <= bound); })};
      case AluOp::greater: return {first([&](int64_t j) { return idx(j) > bound; }), N};
      case AluOp::greater_equal: return {first([&](int64_t j) { return idx(j) >= bound; }), N};
      default: {  // equal
        const int64_t a = first([&](int64_t j) { return idx(j) >= bound; });
        return {a, (a < N && idx(a) == bound) ? a + 1 : a};
      }
    }
  };
  std::vector<int64_t> lo(static_cast<size_t>(P)), hi(static_cast<size_t>(P));
  for (int64_t r = 0; r < P; ++r) {
    const auto i0 = interval(op.comp_op0, b0[r]);
    const auto i1 = interval(op.comp_op1, b1[r]);
    lo[r] = std::max(i0.first, i1.first);
    hi[r] = std::max(lo[r], std::min(i0.second, i1.second));
  }
  const bool direct = dst_direct(d, {&t});
  for_blocks(P, N, [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
    const int64_t n = nr * nc;
    Scratch<float> scr4(n);
    const Block x = src_block(t, r0, nr, c0, nc, scr4);
    Scratch<float> scr5(n);
    const Block out = dst_block(d, direct, r0, nr, c0, nc, scr5);
    for (int64_t r = 0; r < nr; ++r) {
      const int64_t a = std::clamp(lo[r0 + r] - c0, int64_t{0}, nc);
      const int64_t b = std::clamp(hi[r0 + r] - c0, a, nc);
      const float* xr = x.row(r);
      float* o = out.row(r);
      std::fill(o, o + a, fill);
      if (o != xr) std::copy(xr + a, xr + b, o + a);
      std::fill(o + b, o + nc, fill);
      if (active) {
        float m = (a > 0 || b < nc) ? fill : -std::numeric_limits<float>::infinity();
        m = std::max(m, row_max(o + a, b - a));
        acc[r0 + r] = std::max(acc[r0 + r], m);
      }
    }
    commit(d, r0, nr, c0, nc, out);
  });
  if (op.reduce_res) store<float>(rows_of(*op.reduce_res), 0, P, 0, 1, acc);
}

// ---------------------------------------------------------------- affine_select
void validate(const AffineSelectOp& op, const Interpreter& in) {
  const Check c{"affine_select"};
  c.elementwise(op.dst, "on_true_tile", op.on_true_tile, kSbuf, in);
  NKISIM_REQUIRE(c, !op.pattern.empty() && op.pattern.size() <= 4, "pattern",
                 "needs 1 to 4 [step, num] pairs, found " + std::to_string(op.pattern.size()));
  int64_t n = 1;
  for (auto [step, num] : op.pattern) {
    NKISIM_REQUIRE(c, num >= 1, "pattern", "every num must be >= 1, found " + std::to_string(num));
    n *= num;
  }
  NKISIM_REQUIRE(c, n == op.dst.free_size(), "pattern",
                 "describes " + std::to_string(n) + " elements per partition but dst " +
                     shape_of(op.dst) + " has " + std::to_string(op.dst.free_size()));
  auto i32 = [](int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; };
  NKISIM_REQUIRE(c, i32(op.offset), "offset", "must be an int32, found " + std::to_string(op.offset));
  NKISIM_REQUIRE(c, i32(op.channel_multiplier), "channel_multiplier",
                 "must be an int32, found " + std::to_string(op.channel_multiplier));
  NKISIM_REQUIRE(c, is_cmp(op.cmp_op), "cmp_op",
                 "must be a comparison operator (nl.equal, nl.not_equal, nl.less, nl.less_equal, "
                 "nl.greater, nl.greater_equal), found " + std::string(alu_name(op.cmp_op)));
}

void execute(AffineSelectOp& op, Interpreter&) {
  op.dst.claim_for_overwrite({&op.on_true_tile});
  const Rows d = rows_of(op.dst), t = rows_of(op.on_true_tile);
  const int64_t P = d.nrows, N = d.ncols;
  // One partition's affine values (the pattern part), then per partition a shift.
  std::vector<int64_t> base(static_cast<size_t>(N));
  {
    std::vector<int64_t> it(op.pattern.size(), 0);
    for (int64_t e = 0; e < N; ++e) {
      int64_t v = op.offset;
      for (size_t k = 0; k < op.pattern.size(); ++k) v += it[k] * op.pattern[k].first;
      base[static_cast<size_t>(e)] = v;
      for (int k = static_cast<int>(op.pattern.size()) - 1; k >= 0; --k) {
        if (++it[k] < op.pattern[k].second) break;
        it[k] = 0;
      }
    }
  }
  const float fill = static_cast<float>(op.on_false_value.value);
  const bool direct = dst_direct(d, {&t});
  // One [step, num] pair and no int32 wrap-around: the affine value is linear in the free index,
  // so the selected columns of a row are one interval (binary search on the comparison), except
  // for not_equal.
  const bool linear = op.pattern.size() == 1 && op.cmp_op != AluOp::not_equal && [&] {
    const int64_t step = op.pattern[0].first;
    for (int64_t p : {int64_t{0}, P - 1})
      for (int64_t j : {int64_t{0}, N - 1}) {
        const int64_t v = op.offset + p * op.channel_multiplier + j * step;
        if (v < INT32_MIN || v > INT32_MAX) return false;
      }
    return true;
  }();
  if (linear) {
    const int64_t step = op.pattern[0].first;
    std::vector<int64_t> lo(static_cast<size_t>(P)), hi(static_cast<size_t>(P));
    with_cmp(op.cmp_op, [&](auto cmp) {
      for (int64_t p = 0; p < P; ++p) {
        const int64_t v0 = op.offset + p * op.channel_multiplier;
        auto pred = [&](int64_t j) { return cmp(v0 + j * step, int64_t{0}); };
        if (op.cmp_op == AluOp::equal) {
          const bool hit = step == 0 ? v0 == 0 : (-v0) % step == 0 && -v0 / step >= 0 && -v0 / step < N;
          const int64_t j = step == 0 ? 0 : -v0 / step;
          lo[p] = hit ? j : 0;
          hi[p] = hit ? (step == 0 ? N : j + 1) : 0;
          continue;
        }
        const bool first_true = pred(0);
        // the predicate flips at most once along the row: find the first j where it differs
        int64_t a = 1, b = N;
        while (a < b) {
          const int64_t m = a + (b - a) / 2;
          if (pred(m) != first_true) b = m;
          else a = m + 1;
        }
        const int64_t flip = N == 0 ? 0 : a;
        lo[p] = first_true ? 0 : flip;
        hi[p] = first_true ? flip : N;
      }
    });
    for_blocks(P, N, [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
      const int64_t n = nr * nc;
      Scratch<float> scr6(n);
      const Block x = src_block(t, r0, nr, c0, nc, scr6);
      Scratch<float> scr7(n);
      const Block out = dst_block(d, direct, r0, nr, c0, nc, scr7);
      for (int64_t r = 0; r < nr; ++r) {
        const int64_t a = std::clamp(lo[r0 + r] - c0, int64_t{0}, nc);
        const int64_t b = std::clamp(hi[r0 + r] - c0, a, nc);
        const float* xr = x.row(r);
        float* o = out.row(r);
        std::fill(o, o + a, fill);
        if (o != xr) std::copy(xr + a, xr + b, o + a);
        std::fill(o + b, o + nc, fill);
      }
      commit(d, r0, nr, c0, nc, out);
    });
    return;
  }
  with_cmp(op.cmp_op, [&](auto cmp) {
    for_blocks(P, N, [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
      const int64_t n = nr * nc;
      Scratch<float> scr8(n);
      const Block x = src_block(t, r0, nr, c0, nc, scr8);
      Scratch<float> scr9(n);
      const Block out = dst_block(d, direct, r0, nr, c0, nc, scr9);
      for (int64_t r = 0; r < nr; ++r) {
        const int64_t shift = (r0 + r) * op.channel_multiplier;
        const float* xr = x.row(r);
        float* o = out.row(r);
        const int64_t* b = base.data() + c0;
        for (int64_t j = 0; j < nc; ++j) {
          const int32_t v = static_cast<int32_t>(static_cast<uint32_t>(b[j] + shift));
          o[j] = cmp(v, int32_t{0}) ? xr[j] : fill;
        }
      }
      commit(d, r0, nr, c0, nc, out);
    });
  });
}

// ---------------------------------------------------------------- tensor_copy_predicated
void validate(const TensorCopyPredicatedOp& op, const Interpreter& in) {
  const Check c{"tensor_copy_predicated"};
  c.elementwise(op.dst, "predicate", op.predicate, kOnChip, in);
  const DType pd = op.predicate.dtype();
  NKISIM_REQUIRE(c, pd == DType::uint8 || pd == DType::uint16 || pd == DType::uint32, "predicate",
                 "dtype must be uint8, uint16 or uint32, found " + std::string(name(pd)));
  NKISIM_REQUIRE(c, op.src.present, "src", "is required (a tile or a number)");
  if (op.src.tile) {
    const Tensor& s = *op.src.tile;
    c.buffer_in("src", s, kOnChip, in);
    c.not_packed("src", s);
    c.same_layout("src", s, "dst", op.dst);
    NKISIM_REQUIRE(c, s.dtype() == op.dst.dtype(), "src",
                   "must have the dtype of dst (" + std::string(name(op.dst.dtype())) + "), found " +
                       std::string(name(s.dtype())));
    NKISIM_REQUIRE(c, !(s.buffer() == Buffer::psum && op.predicate.buffer() == Buffer::psum), "src",
                   "src and predicate cannot both be in psum");
  }
}

void execute(TensorCopyPredicatedOp& op, Interpreter&) {
  const Rows d = rows_of(op.dst), p = rows_of(op.predicate);
  const int es = d.es;
  std::optional<Rows> s;
  if (op.src.tile) s = rows_of(*op.src.tile);
  // A scalar src: its bits in dst's dtype.
  std::byte scalar_bits[8] = {};
  if (!s) {
    if (is_int(d.dtype)) {
      const int64_t v = static_cast<int64_t>(op.src.value);
      from_i64(d.dtype, &v, scalar_bits, 1);
    } else {
      const float v = static_cast<float>(op.src.value);
      from_f32(d.dtype, &v, scalar_bits, 1);
    }
  }
  const bool rev = op.reverse_pred;
  // Rows run one after another: src may overlap dst (element i only ever feeds element i).
  for_blocks(d.nrows, d.ncols, [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
    const int64_t n = nr * nc;
    Scratch<std::byte> scr10(static_cast<size_t>(n) * es);
    std::byte* dv = scr10;
    Scratch<std::byte> scr11(static_cast<size_t>(n) * es);
    std::byte* sv = scr11;
    Scratch<float> scr12(n);
    float* q = scr12;
    load<float>(p, r0, nr, c0, nc, q);
    gather_raw(d, r0, nr, c0, nc, dv);
    if (s) gather_raw(*s, r0, nr, c0, nc, sv);
    auto select = [&](auto tag) {
      using E = decltype(tag);
      E* dd = reinterpret_cast<E*>(dv);
      const E* ss = reinterpret_cast<const E*>(sv);
      E sc;
      std::memcpy(&sc, scalar_bits, sizeof(E));
      if (s) {
        for (int64_t i = 0; i < n; ++i) dd[i] = ((q[i] != 0.f) != rev) ? ss[i] : dd[i];
      } else {
        for (int64_t i = 0; i < n; ++i) dd[i] = ((q[i] != 0.f) != rev) ? sc : dd[i];
      }
    };
    switch (es) {
      case 1: select(uint8_t{}); break;
      case 2: select(uint16_t{}); break;
      case 4: select(uint32_t{}); break;
      default: select(uint64_t{}); break;
    }
    scatter_raw(d, r0, nr, c0, nc, dv);
  });
}

}  // namespace nkisim
