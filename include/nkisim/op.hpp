// nkisim: one plain struct per instruction family, plus the enums they use.
// Python's nki.isa functions normalise their arguments and fill these; Interpreter::run validates
// and executes them (src/isa/<name>.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "nkisim/decl.hpp"
#include "nkisim/register.hpp"
#include "nkisim/tensor.hpp"

namespace nkisim {

// nki.isa.engine values.
enum class Engine : uint8_t { unknown = 0, tensor = 1, scalar = 2, gpsimd = 3, dma = 4, vector = 5, sync = 6 };
std::string_view engine_name(Engine e);
// nki.isa.reduce_cmd values.
enum class ReduceCmd : uint8_t { idle = 0, reset = 1, reduce = 2, reset_reduce = 3, load_reduce = 4 };
enum class OobMode : uint8_t { error = 0, skip = 1 };
enum class DgeMode : uint8_t { unknown = 0, swdge = 1, hwdge = 2, none = 3 };
enum class PerfMode : uint8_t { none = 0, double_row = 1 };

// ALU operators (nki.language names used as op identifiers, section "ALU operator table").
enum class AluOp : uint8_t {
  none = 0,
  // bitvec: integer dtypes, raw bits
  invert, bitwise_and, bitwise_or, bitwise_xor, left_shift, right_shift,
  // arithmetic: fp32 math
  add, subtract, multiply, maximum, minimum, equal, not_equal, greater_equal, greater, less_equal,
  less, logical_and, logical_or, logical_xor, rsqrt, reciprocal, abs, power,
  count_
};
std::string_view alu_name(AluOp op);
bool alu_is_bitvec(AluOp op);
bool alu_is_unary(AluOp op);       // operand ignored
bool alu_can_reduce(AluOp op);     // legal as a reduction operator

// Scalar-engine activation functions (legal `op` of nisa.activation).
enum class ActFn : uint8_t {
  copy = 0, square, sigmoid, relu, gelu, gelu_dx, gelu_apprx_tanh, gelu_apprx_sigmoid,
  gelu_apprx_sigmoid_dx, silu, silu_dx, tanh, softplus, mish, erf, erf_dx, exp, log, sin, arctan,
  sqrt, rsqrt, reciprocal, sign, abs, count_
};
std::string_view act_name(ActFn f);

// The C++ types of the nki.isa enums, by enum name (for ops.def's ENUM parameters).
using enum_engine = Engine;
using enum_reduce_cmd = ReduceCmd;
using enum_dge_mode = DgeMode;
using enum_oob_mode = OobMode;
using enum_matmul_perf_mode = PerfMode;

// A scalar-or-vector operand: a Python number broadcast everywhere, or a (P, 1) tile with one
// value per partition.
struct Operand {
  std::optional<Tensor> tile;
  double value = 0.0;
  bool present = false;
  static Operand none() { return {}; }
  static Operand scalar(double v) { return Operand{std::nullopt, v, true}; }
  static Operand of(Tensor t) { return Operand{std::move(t), 0.0, true}; }
  const Tensor* tile_ptr() const { return tile ? &*tile : nullptr; }
};

// A Python number given where the instruction takes a constant (memset's value): 0.3.0 keeps ints
// and floats apart (a float into an integer tensor is an error).
struct Scalar {
  double value = 0.0;
  bool is_float = false;
  Scalar() = default;
  Scalar(double v) : value(v), is_float(true) {}  // NOLINT: implicit, as Python's 1.0
  Scalar(int v) : value(v), is_float(false) {}    // NOLINT: implicit, as Python's 1
  Scalar(int64_t v) : value(static_cast<double>(v)), is_float(false) {}  // NOLINT
};

// nki.isa.dma_engine values (sendrecv).
enum class DmaEngine : uint8_t { dma = 1, gpsimd_dma = 2 };
using enum_dma_engine = DmaEngine;

struct OpBase {
  std::string name;  // the instruction's name= label (profiling/scheduling only)
};

// Buffer masks of the declarations (a bit per Buffer).
inline constexpr unsigned kSbuf = 1u << static_cast<int>(Buffer::sbuf);
inline constexpr unsigned kPsum = 1u << static_cast<int>(Buffer::psum);
inline constexpr unsigned kHbm =
    (1u << static_cast<int>(Buffer::private_hbm)) | (1u << static_cast<int>(Buffer::shared_hbm));
inline constexpr unsigned kOnChip = kSbuf | kPsum;

// The op structs, generated from ops.def: the 0.3.0 parameters in order, with their defaults.
#define NKISIM_STRUCT_MEMBERS
#include "nkisim/ops_x.hpp"
#define NKISIM_INSTR(n, S, gen, deng, e2, e3, e4, doc, PARAMS) \
  struct S : OpBase {                                          \
    PARAMS                                                     \
  };
#include "nkisim/ops.def"
#undef NKISIM_INSTR
#undef NKISIM_STRUCT_MEMBERS
#include "nkisim/ops_x.hpp"

enum class OpKind : uint8_t {
#define NKISIM_INSTR(n, S, gen, deng, e2, e3, e4, doc, PARAMS) n,
#include "nkisim/ops.def"
#undef NKISIM_INSTR
  count_
};
inline constexpr int kNumOpKinds = static_cast<int>(OpKind::count_);

template <class O> struct OpKindOf;
#define NKISIM_INSTR(n, S, gen, deng, e2, e3, e4, doc, PARAMS) \
  template <> struct OpKindOf<S> { static constexpr OpKind value = OpKind::n; };
#include "nkisim/ops.def"
#undef NKISIM_INSTR

const InstrDecl& decl(OpKind k);
// The tensor a tensor-like parameter (tensor, tensor or None, number-or-tile) of an op struct
// holds; nullptr for None, a number, or another kind. (Inline: the interpreter's generic steps
// call it for every parameter of every instruction.)
inline const Tensor* tensor_param(const void* op, const ParamDecl& p) {
  switch (p.kind) {
    case Kind::tensor: return &InstrDecl::get<Tensor>(op, p);
    case Kind::opt_tensor: {
      const auto& o = InstrDecl::get<std::optional<Tensor>>(op, p);
      return o ? &*o : nullptr;
    }
    case Kind::operand: return InstrDecl::get<Operand>(op, p).tile_ptr();
    default: return nullptr;
  }
}
template <class O>
const InstrDecl& decl_of() {
  return decl(OpKindOf<O>::value);
}

class Interpreter;
// Each family implements these two in src/isa/<name>.cpp. validate checks the instruction's own
// rules (the common ones, from its declaration, are checked before it); it has no side effects.
#define NKISIM_INSTR(n, S, gen, deng, e2, e3, e4, doc, PARAMS) \
  void validate(const S& op, const Interpreter& in);           \
  void execute(S& op, Interpreter& in);
#include "nkisim/ops.def"
#undef NKISIM_INSTR

}  // namespace nkisim
