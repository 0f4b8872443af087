#include "nkisim/op.hpp"

#include <cstddef>

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


// ---------------------------------------------------------------- enums of nki.isa
namespace {
constexpr EnumMember kEngineMembers[] = {{"unknown", 0}, {"tensor", 1}, {"scalar", 2}, {"gpsimd", 3},
                                        {"dma", 4},     {"vector", 5}, {"sync", 6}};
constexpr EnumMember kReduceCmdMembers[] = {
    {"idle", 0}, {"reset", 1}, {"reduce", 2}, {"reset_reduce", 3}, {"load_reduce", 4}};
constexpr EnumMember kDgeMembers[] = {{"unknown", 0}, {"swdge", 1}, {"hwdge", 2}, {"none", 3}};
constexpr EnumMember kOobMembers[] = {{"error", 0}, {"skip", 1}};
constexpr EnumMember kPerfMembers[] = {{"none", 0}, {"double_row", 1}};
constexpr EnumMember kDmaEngineMembers[] = {{"dma", 1}, {"gpsimd_dma", 2}};
constexpr EnumDecl kEnums[] = {
    {"engine", false, kEngineMembers},
    {"reduce_cmd", false, kReduceCmdMembers},
    {"dge_mode", false, kDgeMembers},
    {"oob_mode", false, kOobMembers},
    {"matmul_perf_mode", true, kPerfMembers},
    {"dma_engine", false, kDmaEngineMembers},
};
static_assert(sizeof(kEnums) / sizeof(kEnums[0]) == static_cast<size_t>(EnumId::count_));
}  // namespace

const EnumDecl& enum_decl(EnumId e) { return kEnums[static_cast<int>(e)]; }
const EnumMember* enum_member(EnumId e, int v) {
  for (const auto& m : enum_decl(e).members)
    if (m.value == v) return &m;
  return nullptr;
}

std::string_view kind_name(Kind k) {
  constexpr std::string_view names[] = {"tensor", "tensor or None", "number or (P, 1) tile",
                                        "ALU operator", "activation function", "enum member",
                                        "bool", "bool or None", "int", "number", "tuple of ints",
                                        "access pattern", "axis",
                                        "VirtualRegister", "VirtualRegister or int",
                                        "list of tensors", "list of numbers",
                                        "int or None"};
  return names[static_cast<int>(k)];
}

// ---------------------------------------------------------------- the declarations (ops.def)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"  // op structs derive from OpBase; no virtual bases
namespace {
constexpr bool is_enum_kind(Kind k) { return k == Kind::enum_; }
#define NKISIM_PARAM_ROWS
#include "nkisim/ops_x.hpp"
#define NKISIM_INSTR(n, S, gen, deng, e2, e3, e4, doc, PARAMS) \
  struct Rows_##n {                                                                          \
    using Self = S;                                                                          \
    static constexpr ParamDecl rows[] = {PARAMS};                                            \
    static constexpr auto operands =                                                         \
        param_indices<std::size(rows), count_params(rows, is_operand_kind)>(rows, is_operand_kind); \
    static constexpr auto enums =                                                            \
        param_indices<std::size(rows), count_params(rows, is_enum_kind)>(rows, is_enum_kind); \
  };
#include "nkisim/ops.def"
#undef NKISIM_INSTR

constexpr InstrDecl kDecls[] = {
#define NKISIM_INSTR(n, S, gen, deng, e2, e3, e4, doc, PARAMS)                               \
  InstrDecl{#n, static_cast<int>(OpKind::n), gen, static_cast<uint8_t>(Engine::deng), \
            {static_cast<uint8_t>(e2), static_cast<uint8_t>(e3), static_cast<uint8_t>(e4)},   \
            Rows_##n::rows, Rows_##n::operands, Rows_##n::enums, doc},
#include "nkisim/ops.def"
#undef NKISIM_INSTR
};
#undef NKISIM_PARAM_ROWS
#include "nkisim/ops_x.hpp"

constexpr const InstrDecl* kDeclPtrs[] = {
#define NKISIM_INSTR(n, S, gen, deng, e2, e3, e4, doc, PARAMS) &kDecls[static_cast<int>(OpKind::n)],
#include "nkisim/ops.def"
#undef NKISIM_INSTR
};
}  // namespace
#pragma GCC diagnostic pop

const InstrDecl& decl(OpKind k) { return kDecls[static_cast<int>(k)]; }
std::span<const InstrDecl* const> all_decls() { return kDeclPtrs; }
const InstrDecl* find_decl(std::string_view name) {
  for (const InstrDecl* d : kDeclPtrs)
    if (d->name == name) return d;
  return nullptr;
}

}  // namespace nkisim
