// nki._core: the one entry from Python into the simulator.
#include <pybind11/numpy.h>

#include "common.hpp"

namespace nkisim::py_bind {

namespace {
PyObject* g_validation = nullptr;
PyObject* g_oob = nullptr;
PyObject* g_alloc = nullptr;
PyObject* g_unsupported = nullptr;
PyObject* g_uninit = nullptr;
PyObject* g_notice = nullptr;

PyObject* make_exc(py::module_& m, const char* name, PyObject* bases, const char* doc) {
  std::string full = std::string("nki.isa.") + name;
  PyObject* e = PyErr_NewExceptionWithDoc(full.c_str(), doc, bases, nullptr);
  m.add_object(name, py::handle(e));
  return e;
}
}  // namespace

Interpreter& current(const char* what) {
  Interpreter* in = Interpreter::current();
  if (in == nullptr)
    throw ValidationError(std::string("nki.isa.") + what +
                          " was called outside a running kernel: call it inside a kernel run "
                          "with nki.simulate(kernel)(...) or with NKI_SIMULATOR=1");
  return *in;
}

Operand to_operand(const py::handle& o, const char* what) {
  if (o.is_none()) return Operand::none();
  if (PyFloat_CheckExact(o.ptr())) return Operand::scalar(PyFloat_AS_DOUBLE(o.ptr()));
  if (py::isinstance<Tensor>(o)) return Operand::of(o.cast<Tensor>());
  if (PyFloat_Check(o.ptr()) || PyLong_Check(o.ptr()) || PyNumber_Check(o.ptr())) {
    if (PyBool_Check(o.ptr())) return Operand::scalar(o.ptr() == Py_True ? 1.0 : 0.0);
    return Operand::scalar(py::cast<double>(o));
  }
  throw ValidationError(std::string(what) + " must be a Python number or a (P, 1) tile, found " +
                        std::string(py::str(py::type::of(o).attr("__name__"))));
}

std::optional<Tensor> opt_tensor(const py::handle& o) {
  if (o.is_none()) return std::nullopt;
  return o.cast<Tensor>();
}

}  // namespace nkisim::py_bind

using namespace nkisim;
using namespace nkisim::py_bind;

PYBIND11_MODULE(_core, m) {
  m.doc() = "nkisim core: the C++ simulator behind the nki package";

  g_validation = make_exc(m, "NkiValidationError", PyExc_AssertionError,
                          "A hardware rule was broken (shape, dtype, buffer, engine, generation).");
  {
    PyObject* bases = PyTuple_Pack(2, g_validation, PyExc_IndexError);
    g_oob = make_exc(m, "NkiOutOfBoundsError", bases, "An index or access pattern leaves its tensor.");
    Py_DECREF(bases);
  }
  g_alloc = make_exc(m, "NkiAllocationError", g_validation,
                     "SBUF/PSUM capacity exceeded or an impossible placement.");
  g_unsupported = make_exc(m, "NkiUnsupportedError", PyExc_NotImplementedError,
                           "A feature the simulator does not implement.");
  g_uninit = make_exc(m, "NkiUninitializedReadError", g_validation,
                      "An instruction read an on-chip tensor that no instruction has written.");
  g_notice = make_exc(m, "_UninitializedReadNotice", PyExc_Exception,
                      "Internal: an uninitialized read to report as a warning.");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const UninitializedReadNotice& e) {
      PyErr_SetString(g_notice, e.what());
    } catch (const UninitializedReadError& e) {
      PyErr_SetString(g_uninit, e.what());
    } catch (const OutOfBoundsError& e) {
      PyErr_SetString(g_oob, e.what());
    } catch (const AllocationError& e) {
      PyErr_SetString(g_alloc, e.what());
    } catch (const ValidationError& e) {
      PyErr_SetString(g_validation, e.what());
    } catch (const UnsupportedError& e) {
      PyErr_SetString(g_unsupported, e.what());
    } catch (const HostMemoryError& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError,
                      "nkisim: out of host memory while running an instruction (its working "
                      "buffers); the simulator's state is unchanged and the next launch can run");
    }
  });

  // --- dtypes and targets
  m.def("dtype_names", [] {
    std::vector<std::string> v;
    for (int i = 0; i < kNumDTypes; ++i) v.emplace_back(name(static_cast<DType>(i)));
    return v;
  });
  m.def("dtype_size", [](int d) { return size_of(static_cast<DType>(d)); });
  m.def("op_names", [] {
    std::vector<std::string> v;
    for (int i = 0; i < kNumOpKinds; ++i) v.emplace_back(op_info(static_cast<OpKind>(i)).name);
    return v;
  });
  m.def("target_info", [](const std::string& n) {
    const Target& t = n.empty() ? Target::from_env() : Target::from_name(n);
    py::dict d;
    d["name"] = std::string(t.name);
    d["version"] = t.version();
    d["partitions"] = t.partitions;
    d["sbuf_bytes_per_partition"] = t.sbuf_bytes_per_partition;
    d["psum_bytes_per_partition"] = t.psum_bytes_per_partition;
    d["psum_bank_bytes"] = t.psum_bank_bytes;
    d["psum_banks"] = t.psum_banks;
    d["max_lnc"] = t.max_lnc;
    d["matmul_max_moving_free"] = t.matmul_max_moving_free;
    return d;
  }, py::arg("name") = "");
  m.def("round_to", [](int d, float x) { return round_to(static_cast<DType>(d), x); });

  // --- interpreters (one per program of a launch)
  py::class_<Interpreter, std::shared_ptr<Interpreter>>(m, "Interpreter")
      .def(py::init([](const std::string& target, int core, int cores) {
             auto in = std::make_shared<Interpreter>(Target::from_name(target), core, cores);
             in->enable_notices(true);  // uninitialized reads become Python warnings
             return in;
           }),
           py::arg("target"), py::arg("core_id") = 0, py::arg("num_cores") = 1)
      .def_property_readonly("core_id", &Interpreter::core_id)
      .def_property_readonly("num_cores", &Interpreter::num_cores)
      .def_property_readonly("target", [](const Interpreter& i) { return std::string(i.target().name); })
      .def("reset", &Interpreter::reset)
      .def("instruction_count", [](const Interpreter& i) { return i.instruction_count(); })
      .def("instruction_counts", [](const Interpreter& i) {
        py::dict d;
        for (int k = 0; k < kNumOpKinds; ++k) {
          auto c = i.instruction_count(static_cast<OpKind>(k));
          if (c) d[py::str(std::string(op_info(static_cast<OpKind>(k)).name))] = c;
        }
        return d;
      })
      .def("sbuf_used_bytes", [](Interpreter& i) { return i.sbuf().used_bytes(); })
      .def("psum_used_bytes", [](Interpreter& i) { return i.psum().used_bytes(); })
      .def("live_allocations", [](Interpreter& i) {
        return i.sbuf().live_allocations() + i.psum().live_allocations();
      });
  // Raise `exc` in the Python thread `thread_id` at its next bytecode (stops the other programs of
  // a launch once one has failed). Returns the number of threads affected (0 or 1).
  m.def("_async_raise", [](unsigned long thread_id, py::object exc) {
    return PyThreadState_SetAsyncExc(thread_id, exc.is_none() ? nullptr : exc.ptr());
  });
  m.def("hbm_used_bytes", &hbm_used_bytes);
  m.def("hbm_limit_bytes", &hbm_limit_bytes);
  m.def("set_current", [](std::shared_ptr<Interpreter> in) { Interpreter::set_current(in.get()); });
  m.def("clear_current", [] { Interpreter::set_current(nullptr); });
  m.def("has_current", [] { return Interpreter::current() != nullptr; });
  m.def("current_core", [] { return current("program_id").core_id(); });
  m.def("current_target", [] { return std::string(current("get_nc_version").target().name); });

  bind_tensor(m);
  bind_isa(m);
}
