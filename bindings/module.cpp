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
PyObject* g_type = nullptr;
PyObject* g_aborted = nullptr;
PyObject* g_race = nullptr;
PyObject* g_race_warning = nullptr;
PyObject* g_locate = nullptr;  // Python: () -> "file:line in func: source" of the kernel line
PyObject* g_warn = nullptr;    // Python: (message) -> None, warns at the kernel line

// The kernel line that called into the simulator ("" when unknown).
std::string locate() {
  if (g_locate == nullptr) return {};
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyObject* r = PyObject_CallNoArgs(g_locate);
  std::string s;
  if (r && PyUnicode_Check(r)) s = PyUnicode_AsUTF8(r);
  Py_XDECREF(r);
  PyErr_Clear();
  PyErr_Restore(type, value, tb);
  return s;
}

void set_error(PyObject* cls, const char* what) {
  std::string m = what;
  if (m.find("\n  at ") == std::string::npos) {
    const std::string at = locate();
    if (!at.empty()) m += "\n  at " + at;
  }
  PyErr_SetString(cls, m.c_str());
}

PyObject* make_exc(py::module_& m, const char* name, PyObject* bases, const char* doc) {
  std::string full = std::string("nki.isa.") + name;
  PyObject* e = PyErr_NewExceptionWithDoc(full.c_str(), doc, bases, nullptr);
  m.add_object(name, py::handle(e));
  return e;
}
}  // namespace

std::string locate_kernel_line() { return locate(); }

// An interpreter driven from Python: uninitialized reads become warnings, errors name the line.
void configure_for_python(Interpreter& in) {
  in.enable_notices(true);
  in.set_locator([] {
    py::gil_scoped_acquire gil;
    return locate();
  });
}

PyObject* raise_current_exception() {
  try {
    throw;
  } catch (const UninitializedReadNotice& e) {
    // The instruction ran; report its read of unwritten memory as a warning at the kernel line.
    if (g_warn == nullptr) Py_RETURN_NONE;
    PyObject* r = PyObject_CallOneArg(g_warn, py::str(e.what()).ptr());
    if (r == nullptr) return nullptr;  // warnings turned into errors
    Py_DECREF(r);
    Py_RETURN_NONE;
  } catch (const RaceNotice& e) {
    // The instruction ran; report the cross-core race as a warning at the kernel line.
    if (PyErr_WarnEx(g_race_warning, e.what(), 1) < 0) return nullptr;  // warnings as errors
    Py_RETURN_NONE;
  } catch (const RaceError& e) {
    set_error(g_race, e.what());
  } catch (const UninitializedReadError& e) {
    set_error(g_uninit, e.what());
  } catch (const OutOfBoundsError& e) {
    set_error(g_oob, e.what());
  } catch (const AllocationError& e) {
    set_error(g_alloc, e.what());
  } catch (const ArgumentTypeError& e) {
    set_error(g_type, e.what());
  } catch (const ValidationError& e) {
    set_error(g_validation, e.what());
  } catch (const UnsupportedError& e) {
    set_error(g_unsupported, e.what());
  } catch (const HostMemoryError& e) {
    PyErr_SetString(PyExc_MemoryError, e.what());
  } catch (const LaunchAbortedError& e) {
    set_error(g_aborted, e.what());
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (const py::builtin_exception& e) {
    e.set_error();
  } catch (const std::bad_alloc&) {
    PyErr_SetString(PyExc_MemoryError,
                    "nkisim: out of host memory while running an instruction (its working "
                    "buffers); the simulator's state is unchanged and the next launch can run");
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, (std::string("nkisim internal error: ") + e.what()).c_str());
  }
  return nullptr;
}

Interpreter& current(const char* what) {
  Interpreter* in = Interpreter::current();
  if (in == nullptr)
    throw ValidationError(std::string("nki.isa.") + what +
                          " was called outside a running kernel: call it inside a kernel run "
                          "with nki.simulate(kernel)(...) or with NKI_SIMULATOR=1");
  return *in;
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
  {
    PyObject* bases = PyTuple_Pack(2, g_validation, PyExc_TypeError);
    g_type = make_exc(m, "NkiTypeError", bases,
                      "An argument of the wrong Python type (also a TypeError).");
    Py_DECREF(bases);
  }
  g_aborted = make_exc(m, "NkiLaunchAbortedError", PyExc_RuntimeError,
                       "Another program of the same kernel[n] launch failed; this one was stopped.");
  g_race = make_exc(m, "NkiRaceError", g_validation,
                    "Two cores of a kernel[2] launch accessed shared HBM without synchronising "
                    "(NKI_SIM_RACE=error).");
  g_race_warning = make_exc(m, "NkiRaceWarning", PyExc_UserWarning,
                            "Two cores of a kernel[2] launch accessed shared HBM without "
                            "synchronising (NKI_SIM_RACE=warn, the default).");
  m.def("set_hooks", [](py::object locate_fn, py::object warn_fn) {
    Py_XSETREF(g_locate, locate_fn.inc_ref().ptr());
    Py_XSETREF(g_warn, warn_fn.inc_ref().ptr());
  }, "Python callables that find the kernel line and issue uninitialized-read warnings.");
  // nkisim errors from any binding get the same classes and the kernel line.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error&) {
      raise_current_exception();
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
    for (const InstrDecl* d : all_decls()) v.emplace_back(d->name);
    return v;
  });
  m.def("prewarm_start", [] {
    try {
      prewarm_start(Target::from_env());
    } catch (const std::exception&) {  // an invalid NKI_NC_VERSION is reported by the launch
    }
  }, "Build the first launch's interpreter and fault its SBUF in on a background thread.");
  m.def("prewarm_wait", [] { prewarm_wait(); }, py::call_guard<py::gil_scoped_release>(),
        "Wait for prewarm_start's thread (before fork and at exit).");
  m.def("prewarmed", [] { return prewarm_taken(); },
        "Whether a launch has taken the interpreter prewarm_start built.");
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
             configure_for_python(*in);  // uninitialized reads become Python warnings
             return in;
           }),
           py::arg("target"), py::arg("core_id") = 0, py::arg("num_cores") = 1)
      .def_property_readonly("core_id", &Interpreter::core_id)
      .def_property_readonly("num_cores", &Interpreter::num_cores)
      .def_property_readonly("target", [](const Interpreter& i) { return std::string(i.target().name); })
      .def("reset", &Interpreter::reset)
      .def("add_observer", &Interpreter::add_observer)
      .def("remove_observer", [](Interpreter& i, const std::shared_ptr<Observer>& o) { i.remove_observer(o.get()); })
      .def("observer_count", &Interpreter::observer_count)
      .def("instruction_count", [](const Interpreter& i) { return i.instruction_count(); })
      .def("instruction_counts", [](const Interpreter& i) {
        py::dict d;
        for (int k = 0; k < kNumOpKinds; ++k) {
          auto c = i.instruction_count(static_cast<OpKind>(k));
          if (c) d[py::str(std::string(decl(static_cast<OpKind>(k)).name))] = c;
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
  bind_launch(m);
  bind_instructions(m);
  bind_opgraph(m);
  bind_collectives(m);
}
