// nki._core pieces used by nki.collectives (issue 12).
#include "common.hpp"
#include "nkisim/collectives.hpp"

namespace nkisim::py_bind {

void bind_collectives(py::module_& m) {
  m.def("collective_mark_written", [](const Tensor& t) { collectives::mark_written(t); },
        "Record that a collective wrote this (on-chip) view.");
}

}  // namespace nkisim::py_bind
