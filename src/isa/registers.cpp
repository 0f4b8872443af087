// nisa.register_move / register_load / register_store: the VirtualRegisters of a core (32-bit
// values, see Interpreter::read_register). register_load reads the single integer element of a
// tensor; register_store writes a register's value into a single-element tensor.
#include "isa/common.hpp"

namespace nkisim {
using namespace isa;

namespace {
void single_element(const Check& c, const char* param, const Tensor& t) {
  NKISIM_REQUIRE(c, t.size() == 1, param,
                 "must hold exactly one element (shape [1] or [1, 1]), found " + t.describe());
  NKISIM_REQUIRE(c, size_of(t.dtype()) <= 4, param,
                 "registers hold 32-bit values; found a " + std::string(name(t.dtype())) + " tensor");
}
}  // namespace

void validate(const RegisterMoveOp& op, const Interpreter& in) {
  const Check c{"register_move"};
  NKISIM_REQUIRE(c, op.dst.is_reg(), "dst", "must be a VirtualRegister (from nisa.register_alloc)");
  if (!op.src.is_reg())
    NKISIM_REQUIRE(c, op.src.imm >= INT32_MIN && op.src.imm <= int64_t{UINT32_MAX}, "src",
                   "registers hold 32-bit values, found " + std::to_string(op.src.imm));
}
void execute(RegisterMoveOp& op, Interpreter& in) {
  in.write_register(op.dst, in.read_register(op.src, "register_move", "src"), "register_move", "dst");
}

void validate(const RegisterLoadOp& op, const Interpreter& in) {
  const Check c{"register_load"};
  single_element(c, "src", op.src);
  NKISIM_REQUIRE(c, is_int(op.src.dtype()), "src",
                 "must have an integer dtype (int8..int32, uint8..uint32), found " +
                     std::string(name(op.src.dtype())));
}
void execute(RegisterLoadOp& op, Interpreter& in) {
  const Strided s = op.src.strided();
  int64_t v = 0;
  to_i64(op.src.dtype(), s.base, &v, 1, false);
  in.write_register(op.dst, v, "register_load", "dst");
}

void validate(const RegisterStoreOp& op, const Interpreter& in) {
  const Check c{"register_store"};
  single_element(c, "dst", op.dst);  // writability: the declaration's (check_common)
}
void execute(RegisterStoreOp& op, Interpreter& in) {
  const int64_t v = in.read_register(op.src, "register_store", "src");
  const Strided s = op.dst.strided();
  if (is_int(op.dst.dtype())) {
    from_i64(op.dst.dtype(), &v, s.base, 1);
  } else {
    const float f = static_cast<float>(v);
    from_f32(op.dst.dtype(), &f, s.base, 1);
  }
}

}  // namespace nkisim
