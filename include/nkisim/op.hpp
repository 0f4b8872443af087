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

struct OpBase {
  std::string name;  // the instruction's name= label (profiling/scheduling only)
};

struct DmaCopyOp : OpBase {
  Tensor dst, src;
  OobMode oob_mode = OobMode::error;
  DgeMode dge_mode = DgeMode::unknown;
  Engine engine = Engine::unknown;
};
struct TensorCopyOp : OpBase {
  Tensor dst, src;
  Engine engine = Engine::unknown;
};
struct MemsetOp : OpBase {
  Tensor dst;
  double value = 0;
  bool value_is_float = false;  // a Python float was given (strict 0.3.0 typing)
  Engine engine = Engine::unknown;
};
struct IotaOp : OpBase {
  Tensor dst;
  std::vector<std::pair<int64_t, int64_t>> pattern;  // [step, num] pairs
  int64_t offset = 0;
  int64_t channel_multiplier = 0;
};
struct TensorTensorOp : OpBase {
  Tensor dst, data1, data2;
  AluOp op = AluOp::none;
  Engine engine = Engine::unknown;
};
struct TensorScalarOp : OpBase {
  Tensor dst, data;
  AluOp op0 = AluOp::none;
  Operand operand0;
  bool reverse0 = false;
  AluOp op1 = AluOp::none;
  Operand operand1;
  bool reverse1 = false;
  Engine engine = Engine::unknown;
};
struct ActivationOp : OpBase {
  Tensor dst;
  ActFn op = ActFn::copy;
  Tensor data;
  Operand bias;   // absent = 0
  Operand scale;  // absent = 1
  AluOp reduce_op = AluOp::none;
  std::optional<Tensor> reduce_res;
  ReduceCmd reduce_cmd = ReduceCmd::idle;
};
struct TensorReduceOp : OpBase {
  Tensor dst;
  AluOp op = AluOp::none;
  Tensor data;
  std::vector<int> axes;
  bool negate = false;
  bool keepdims = false;
};
struct MatmulOp : OpBase {
  Tensor dst, stationary, moving;
  bool is_stationary_onezero = false, is_moving_onezero = false;
  bool is_transpose = false;
  std::optional<bool> accumulate;  // nullopt: first write overwrites, later writes accumulate
  std::vector<int64_t> tile_position, tile_size;
  PerfMode perf_mode = PerfMode::none;
};
struct TransposeOp : OpBase {
  Tensor dst, data;
  Engine engine = Engine::unknown;
};
struct ReciprocalOp : OpBase {
  Tensor dst, data;
};

// Generated from ops.def.
enum class OpKind : uint8_t {
#define NKISIM_OP(n, S, e, g) n,
#include "nkisim/ops.def"
#undef NKISIM_OP
  count_
};
inline constexpr int kNumOpKinds = static_cast<int>(OpKind::count_);

struct OpInfo {
  std::string_view name;
  std::string_view engines;
  int first_gen;
};
const OpInfo& op_info(OpKind k);

template <class O> struct OpKindOf;
#define NKISIM_OP(n, S, e, g) \
  template <> struct OpKindOf<S> { static constexpr OpKind value = OpKind::n; };
#include "nkisim/ops.def"
#undef NKISIM_OP

class Interpreter;
// Each family implements these two in src/isa/<name>.cpp.
#define NKISIM_OP(n, S, e, g)                   \
  void validate(const S& op, const Interpreter& in); \
  void execute(S& op, Interpreter& in);
#include "nkisim/ops.def"
#undef NKISIM_OP

}  // namespace nkisim
