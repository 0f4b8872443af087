#include "nkisim/op.hpp"

namespace nkisim {

std::string_view engine_name(Engine e) {
  switch (e) {
    case Engine::unknown: return "unknown";
    case Engine::tensor: return "tensor";
    case Engine::scalar: return "scalar";
    case Engine::gpsimd: return "gpsimd";
    case Engine::dma: return "dma";
    case Engine::vector: return "vector";
    case Engine::sync: return "sync";
  }
  return "?";
}

namespace {
struct AluRow {
  std::string_view name;
  bool bitvec, unary, reduce;
};
constexpr AluRow kAlu[] = {
    {"none", false, false, false},
    {"invert", true, true, false},
    {"bitwise_and", true, false, true},
    {"bitwise_or", true, false, true},
    {"bitwise_xor", true, false, true},
    {"left_shift", true, false, false},
    {"right_shift", true, false, false},
    {"add", false, false, true},
    {"subtract", false, false, true},
    {"multiply", false, false, true},
    {"maximum", false, false, true},
    {"minimum", false, false, true},
    {"equal", false, false, false},
    {"not_equal", false, false, false},
    {"greater_equal", false, false, false},
    {"greater", false, false, false},
    {"less_equal", false, false, false},
    {"less", false, false, false},
    {"logical_and", false, false, true},
    {"logical_or", false, false, true},
    {"logical_xor", false, false, true},
    {"rsqrt", false, true, false},
    {"reciprocal", false, true, false},
    {"abs", false, true, false},
    {"power", false, false, false},
};
static_assert(sizeof(kAlu) / sizeof(kAlu[0]) == static_cast<size_t>(AluOp::count_));

constexpr std::string_view kAct[] = {
    "copy", "square", "sigmoid", "relu", "gelu", "gelu_dx", "gelu_apprx_tanh",
    "gelu_apprx_sigmoid", "gelu_apprx_sigmoid_dx", "silu", "silu_dx", "tanh", "softplus", "mish",
    "erf", "erf_dx", "exp", "log", "sin", "arctan", "sqrt", "rsqrt", "reciprocal", "sign", "abs"};
static_assert(sizeof(kAct) / sizeof(kAct[0]) == static_cast<size_t>(ActFn::count_));
}  // namespace

std::string_view alu_name(AluOp op) { return kAlu[static_cast<int>(op)].name; }
bool alu_is_bitvec(AluOp op) { return kAlu[static_cast<int>(op)].bitvec; }
bool alu_is_unary(AluOp op) { return kAlu[static_cast<int>(op)].unary; }
bool alu_can_reduce(AluOp op) { return kAlu[static_cast<int>(op)].reduce; }
std::string_view act_name(ActFn f) { return kAct[static_cast<int>(f)]; }

}  // namespace nkisim
