// nisa.tensor_copy_dynamic_src / tensor_copy_dynamic_dst (deprecated in 0.3.0, removed in 0.4.0):
// tensor_copy where one side has a dynamic offset. The dynamic view (.ap(scalar_offset=...) or
// t[nl.ds(register, n)]) is resolved by the interpreter; the copy is tensor_copy's.
#include "isa/common.hpp"

namespace nkisim {

namespace {
template <class O>
TensorCopyOp as_copy(const O& op) {
  TensorCopyOp c;
  c.dst = op.dst;
  c.src = op.src;
  c.engine = op.engine;
  return c;
}
}  // namespace

void validate(const TensorCopyDynamicSrcOp& op, const Interpreter& in) { validate(as_copy(op), in); }
void execute(TensorCopyDynamicSrcOp& op, Interpreter& in) {
  TensorCopyOp c = as_copy(op);
  execute(c, in);
}
void validate(const TensorCopyDynamicDstOp& op, const Interpreter& in) { validate(as_copy(op), in); }
void execute(TensorCopyDynamicDstOp& op, Interpreter& in) {
  TensorCopyOp c = as_copy(op);
  execute(c, in);
}

}  // namespace nkisim
