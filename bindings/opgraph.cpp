// nki._core bindings of the op-graph recorder and replayer (include/nkisim/opgraph.hpp).
#include "common.hpp"
#include "nkisim/opgraph.hpp"

namespace nkisim::py_bind {

void bind_opgraph(py::module_& m) {
  py::class_<Recorder, Observer, std::shared_ptr<Recorder>>(m, "Recorder",
      "Records the executed op stream of the interpreters it is attached to into a file that "
      "nki._core.replay (or the nkisim-replay tool) replays bit for bit.")
      .def(py::init<const std::string&>(), py::arg("path"))
      .def("finish", &Recorder::finish, py::call_guard<py::gil_scoped_release>(),
           "Write the final HBM contents and close the file (idempotent).")
      .def_property_readonly("instructions", &Recorder::instructions)
      .def_property_readonly("path", &Recorder::path);
  m.def("replay", [](const std::string& path) {
    ReplayResult r;
    {
      py::gil_scoped_release nogil;
      r = replay(path);
    }
    py::dict d;
    d["target"] = r.target;
    d["cores"] = r.cores;
    d["instructions"] = r.instructions;
    d["hbm_tensors"] = r.hbm_tensors;
    d["hbm_bytes"] = r.hbm_bytes;
    d["bit_exact"] = r.bit_exact();
    py::list mism;
    for (const auto& x : r.mismatches) {
      py::dict e;
      e["id"] = x.id;
      e["name"] = x.name;
      e["bytes"] = x.bytes;
      e["first_offset"] = x.first_offset;
      mism.append(e);
    }
    d["mismatches"] = mism;
    d["summary"] = r.summary();
    return d;
  }, py::arg("path"),
  "Replay an op graph recorded with nki.simulate(kernel, record=path) on fresh C++ interpreters; "
  "returns a dict (instructions, cores, hbm_tensors, hbm_bytes, bit_exact, mismatches, summary).");
}

}  // namespace nkisim::py_bind
