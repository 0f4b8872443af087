// nki._core bindings: shared helpers.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <structmember.h>

#include "nkisim/nkisim.hpp"

namespace nkisim::py_bind {
namespace py = pybind11;

// The interpreter of the running program on this thread; a clear error outside a kernel.
Interpreter& current(const char* what);

// Set the Python error for the C++ exception being handled (call inside a catch block): the
// nkisim error classes get the kernel line appended; an uninitialized-read notice becomes a
// warning instead (returns None then). Returns nullptr when an error is set.
PyObject* raise_current_exception();

// The kernel line of the running instruction ("" when unknown); needs the GIL.
std::string locate_kernel_line();

void configure_for_python(Interpreter& in);

void bind_launch(py::module_& m);  // launch.cpp (issue 9): Launch, VirtualRegister
void bind_tensor(py::module_& m);
void bind_instructions(py::module_& m);
void bind_opgraph(py::module_& m);
void bind_collectives(py::module_& m);  // issue 12

}  // namespace nkisim::py_bind
