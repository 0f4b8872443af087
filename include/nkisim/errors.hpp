// nkisim: typed errors. Each maps to one Python exception class (see bindings/module.cpp).
// Messages are for humans: name the instruction, the operand, what was expected and what was found.
#pragma once

#include <stdexcept>
#include <string>

namespace nkisim {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A hardware rule is broken (shape, dtype, buffer, engine, generation). -> nki.isa.NkiValidationError
struct ValidationError : Error {
  using Error::Error;
};
// An argument of the wrong Python type (a list where a tensor belongs, a str for an int).
// -> nki.isa.NkiTypeError (both an NkiValidationError and a TypeError)
struct ArgumentTypeError : ValidationError {
  using ValidationError::ValidationError;
};
// An index or access pattern leaves its tensor or allocation. -> nki.isa.NkiOutOfBoundsError (IndexError)
struct OutOfBoundsError : ValidationError {
  using ValidationError::ValidationError;
};
// SBUF/PSUM capacity exceeded or an impossible placement. -> nki.isa.NkiAllocationError
struct AllocationError : ValidationError {
  using ValidationError::ValidationError;
};
// An instruction reads an on-chip tensor no instruction has written (NKI_SIM_UNINIT=error).
// -> nki.isa.NkiUninitializedReadError
struct UninitializedReadError : ValidationError {
  using ValidationError::ValidationError;
};
// The same finding under NKI_SIM_UNINIT=warn (the default): raised after the instruction has
// executed, so the caller can report it as a warning and carry on.
struct UninitializedReadNotice : Error {
  using Error::Error;
};
// The host (the machine running the simulator) has no memory for a simulated buffer.
// -> MemoryError, naming what was being allocated and how large.
struct HostMemoryError : Error {
  using Error::Error;
};
// A feature the simulator does not implement (yet). -> nki.isa.NkiUnsupportedError (NotImplementedError)
struct UnsupportedError : Error {
  using Error::Error;
};

// Another program of the same launch failed; this one was stopped at its next instruction or wait.
// -> nki.isa.NkiLaunchAbortedError (a RuntimeError)
struct LaunchAbortedError : Error {
  using Error::Error;
};

// Two cores of a launch access shared HBM without synchronising (NKI_SIM_RACE=error).
// -> nki.isa.NkiRaceError
struct RaceError : ValidationError {
  using ValidationError::ValidationError;
};
// The same finding under NKI_SIM_RACE=warn (the default), raised after the instruction executed.
// -> a nki.isa.NkiRaceWarning
struct RaceNotice : Error {
  using Error::Error;
};

}  // namespace nkisim
