// nkisim: register operands (VirtualRegister), issue 9.
#pragma once

#include <cstdint>

namespace nkisim {

// A register operand of an instruction (VirtualRegister), or an immediate int where the
// instruction also takes one (register_move's src). Registers belong to one core and one launch.
struct RegRef {
  int32_t id = -1;      // register number on its core; -1: an immediate (or none)
  int32_t core = -1;    // the core that allocated it
  uint64_t epoch = 0;   // the launch (interpreter epoch) it belongs to
  int64_t imm = 0;      // the immediate value when id < 0
  bool present = false; // a register or an immediate was given
  bool is_reg() const { return id >= 0; }
};

}  // namespace nkisim
