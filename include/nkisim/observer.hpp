// nkisim: execution events and the observers that receive them.
//
// An Interpreter tells its observers about every executed instruction (an Event: the typed op
// with all its declared parameters, the engine it ran on, its traffic per memory, the kernel
// line) and about every on-chip allocation and free. With no observer attached this costs one
// branch per instruction. Observers are kept across Interpreter::reset() (interpreter reuse).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>

#include "nkisim/decl.hpp"
#include "nkisim/op.hpp"

namespace nkisim {

class Interpreter;
struct Allocation;

// Bytes moved by one instruction, per memory, from its declared operand roles.
enum class Mem : uint8_t { hbm = 0, sbuf = 1, psum = 2 };
inline Mem mem_of(Buffer b) {
  return b == Buffer::sbuf ? Mem::sbuf : b == Buffer::psum ? Mem::psum : Mem::hbm;
}
struct Traffic {
  std::array<uint64_t, 3> read{};     // by Mem
  std::array<uint64_t, 3> written{};  // by Mem
  uint64_t elements = 0;              // elements written (or read, when nothing is written)
};

struct Event {
  const InstrDecl& decl;  // name, parameters (with offsets into `op`)
  const OpBase& op;       // the typed op struct (decl.kind says which)
  Engine engine;          // the engine it ran on
  const Interpreter& core;
  uint64_t seq;           // index of this instruction on its core (0-based)

  OpKind kind() const { return static_cast<OpKind>(decl.kind); }
  template <class O>
  const O* as() const {  // the op as its struct, or nullptr for another instruction
    return OpKindOf<O>::value == kind() ? static_cast<const O*>(&op) : nullptr;
  }
  Traffic traffic() const;    // computed on demand from the declaration's roles
  std::string where() const;  // "file.py:12 in kernel: <source>" (empty outside Python)
};

class Observer {
 public:
  virtual ~Observer() = default;
  // Before the instruction executes (after validation), and after it executed.
  virtual void before_instruction(const Event& e) {}
  virtual void on_instruction(const Event& e) = 0;
  // An on-chip allocation was made / released on core `core`.
  virtual void on_allocate(const Allocation& a, int core) {}
  virtual void on_free(const Allocation& a, int core) {}
};

}  // namespace nkisim
