// nki._core pieces used by nki.collectives (issue 12).
#include <pybind11/stl.h>

#include "common.hpp"
#include "nkisim/collectives.hpp"

namespace nkisim::py_bind {

void bind_collectives(py::module_& m) {
  m.def("collective_mark_written", [](const Tensor& t) { collectives::mark_written(t); },
        "Record that a collective wrote this (on-chip) view.");
  m.def("collective_claim", [](const Tensor& dst, const std::vector<Tensor>& sources) {
    collectives::claim_for_overwrite(dst, sources);
  }, "A collective will overwrite all of dst: skip its pending sentinel fill.");
}

}  // namespace nkisim::py_bind
