// nisa.activation: dst = op(data * scale + bias), with an optional per-partition sum of the
// activated values into the scalar engine's accumulators (reduce_cmd) and a read-out (reduce_res).
#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

void validate(const ActivationOp& op, const Interpreter& in) {
  const Check c{"activation"};
  c.elementwise(op.dst, "data", op.data, kOnChip, in);
  const int64_t P = op.data.partitions();
  c.scalar_or_vector("scale", op.scale, P, /*float32_only=*/true, in);
  c.scalar_or_vector("bias", op.bias, P, /*float32_only=*/false, in);
  if (op.bias.tile)
    NKISIM_REQUIRE(c, op.bias.tile->dtype() != DType::tfloat32, "bias", "cannot be tfloat32");
  if (in.target().gen == Gen::gen2) {
    NKISIM_REQUIRE(c, !op.bias.present || op.bias.tile.has_value(), "bias",
              "must be a (P, 1) vector on trn1, not a Python number");
    NKISIM_REQUIRE(c, !(op.op == ActFn::reciprocal && op.bias.present), "bias",
              "op=nl.reciprocal cannot take a bias on trn1");
  }
  if (op.reduce_op != AluOp::none) {
    // trn1: nl.add only; trn2 and newer also fold with maximum, minimum or multiply (issue 7).
    const AluOp r = op.reduce_op;
    if (in.target().gen == Gen::gen2)
      NKISIM_REQUIRE(c, r == AluOp::add, "reduce_op",
                "must be nl.add on trn1, found " + std::string(alu_name(r)));
    else
      NKISIM_REQUIRE(c, r == AluOp::add || r == AluOp::maximum || r == AluOp::minimum ||
                            r == AluOp::multiply,
                "reduce_op",
                "must be nl.add, nl.maximum, nl.minimum or nl.multiply, found " +
                    std::string(alu_name(r)));
  }
  NKISIM_REQUIRE(c, op.reduce_cmd != ReduceCmd::load_reduce, "reduce_cmd",
            "load_reduce is not available on activation (it has no initial value operand)");
  if (op.reduce_res) {
    const Tensor& r = *op.reduce_res;
    c.buffer_in("reduce_res", r, kOnChip, in);
    c.writable("reduce_res", r);
    NKISIM_REQUIRE(c, r.partitions() == P && r.free_size() == 1, "reduce_res",
              "must have shape (" + std::to_string(P) + ", 1), found " + shape_of(r));
  }
}

void execute(ActivationOp& op, Interpreter& in) {
  op.dst.claim_for_overwrite({&op.data, op.bias.tile_ptr(), op.scale.tile_ptr(),
                              op.reduce_res ? &*op.reduce_res : nullptr});
  const Rows d = rows_of(op.dst), a = rows_of(op.data);
  const int64_t P = d.nrows;
  // Accumulator lanes are physical partitions.
  const int64_t lane0 = op.data.allocation().start_partition + op.data.start_partition();
  float* acc = in.scalar_acc.data() + lane0;
  const bool accumulate = op.reduce_cmd == ReduceCmd::reduce || op.reduce_cmd == ReduceCmd::reset_reduce;
  // reset: the registers become 0; reset_reduce: they become this instruction's reduction (the
  // fold starts from reduce_op's identity, 0 for nl.add); reduce: folded onto their value.
  const AluOp red = op.reduce_op == AluOp::none ? AluOp::add : op.reduce_op;
  if (op.reduce_cmd == ReduceCmd::reset) std::fill(acc, acc + P, 0.f);
  if (op.reduce_cmd == ReduceCmd::reset_reduce) std::fill(acc, acc + P, alu_identity(red));
  const bool direct = dst_direct(d, {&a});
  const OperandValues scale(op.scale, P), bias(op.bias, P);
  for_blocks(P, d.ncols, [&](int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
    const int64_t n = nr * nc;
    Scratch<float> x_lanes(n), in_lanes(n);
    const Block x = dst_block(d, direct, r0, nr, c0, nc, x_lanes);
    // x = data * scale + bias, reading data once.
    Block in = src_block(a, r0, nr, c0, nc, in_lanes);
    if (op.scale.tile || (op.scale.present && op.scale.value != 1.0)) {
      apply_operand(AluOp::multiply, scale, false, x, in, r0);
      in = x;
    }
    if (op.bias.present && (op.bias.tile || op.bias.value != 0.0)) {
      apply_operand(AluOp::add, bias, false, x, in, r0);
      in = x;
    }
    copy_block(x, in);
    act_apply(op.op, x);
    if (accumulate) {
      Scratch<float> sums(nr);
      if (red == AluOp::add) {
        row_sums(x, sums);
        for (int64_t r = 0; r < nr; ++r) acc[r0 + r] += sums[r];
      } else {
        row_reduce(red, x, sums);
        for (int64_t r = 0; r < nr; ++r) acc[r0 + r] = alu_apply(red, acc[r0 + r], sums[r]);
      }
    }
    commit(d, r0, nr, c0, nc, x);
  });
  if (op.reduce_res) store<float>(rows_of(*op.reduce_res), 0, P, 0, 1, acc);
}

// nisa.activation_reduce: activation with reduce_cmd=reset_reduce.
namespace {
ActivationOp as_activation(const ActivationReduceOp& r) {
  ActivationOp a;
  a.name = r.name;
  a.dst = r.dst;
  a.op = r.op;
  a.data = r.data;
  a.bias = r.bias;
  a.scale = r.scale;
  a.reduce_op = r.reduce_op;
  a.reduce_res = r.reduce_res;
  a.reduce_cmd = ReduceCmd::reset_reduce;
  return a;
}
}  // namespace

void validate(const ActivationReduceOp& op, const Interpreter& in) { validate(as_activation(op), in); }
void execute(ActivationReduceOp& op, Interpreter& in) {
  ActivationOp a = as_activation(op);
  execute(a, in);
}

}  // namespace nkisim
