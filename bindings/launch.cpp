// nki._core launch objects (issue 9): Launch (the cores of one kernel[n] launch, their shared HBM
// and synchronisation) and VirtualRegister.
#include "common.hpp"

namespace nkisim::py_bind {

void bind_launch(py::module_& m) {
  py::class_<Launch, std::shared_ptr<Launch>>(m, "Launch",
      "The cores of one kernel[n] launch: interpreters, shared HBM, barrier and mailboxes.")
      .def(py::init([](const std::string& target, int n) {
             auto l = std::make_shared<Launch>(
                 target.empty() ? Target::from_env() : Target::from_name(target), n);
             for (int i = 0; i < n; ++i) configure_for_python(l->core(i));
             return l;
           }),
           py::arg("target"), py::arg("n"))
      .def_property_readonly("size", &Launch::size)
      .def("interpreter", [](const Launch& l, int i) { return l.core_ptr(i); })
      .def("shared_hbm", [](Launch& l, int program, std::vector<int64_t> shape, int dtype,
                            const std::string& name) {
        return l.shared_hbm(program, shape, static_cast<DType>(dtype), name);
      })
      .def("fail", &Launch::fail, py::call_guard<py::gil_scoped_release>())
      .def("finish", &Launch::finish, py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("aborted", &Launch::aborted)
      .def("release", &Launch::release);

  py::class_<RegRef>(m, "VirtualRegister",
      "A sequencer register of one core (nisa.register_alloc): a 32-bit integer that drives "
      "dynamic loops (nl.dynamic_range, `while reg:`) and dynamic addresses.")
      .def(py::init([](py::args, py::kwargs) -> RegRef {
        throw ValidationError("nki.isa.VirtualRegister: allocate registers with "
                              "nisa.register_alloc(x=None)");
      }))
      .def("__bool__", [](const RegRef& r) {
        return current("VirtualRegister").read_register(r, "VirtualRegister",
                                                        "`while register:` condition") != 0;
      })
      .def("_value", [](const RegRef& r, const std::string& what) {
        return current("VirtualRegister").read_register(r, what, "register");
      })
      .def("_write", [](const RegRef& r, int64_t v, const std::string& what) {
        current("VirtualRegister").write_register(r, v, what, "register");
      })
      .def("_loop_set", [](const RegRef& r, int64_t v) {
        current("dynamic_range").write_register(r, v, "dynamic_range", "iterator", true);
      })
      .def("_freeze", [](const RegRef& r, bool f) { current("VirtualRegister").freeze_register(r, f); })
      .def_property_readonly("_id", [](const RegRef& r) { return r.id; })
      .def_property_readonly("_core", [](const RegRef& r) { return r.core; })
      .def("__repr__", [](const RegRef& r) {
        return "VirtualRegister(#" + std::to_string(r.id) + " of core " + std::to_string(r.core) + ")";
      });
  // Dynamic views (added to nki._core.Tensor): .ap(scalar_offset=, vector_offset=) and nl.ds(reg, n).
  py::object tensor_cls = py::type::of<Tensor>();
  tensor_cls.attr("_ap_dynamic") = py::cpp_function(
      [](const Tensor& t, std::vector<std::pair<int64_t, int64_t>> pattern, int64_t offset,
         int dtype, py::object scalar, py::object vector, int indirect_dim) {
        DynamicOffset dyn;
        dyn.indirect_dim = indirect_dim;
        if (!scalar.is_none()) {
          if (py::isinstance<RegRef>(scalar)) {
            dyn.scalar_reg = scalar.cast<RegRef>();
          } else if (py::isinstance<Tensor>(scalar)) {
            const Tensor& s = scalar.cast<const Tensor&>();
            if (s.size() != 1 || !is_int(s.dtype()) || size_of(s.dtype()) > 4)
              throw ValidationError(".ap() on " + t.describe() + ": scalar_offset must be a "
                                    "VirtualRegister or a single-element int32/uint32 tensor, found " +
                                    s.describe());
            dyn.scalar_tensor = std::make_shared<const Tensor>(s);
          } else {
            throw ArgumentTypeError(".ap() on " + t.describe() +
                                    ": scalar_offset must be a VirtualRegister or a (1, 1) tensor, "
                                    "found " + std::string(py::str(py::type::of(scalar).attr("__name__"))));
          }
          dyn.origin = ".ap(scalar_offset=..., indirect_dim=" + std::to_string(indirect_dim) + ")";
        }
        if (!vector.is_none()) {
          if (!py::isinstance<Tensor>(vector))
            throw ArgumentTypeError(".ap() on " + t.describe() +
                                    ": vector_offset must be a (P, 1) int32/uint32 SBUF tensor");
          dyn.vector = std::make_shared<const Tensor>(vector.cast<const Tensor&>());
          dyn.origin = ".ap(vector_offset=...)";
        }
        return t.ap_dynamic(pattern, offset,
                            dtype < 0 ? std::nullopt : std::optional<DType>(static_cast<DType>(dtype)),
                            std::move(dyn));
      },
      py::is_method(tensor_cls));
  tensor_cls.attr("_index_dynamic") = py::cpp_function(
      [](const Tensor& t, int dim, const RegRef& reg, int64_t size) {
        return t.index_dynamic(dim, reg, size);
      },
      py::is_method(tensor_cls));
  tensor_cls.attr("_is_dynamic") = py::cpp_function(
      [](const Tensor& t) { return t.is_dynamic(); }, py::is_method(tensor_cls));

  m.def("register_alloc", [](std::optional<int64_t> x) {
    return current("register_alloc").register_alloc(x);
  }, py::arg("x") = py::none());
}

}  // namespace nkisim::py_bind
