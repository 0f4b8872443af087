// nkisim: the declaration of an instruction, as data.
//
// Every instruction is declared once, in include/nkisim/ops.def (one NKISIM_INSTR row: its 0.3.0
// name, its op struct, the generation that first has it, its engines per generation, and its
// parameters in 0.3.0 order with kind, role, buffers and default). From that row come:
//   - the op struct itself (include/nkisim/op.hpp), with the defaults of 0.3.0;
//   - an InstrDecl (this file): the runtime description every generic piece works from:
//     the Python callable and its signature, argument parsing and conversion (bindings/),
//     the common validation (buffers per role, engine per generation, generation availability,
//     enum membership), memory state (reads from in/inout roles, writes from out/inout roles),
//     execution events (bytes per memory), and the op-graph recorder and replayer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nkisim {

// What a parameter is (and so which C++ type its op-struct member has).
enum class Kind : uint8_t {
  tensor,      // Tensor                       a tensor operand
  opt_tensor,  // std::optional<Tensor>        a tensor operand or None
  operand,     // Operand                      a Python number or a (P, 1) tile (or None)
  alu,         // AluOp                        an nl ALU function (nl.add); AluOp::none = None
  act,         // ActFn                        an nl activation function (nl.exp)
  enum_,       // one of the nki.isa enums     a member, its value, or its name
  boolean,     // bool
  opt_bool,    // std::optional<bool>          True / False / None
  integer,     // int64_t
  scalar,      // Scalar                       a Python number (int or float kept apart)
  ints,        // std::vector<int64_t>         a tuple/list of ints ("()" or None = empty)
  pattern,     // std::vector<std::pair<int64_t, int64_t>>  [[step, num], ...]
  axes,        // std::vector<int>             an int or a list of ints
  reg,         // RegRef                       a VirtualRegister (issue 9)
  reg_or_int,  // RegRef                       a VirtualRegister or an int
  tensors,     // std::vector<Tensor>          a list of tensors (dma_compute's srcs)
  floats,      // std::vector<double>          a list of numbers, or None (empty)
  opt_integer, // std::optional<int64_t>       an int or None
};
std::string_view kind_name(Kind k);

// How an instruction uses a tensor operand: what it reads and what it writes.
enum class Role : uint8_t { none, in, out, inout };
inline bool reads(Role r) { return r == Role::in || r == Role::inout; }
inline bool writes(Role r) { return r == Role::out || r == Role::inout; }

// Which enum an enum_ parameter takes (the nki.isa enum classes).
enum class EnumId : uint8_t { engine, reduce_cmd, dge_mode, oob_mode, matmul_perf_mode, dma_engine,
                              count_ };
struct EnumMember {
  std::string_view name;
  int value;  // the C++ enumerator's value (and the Python value, unless string_valued)
};
struct EnumDecl {
  std::string_view name;  // nki.isa.<name>
  bool string_valued;     // Python values are the member names (matmul_perf_mode)
  std::span<const EnumMember> members;
};
const EnumDecl& enum_decl(EnumId e);
// The member of `e` with C++ value v (nullptr if none).
const EnumMember* enum_member(EnumId e, int v);

struct ParamDecl {
  std::string_view name;      // the 0.3.0 keyword
  Kind kind;
  Role role = Role::none;     // tensor, opt_tensor, operand: what the instruction does with it
  unsigned buffers = 0;       // tensor kinds: mask of the buffers it may live in (bit per Buffer)
  std::string_view default_;  // Python expression of the 0.3.0 default; empty: required
  EnumId enum_id = EnumId::count_;  // enum_ kind: which enum
  size_t offset = 0;          // the member's byte offset in the op struct
  bool required() const { return default_.empty(); }
};

inline constexpr bool is_operand_kind(Kind k) {
  return k == Kind::tensor || k == Kind::opt_tensor || k == Kind::operand || k == Kind::tensors;
}

// The indices of the parameters whose kind satisfies `pick`, as a constexpr array (declarations).
template <size_t N, size_t M, class Pick>
constexpr std::array<uint8_t, M> param_indices(const ParamDecl (&rows)[N], Pick pick) {
  std::array<uint8_t, M> out{};
  size_t j = 0;
  for (size_t i = 0; i < N; ++i)
    if (pick(rows[i].kind)) out[j++] = static_cast<uint8_t>(i);
  return out;
}
template <size_t N, class Pick>
constexpr size_t count_params(const ParamDecl (&rows)[N], Pick pick) {
  size_t n = 0;
  for (size_t i = 0; i < N; ++i) n += pick(rows[i].kind) ? 1 : 0;
  return n;
}

struct InstrDecl {
  std::string_view name;       // nki.isa.<name>
  int kind;                    // its OpKind value
  int first_gen;               // 2 = trn1, 3 = trn2, 4 = trn3
  uint8_t default_engine;      // Engine it runs on when none is chosen
  uint8_t engines[3];          // allowed Engine bits for gen2, gen3, gen4 (0: not on that gen)
  std::span<const ParamDecl> params;  // without the trailing name=None, which every one has
  // Indices into params of the tensor-like parameters (tensor, opt_tensor, operand, tensors) and
  // of the enum_ parameters: the per-instruction generic steps walk only these.
  std::span<const uint8_t> operands;
  std::span<const uint8_t> enums;
  std::string_view summary;    // one line for help()
  // Read a member of an op struct of this instruction, by parameter.
  template <class T>
  static const T& get(const void* op, const ParamDecl& p) {
    return *reinterpret_cast<const T*>(static_cast<const char*>(op) + p.offset);
  }
  template <class T>
  static T& get(void* op, const ParamDecl& p) {
    return *reinterpret_cast<T*>(static_cast<char*>(op) + p.offset);
  }
  const ParamDecl* find(std::string_view n) const {
    for (const auto& p : params)
      if (p.name == n) return &p;
    return nullptr;
  }
};

// Every declared instruction, in OpKind order.
std::span<const InstrDecl* const> all_decls();
const InstrDecl* find_decl(std::string_view name);

}  // namespace nkisim
