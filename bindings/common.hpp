// nki._core bindings: shared helpers.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "nkisim/nkisim.hpp"

namespace nkisim::py_bind {
namespace py = pybind11;

// The interpreter of the running program on this thread; a clear error outside a kernel.
Interpreter& current(const char* what);

// Run an instruction on the current interpreter. Large instructions release the GIL so that the
// programs of an LNC launch (Python threads) compute in parallel.
template <class O>
void run(O& op, int64_t work) {
  Interpreter& in = current(op_info(OpKindOf<O>::value).name.data());
  if (work >= 32768) {
    py::gil_scoped_release nogil;
    in.run(op);
  } else {
    in.run(op);
  }
}

Operand to_operand(const py::handle& o, const char* what);
std::optional<Tensor> opt_tensor(const py::handle& o);

void bind_tensor(py::module_& m);
void bind_isa(py::module_& m);

}  // namespace nkisim::py_bind
