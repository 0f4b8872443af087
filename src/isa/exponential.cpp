// nisa.exponential (trn3): dst = exp(src - max_value), with an optional running sum in the Vector
// engine's accumulator lanes (reduce_cmd) read out into reduce_res.
#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

namespace {
bool exp_dst_dtype(DType t) {
  switch (t) {
    case DType::float8_e4m3: case DType::float8_e5m2: case DType::float16: case DType::bfloat16:
    case DType::float32: case DType::tfloat32: case DType::int8: case DType::int16:
    case DType::int32: case DType::uint8: case DType::uint16:
      return true;
    default:
      return false;
  }
}
bool exp_src_dtype(DType t) {
  switch (t) {
    case DType::float8_e4m3: case DType::float8_e5m2: case DType::float16: case DType::bfloat16:
    case DType::float32: case DType::int8: case DType::int16: case DType::int32: case DType::uint8:
    case DType::uint16: case DType::uint32:
      return true;
    default:
      return false;
  }
}
bool exp_res_dtype(DType t) {
  switch (t) {
    case DType::float8_e4m3: case DType::float8_e5m2: case DType::float16: case DType::bfloat16:
    case DType::float32: case DType::tfloat32:
      return true;
    default:
      return false;
  }
}
}  // namespace

void validate(const ExponentialOp& op, const Interpreter& in) {
  const Check c{"exponential"};
  c.elementwise(op.dst, "src", op.src, kOnChip, in);
  NKISIM_REQUIRE(c, op.src.ndim() <= 4, "src", "can be at most 4-D, found shape " + shape_of(op.src));
  NKISIM_REQUIRE(c, op.dst.ndim() <= 4, "dst", "can be at most 4-D, found shape " + shape_of(op.dst));
  NKISIM_REQUIRE(c, exp_dst_dtype(op.dst.dtype()), "dst",
                 "dtype must be float8_e4m3, float8_e5m2, float16, bfloat16, float32, tfloat32, "
                 "int8, int16, int32, uint8 or uint16, found " + std::string(name(op.dst.dtype())));
  NKISIM_REQUIRE(c, exp_src_dtype(op.src.dtype()), "src",
                 "dtype must be float8_e4m3, float8_e5m2, float16, bfloat16, float32, int8, int16, "
                 "int32, uint8, uint16 or uint32, found " + std::string(name(op.src.dtype())));
  const int64_t P = op.src.partitions();
  c.scalar_or_vector("max_value", op.max_value, P, /*float32_only=*/true, in);
  c.scalar_or_vector("reduce_init", op.reduce_init, P, /*float32_only=*/true, in);
  NKISIM_REQUIRE(c, op.reduce_cmd != ReduceCmd::reset, "reduce_cmd",
                 "must be idle, reset_reduce, reduce or load_reduce, found reset");
  if (op.reduce_cmd != ReduceCmd::load_reduce)
    NKISIM_REQUIRE(c, !op.reduce_init.present || (!op.reduce_init.tile && op.reduce_init.value == 0.0),
                   "reduce_init", "must be unset or 0.0 unless reduce_cmd is load_reduce");
  if (op.reduce_res) {
    const Tensor& r = *op.reduce_res;
    c.writable("reduce_res", r);
    NKISIM_REQUIRE(c, r.partitions() == P && r.free_size() == 1, "reduce_res",
                   "must have shape (" + std::to_string(P) + ", 1), found " + shape_of(r));
    NKISIM_REQUIRE(c, exp_res_dtype(r.dtype()), "reduce_res",
                   "dtype must be float8_e4m3, float8_e5m2, float16, bfloat16, float32 or tfloat32, "
                   "found " + std::string(name(r.dtype())));
  }
}

void execute(ExponentialOp& op, Interpreter& in) {
  op.dst.claim_for_overwrite({&op.src, op.max_value.tile_ptr(), op.reduce_init.tile_ptr(),
                              op.reduce_res ? &*op.reduce_res : nullptr});
  const Rows d = rows_of(op.dst), a = rows_of(op.src);
  const int64_t P = d.nrows;
  float* acc = in.vector_acc.data() + lane0_of(op.src);
  if (op.reduce_cmd == ReduceCmd::reset_reduce) std::fill(acc, acc + P, 0.f);
  else if (op.reduce_cmd == ReduceCmd::load_reduce) operand_rows(op.reduce_init, 0, P, acc);
  const bool active = op.reduce_cmd != ReduceCmd::idle;
  const bool direct = dst_direct(d, {&a});
  const OperandValues max_value(op.max_value, P);
  for_blocks(P, d.ncols, [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
    const int64_t n = nr * nc;
    Scratch<float> scr1(n);
    const Block x = dst_block(d, direct, r0, nr, c0, nc, scr1);
    Scratch<float> scr2(n);
    apply_operand(AluOp::subtract, max_value, false, x,
                  src_block(a, r0, nr, c0, nc, scr2), r0);
    act_apply(ActFn::exp, x);
    if (active) {
      Scratch<float> scr3(nr);
      float* sums = scr3;
      row_sums(x, sums);
      for (int64_t r = 0; r < nr; ++r) acc[r0 + r] += sums[r];
    }
    commit(d, r0, nr, c0, nc, x);
  });
  if (op.reduce_res) store<float>(rows_of(*op.reduce_res), 0, P, 0, 1, acc);
}

}  // namespace nkisim
