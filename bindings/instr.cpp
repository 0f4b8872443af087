// nki._core instructions: one callable per declaration of ops.def, generated, with no
// per-instruction code. Each is a vectorcall object: the keyword/positional parsing, the
// conversion of every parameter by its declared kind (tensors, numbers, nl operators by identity,
// enum members / values / names), the run on the calling thread's interpreter, and the
// translation of errors (with the kernel line, looked up only when something went wrong).
#include <type_traits>

#include "common.hpp"

namespace nkisim::py_bind {

namespace {

constexpr size_t kMaxParams = 24;

// Python object (by identity) -> id: open addressing over a power-of-two table, so a lookup on
// the per-instruction path is a multiply and a compare or two (no division, no node chasing).
class PtrMap {
 public:
  void set(PyObject* o, int v) {
    size_t i = slot(o);
    while (keys_[i] != nullptr && keys_[i] != o) i = (i + 1) & (kSlots - 1);
    if (keys_[i] == nullptr && ++count_ * 2 > kSlots) throw std::logic_error("nkisim: operator table full");
    keys_[i] = o;
    vals_[i] = v;
  }
  const int* find(PyObject* o) const {
    for (size_t i = slot(o); keys_[i] != nullptr; i = (i + 1) & (kSlots - 1))
      if (keys_[i] == o) return &vals_[i];
    return nullptr;
  }
  // The object registered for id v (reverse lookup, off the hot path); nullptr if none.
  PyObject* key_of(int v) const {
    for (size_t i = 0; i < kSlots; ++i)
      if (keys_[i] != nullptr && vals_[i] == v) return keys_[i];
    return nullptr;
  }

 private:
  static constexpr size_t kSlots = 256;
  static size_t slot(PyObject* o) {
    return static_cast<size_t>((reinterpret_cast<uintptr_t>(o) >> 4) * 0x9E3779B97F4A7C15ull >> 56);
  }
  PyObject* keys_[kSlots] = {};
  int vals_[kSlots] = {};
  size_t count_ = 0;
};

struct Registry {
  PyTypeObject* tensor_type = nullptr;
  PtrMap alu, act;  // nl function -> AluOp / ActFn
  std::vector<std::pair<PyObject*, int>> members[static_cast<int>(EnumId::count_)];
  PyObject* np_floating = nullptr;
  PyObject* np_integer = nullptr;
};
Registry& reg() {
  static Registry* r = new Registry();  // lives for the process (never destroyed after Python)
  return *r;
}

struct InstrObject {
  PyObject_HEAD
  vectorcallfunc vectorcall;
  PyObject* dict;
  const InstrDecl* decl;
  PyObject* names[kMaxParams];  // interned parameter names, then "name"
  PyObject* (*run)(InstrObject*, PyObject* const*);
  uint8_t required[kMaxParams];  // indices of the required parameters
  uint8_t n_required;
  // The keyword-name tuple of the last call (a constant of the calling code, so a call site
  // passes the same tuple every time; held, so its address cannot be reused) and where each of
  // its names goes.
  PyObject* kw_tuple;
  uint8_t kw_slot[kMaxParams];
};

std::string type_name(PyObject* o) { return Py_TYPE(o)->tp_name; }
std::string repr(PyObject* o) {
  PyObject* r = PyObject_Repr(o);
  if (r == nullptr) {
    PyErr_Clear();
    return "<" + type_name(o) + ">";
  }
  std::string s = PyUnicode_AsUTF8(r);
  Py_DECREF(r);
  return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

[[noreturn]] void bad_type(const InstrDecl& d, const ParamDecl& p, const std::string& want, PyObject* o) {
  throw ArgumentTypeError("nki.isa." + std::string(d.name) + ": " + std::string(p.name) +
                          ": expected " + want + ", found " + type_name(o) + " " + repr(o));
}
[[noreturn]] void bad_value(const InstrDecl& d, const ParamDecl& p, const std::string& rule) {
  throw ValidationError("nki.isa." + std::string(d.name) + ": " + std::string(p.name) + ": " + rule);
}

const Tensor* as_tensor(PyObject* o) {
  if (Py_TYPE(o) == reg().tensor_type) {
    auto* inst = reinterpret_cast<py::detail::instance*>(o);
    return static_cast<const Tensor*>(inst->simple_layout ? inst->simple_value_holder[0]
                                                          : inst->nonsimple.values_and_holders[0]);
  }
  if (PyObject_TypeCheck(o, reg().tensor_type)) return &py::handle(o).cast<const Tensor&>();
  return nullptr;
}

int64_t as_int(const InstrDecl& d, const ParamDecl& p, PyObject* o) {
  if (PyLong_Check(o) || (PyIndex_Check(o) && !PyFloat_Check(o))) {
    PyObject* idx = PyNumber_Index(o);
    if (idx == nullptr) {
      PyErr_Clear();
      bad_type(d, p, "an int", o);
    }
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(idx, &overflow);
    Py_DECREF(idx);
    if (overflow) bad_value(d, p, "must fit in 64 bits, found " + repr(o));
    return v;
  }
  if (PyFloat_Check(o)) {
    const double v = PyFloat_AS_DOUBLE(o);
    if (v == static_cast<double>(static_cast<int64_t>(v))) return static_cast<int64_t>(v);
  }
  bad_type(d, p, "an int", o);
}

bool is_number(PyObject* o) {
  return PyFloat_Check(o) || PyLong_Check(o) ||
         (reg().np_floating && (PyObject_IsInstance(o, reg().np_floating) == 1 ||
                                PyObject_IsInstance(o, reg().np_integer) == 1));
}
bool is_float_number(PyObject* o) {
  return PyFloat_Check(o) || (reg().np_floating && PyObject_IsInstance(o, reg().np_floating) == 1);
}
double as_double(PyObject* o) {
  const double v = PyFloat_AsDouble(o);
  if (v == -1.0 && PyErr_Occurred()) {
    PyErr_Clear();
    return 0.0;
  }
  return v;
}

std::vector<int64_t> int_list(const InstrDecl& d, const ParamDecl& p, PyObject* o, const char* want) {
  std::vector<int64_t> out;
  if (o == Py_None) return out;
  if (!PyList_Check(o) && !PyTuple_Check(o)) bad_type(d, p, want, o);
  const Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
  PyObject** items = PySequence_Fast_ITEMS(o);
  out.reserve(n);
  for (Py_ssize_t i = 0; i < n; ++i) out.push_back(as_int(d, p, items[i]));
  return out;
}

int enum_value(const InstrDecl& d, const ParamDecl& p, PyObject* o) {
  const int e = static_cast<int>(p.enum_id);
  for (const auto& [obj, v] : reg().members[e])
    if (obj == o) return v;
  const EnumDecl& ed = enum_decl(p.enum_id);
  // 0.3.0 also takes a member's value (dge_mode=3) or its name (perf_mode='double_row').
  if (PyLong_Check(o) && !PyBool_Check(o) && !ed.string_valued) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (!overflow)
      for (const auto& m : ed.members)
        if (m.value == v) return m.value;
  }
  PyObject* name = nullptr;
  if (PyUnicode_Check(o)) {
    name = o;
    Py_INCREF(name);
  } else if (PyObject_HasAttrString(o, "_name_") &&
             std::string_view(Py_TYPE(o)->tp_name).ends_with(ed.name)) {
    name = PyObject_GetAttrString(o, "_name_");  // a member of an equal enum of another module
  }
  if (name != nullptr) {
    const char* s = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : nullptr;
    Py_DECREF(name);
    if (s != nullptr)
      for (const auto& m : ed.members)
        if (m.name == s) return m.value;
    PyErr_Clear();
  }
  std::string members;
  for (const auto& m : ed.members) members += (members.empty() ? "" : ", ") + std::string(m.name);
  throw ValidationError("nki.isa." + std::string(d.name) + ": " + std::string(p.name) +
                        ": must be a member of nki.isa." + std::string(ed.name) + " (" + members +
                        "), its value or its name, found " + type_name(o) + " " + repr(o));
}

std::string operator_names(bool act) {
  std::string s;
  if (act) {
    for (int i = 0; i < static_cast<int>(ActFn::count_); ++i)
      s += (s.empty() ? "nl." : ", nl.") + std::string(act_name(static_cast<ActFn>(i)));
  } else {
    for (int i = 1; i < static_cast<int>(AluOp::count_); ++i)
      s += (s.empty() ? "nl." : ", nl.") + std::string(alu_name(static_cast<AluOp>(i)));
  }
  return s;
}

std::string op_repr(PyObject* o) {
  PyObject* n = PyObject_HasAttrString(o, "__name__") ? PyObject_GetAttrString(o, "__name__") : nullptr;
  if (n && PyUnicode_Check(n) && PyCallable_Check(o)) {
    std::string s = std::string("nl.") + PyUnicode_AsUTF8(n);
    Py_DECREF(n);
    return s;
  }
  Py_XDECREF(n);
  PyErr_Clear();
  return repr(o);
}

// Convert one argument into its op-struct member.
void convert(const InstrDecl& d, const ParamDecl& p, PyObject* o, void* op) {
  switch (p.kind) {
    case Kind::tensor:
    case Kind::opt_tensor: {
      if (o == Py_None && p.kind == Kind::opt_tensor) return;  // stays nullopt
      const Tensor* t = as_tensor(o);
      if (t == nullptr) bad_type(d, p, "a tensor (an NkiTensor: a tile or an HBM tensor)", o);
      if (p.kind == Kind::tensor) InstrDecl::get<Tensor>(op, p) = *t;
      else InstrDecl::get<std::optional<Tensor>>(op, p) = *t;
      return;
    }
    case Kind::operand: {
      Operand& out = InstrDecl::get<Operand>(op, p);
      if (o == Py_None) {
        out = Operand::none();
      } else if (PyFloat_CheckExact(o)) {
        out = Operand::scalar(PyFloat_AS_DOUBLE(o));
      } else if (const Tensor* t = as_tensor(o)) {
        out = Operand::of(*t);
      } else if (PyBool_Check(o)) {
        out = Operand::scalar(o == Py_True ? 1.0 : 0.0);
      } else if (is_number(o)) {
        out = Operand::scalar(as_double(o));
      } else {
        bad_type(d, p, "a Python number or a (P, 1) tile", o);
      }
      return;
    }
    case Kind::alu: {
      AluOp& out = InstrDecl::get<AluOp>(op, p);
      if (o == Py_None) {
        out = AluOp::none;
        return;
      }
      const int* id = reg().alu.find(o);
      if (id == nullptr)
        throw ValidationError("nki.isa." + std::string(d.name) + ": " + std::string(p.name) + ": " +
                              op_repr(o) + " is not an ALU operator; use one of " + operator_names(false));
      out = static_cast<AluOp>(*id);
      return;
    }
    case Kind::act: {
      const int* id = reg().act.find(o);
      if (id == nullptr)
        throw ValidationError("nki.isa." + std::string(d.name) + ": " + std::string(p.name) + ": " +
                              op_repr(o) + " is not an activation function; use one of " +
                              operator_names(true));
      InstrDecl::get<ActFn>(op, p) = static_cast<ActFn>(*id);
      return;
    }
    case Kind::enum_:
      InstrDecl::get<uint8_t>(op, p) = static_cast<uint8_t>(enum_value(d, p, o));
      return;
    case Kind::boolean:
    case Kind::opt_bool: {
      if (o == Py_None && p.kind == Kind::opt_bool) {
        InstrDecl::get<std::optional<bool>>(op, p) = std::nullopt;
        return;
      }
      bool v;
      if (o == Py_True || o == Py_False) {
        v = o == Py_True;
      } else if (as_tensor(o) != nullptr || !(is_number(o) || PyObject_HasAttrString(o, "__bool__"))) {
        bad_type(d, p, p.kind == Kind::opt_bool ? "True, False or None" : "True or False", o);
      } else {
        const int t = PyObject_IsTrue(o);
        if (t < 0) throw py::error_already_set();
        v = t != 0;
      }
      if (p.kind == Kind::boolean) InstrDecl::get<bool>(op, p) = v;
      else InstrDecl::get<std::optional<bool>>(op, p) = v;
      return;
    }
    case Kind::integer:
      InstrDecl::get<int64_t>(op, p) = as_int(d, p, o);
      return;
    case Kind::opt_integer:
      if (o == Py_None) InstrDecl::get<std::optional<int64_t>>(op, p) = std::nullopt;
      else InstrDecl::get<std::optional<int64_t>>(op, p) = as_int(d, p, o);
      return;
    case Kind::scalar: {
      Scalar& out = InstrDecl::get<Scalar>(op, p);
      if (as_tensor(o) != nullptr || !is_number(o)) bad_type(d, p, "a Python number", o);
      out.is_float = is_float_number(o);
      out.value = PyBool_Check(o) ? (o == Py_True ? 1.0 : 0.0) : as_double(o);
      return;
    }
    case Kind::ints:
      InstrDecl::get<std::vector<int64_t>>(op, p) = int_list(d, p, o, "a tuple of ints");
      return;
    case Kind::pattern: {
      auto& out = InstrDecl::get<std::vector<std::pair<int64_t, int64_t>>>(op, p);
      if (!PyList_Check(o) && !PyTuple_Check(o)) bad_type(d, p, "a list of [step, num] pairs", o);
      const Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
      for (Py_ssize_t i = 0; i < n; ++i) {
        PyObject* pair = PySequence_Fast_GET_ITEM(o, i);
        if (!(PyList_Check(pair) || PyTuple_Check(pair)) || PySequence_Fast_GET_SIZE(pair) != 2)
          bad_type(d, p, "a list of [step, num] pairs", o);
        out.emplace_back(as_int(d, p, PySequence_Fast_GET_ITEM(pair, 0)),
                         as_int(d, p, PySequence_Fast_GET_ITEM(pair, 1)));
      }
      return;
    }
    case Kind::reg:
    case Kind::reg_or_int: {  // issue 9: VirtualRegisters
      RegRef& out = InstrDecl::get<RegRef>(op, p);
      if (py::isinstance<RegRef>(o)) {
        out = py::handle(o).cast<RegRef>();
      } else if (p.kind == Kind::reg_or_int && PyLong_Check(o) && !PyBool_Check(o)) {
        out = RegRef{};
        out.imm = as_int(d, p, o);
        out.present = true;
      } else {
        bad_type(d, p, p.kind == Kind::reg ? "a VirtualRegister (from nisa.register_alloc)"
                                           : "an int or a VirtualRegister", o);
      }
      return;
    }
    case Kind::tensors: {
      auto& out = InstrDecl::get<std::vector<Tensor>>(op, p);
      if (!PyList_Check(o) && !PyTuple_Check(o)) bad_type(d, p, "a list of tensors", o);
      const Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
      for (Py_ssize_t i = 0; i < n; ++i) {
        const Tensor* t = as_tensor(PySequence_Fast_GET_ITEM(o, i));
        if (t == nullptr) bad_type(d, p, "a list of tensors", PySequence_Fast_GET_ITEM(o, i));
        out.push_back(*t);
      }
      return;
    }
    case Kind::floats: {  // issue 9
      auto& out = InstrDecl::get<std::vector<double>>(op, p);
      if (o == Py_None) return;
      if (!PyList_Check(o) && !PyTuple_Check(o)) bad_type(d, p, "a list of numbers or None", o);
      for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(o); ++i) {
        PyObject* v = PySequence_Fast_GET_ITEM(o, i);
        if (!is_number(v)) bad_type(d, p, "a list of numbers or None", o);
        out.push_back(as_double(v));
      }
      return;
    }
    case Kind::axes: {
      auto& out = InstrDecl::get<std::vector<int>>(op, p);
      if (o == Py_None && p.default_ == "None") return;  // issue 9: optional axes (dma_transpose)
      if (PyList_Check(o) || PyTuple_Check(o)) {
        for (int64_t v : int_list(d, p, o, "an int or a list of ints")) out.push_back(static_cast<int>(v));
      } else {
        out.push_back(static_cast<int>(as_int(d, p, o)));
      }
      return;
    }
  }
}

// Elements touched, to decide whether to release the GIL while the instruction runs.
int64_t work_of(const InstrDecl& d, const void* op) {
  int64_t w = 0;
  for (uint8_t i : d.operands)
    if (const ParamDecl& p = d.params[i]; p.kind == Kind::tensor) w += InstrDecl::get<Tensor>(op, p).size();
  return w;
}

template <class S>
PyObject* run_instr(InstrObject* self, PyObject* const* slots) {
  const InstrDecl& d = *self->decl;
  S op;
  const size_t n = d.params.size();
  for (size_t i = 0; i < n; ++i)
    if (slots[i] != nullptr) convert(d, d.params[i], slots[i], &op);
  if (PyObject* nm = slots[n]; nm != nullptr && nm != Py_None) {
    if (!PyUnicode_Check(nm)) bad_type(d, ParamDecl{"name", Kind::integer}, "a str or None", nm);
    op.name = PyUnicode_AsUTF8(nm);
  }
  Interpreter& in = current(d.name.data());
  // Instructions that wait for another core (issue 9) never hold the GIL while waiting.
  constexpr bool kWaits = std::is_same_v<S, CoreBarrierOp> || std::is_same_v<S, SendrecvOp>;
  if (kWaits || work_of(d, &op) >= 32768) {
    py::gil_scoped_release nogil;
    in.run(op);
  } else {
    in.run(op);
  }
  Py_RETURN_NONE;
}

PyObject* instr_vectorcall(PyObject* callable, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  auto* self = reinterpret_cast<InstrObject*>(callable);
  const InstrDecl& d = *self->decl;
  const size_t np = d.params.size() + 1;
  const size_t nargs = PyVectorcall_NARGS(nargsf);
  PyObject* slots[kMaxParams] = {};
  try {
    if (nargs > np)
      throw ArgumentTypeError("nki.isa." + std::string(d.name) + "() takes at most " +
                              std::to_string(np) + " arguments (" + std::to_string(nargs) + " given)");
    for (size_t i = 0; i < nargs; ++i) slots[i] = args[i];
    if (kwnames != nullptr && kwnames == self->kw_tuple) {  // the same call site as last time
      const Py_ssize_t nk = PyTuple_GET_SIZE(kwnames);
      for (Py_ssize_t k = 0; k < nk; ++k) {
        const size_t idx = self->kw_slot[k];
        if (slots[idx] != nullptr)
          throw ArgumentTypeError("nki.isa." + std::string(d.name) + "() got multiple values for argument '" +
                                  PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, k)) + "'");
        slots[idx] = args[nargs + k];
      }
    } else if (kwnames != nullptr) {
      const Py_ssize_t nk = PyTuple_GET_SIZE(kwnames);
      uint8_t kw_slot[kMaxParams];
      for (Py_ssize_t k = 0; k < nk; ++k) {
        PyObject* key = PyTuple_GET_ITEM(kwnames, k);
        size_t idx = np;
        for (size_t i = 0; i < np; ++i)
          if (self->names[i] == key) {
            idx = i;
            break;
          }
        if (idx == np)
          for (size_t i = 0; i < np; ++i)
            if (PyUnicode_Compare(self->names[i], key) == 0) {
              idx = i;
              break;
            }
        if (idx == np)
          throw ArgumentTypeError("nki.isa." + std::string(d.name) +
                                  "() got an unexpected keyword argument '" +
                                  PyUnicode_AsUTF8(key) + "'");
        if (slots[idx] != nullptr)
          throw ArgumentTypeError("nki.isa." + std::string(d.name) +
                                  "() got multiple values for argument '" + PyUnicode_AsUTF8(key) + "'");
        slots[idx] = args[nargs + k];
        kw_slot[k] = static_cast<uint8_t>(idx);  // k < np <= kMaxParams: each name fills a new slot
      }
      // Every name matched: remember the tuple for the next call from the same place.
      std::copy(kw_slot, kw_slot + nk, self->kw_slot);
      Py_INCREF(kwnames);
      Py_XSETREF(self->kw_tuple, kwnames);
    }
    for (uint8_t k = 0; k < self->n_required; ++k)
      if (const size_t i = self->required[k]; slots[i] == nullptr)
        throw ArgumentTypeError("nki.isa." + std::string(d.name) +
                                "() missing required argument: '" + std::string(d.params[i].name) + "'");
    return self->run(self, slots);
  } catch (...) {
    return raise_current_exception();
  }
}

using Runner = PyObject* (*)(InstrObject*, PyObject* const*);
constexpr Runner kRunners[] = {
#define NKISIM_INSTR(n, S, gen, deng, e2, e3, e4, doc, PARAMS) &run_instr<S>,
#include "nkisim/ops.def"
#undef NKISIM_INSTR
};

void instr_dealloc(PyObject* o) {
  auto* self = reinterpret_cast<InstrObject*>(o);
  Py_CLEAR(self->dict);
  Py_CLEAR(self->kw_tuple);
  Py_TYPE(o)->tp_free(o);
}
PyObject* instr_repr(PyObject* o) {
  auto* self = reinterpret_cast<InstrObject*>(o);
  return PyUnicode_FromFormat("<nki.isa instruction %s>", std::string(self->decl->name).c_str());
}
// A descriptor (as builtin functions are): inspect and pydoc treat it as a routine.
PyObject* instr_get(PyObject* self, PyObject*, PyObject*) {
  Py_INCREF(self);
  return self;
}

PyTypeObject* instr_type() {
  static PyTypeObject* t = [] {
    static PyType_Slot slots[] = {
        {Py_tp_dealloc, reinterpret_cast<void*>(instr_dealloc)},
        {Py_tp_repr, reinterpret_cast<void*>(instr_repr)},
        {Py_tp_call, reinterpret_cast<void*>(PyVectorcall_Call)},
        {Py_tp_descr_get, reinterpret_cast<void*>(instr_get)},
        {0, nullptr}};
    static PyMemberDef members[] = {
        {"__dictoffset__", T_PYSSIZET, offsetof(InstrObject, dict), READONLY, nullptr},
        {"__vectorcalloffset__", T_PYSSIZET, offsetof(InstrObject, vectorcall), READONLY, nullptr},
        {nullptr, 0, 0, 0, nullptr}};
    static PyType_Slot with_members[] = {
        slots[0], slots[1], slots[2], slots[3], {Py_tp_members, members}, {0, nullptr}};
    static PyType_Spec spec = {"nki._core.Instruction", sizeof(InstrObject), 0,
                               Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL, with_members};
    return reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&spec));
  }();
  return t;
}

py::object make_instruction(const InstrDecl& d) {
  PyTypeObject* t = instr_type();
  auto* self = PyObject_New(InstrObject, t);
  self->vectorcall = instr_vectorcall;
  self->dict = PyDict_New();
  self->decl = &d;
  self->run = kRunners[d.kind];
  self->kw_tuple = nullptr;
  self->n_required = 0;
  for (size_t k = 0; k < d.params.size(); ++k)
    if (d.params[k].required()) self->required[self->n_required++] = static_cast<uint8_t>(k);
  size_t i = 0;
  for (const ParamDecl& p : d.params) {
    PyObject* s = PyUnicode_FromStringAndSize(p.name.data(), static_cast<Py_ssize_t>(p.name.size()));
    PyUnicode_InternInPlace(&s);
    self->names[i++] = s;  // interned strings live for the process
  }
  PyObject* s = PyUnicode_FromString("name");
  PyUnicode_InternInPlace(&s);
  self->names[i] = s;
  return py::reinterpret_steal<py::object>(reinterpret_cast<PyObject*>(self));
}

// One declared parameter of an executed op, as the Python value a kernel would pass.
py::object param_value(const ParamDecl& p, const void* op) {
  auto tensor = [](const Tensor& t) { return py::cast(t); };
  switch (p.kind) {
    case Kind::tensor: return tensor(InstrDecl::get<Tensor>(op, p));
    case Kind::opt_tensor: {
      const auto& o = InstrDecl::get<std::optional<Tensor>>(op, p);
      return o ? tensor(*o) : py::none();
    }
    case Kind::operand: {
      const Operand& o = InstrDecl::get<Operand>(op, p);
      if (!o.present) return py::none();
      return o.tile ? tensor(*o.tile) : py::object(py::float_(o.value));
    }
    case Kind::alu:
    case Kind::act: {
      const int v = p.kind == Kind::alu ? static_cast<int>(InstrDecl::get<AluOp>(op, p))
                                        : static_cast<int>(InstrDecl::get<ActFn>(op, p));
      if (p.kind == Kind::alu && v == 0) return py::none();
      if (PyObject* obj = (p.kind == Kind::alu ? reg().alu : reg().act).key_of(v))
        return py::reinterpret_borrow<py::object>(obj);
      return py::int_(v);
    }
    case Kind::enum_: {
      const int v = InstrDecl::get<uint8_t>(op, p);
      for (const auto& [obj, id] : reg().members[static_cast<int>(p.enum_id)])
        if (id == v) return py::reinterpret_borrow<py::object>(obj);
      return py::int_(v);
    }
    case Kind::boolean: return py::bool_(InstrDecl::get<bool>(op, p));
    case Kind::opt_bool: {
      const auto& o = InstrDecl::get<std::optional<bool>>(op, p);
      return o ? py::object(py::bool_(*o)) : py::none();
    }
    case Kind::integer: return py::int_(InstrDecl::get<int64_t>(op, p));
    case Kind::scalar: {
      const Scalar& v = InstrDecl::get<Scalar>(op, p);
      return v.is_float ? py::object(py::float_(v.value)) : py::object(py::int_(static_cast<int64_t>(v.value)));
    }
    case Kind::ints: return py::cast(InstrDecl::get<std::vector<int64_t>>(op, p));
    case Kind::pattern: return py::cast(InstrDecl::get<std::vector<std::pair<int64_t, int64_t>>>(op, p));
    case Kind::axes: return py::cast(InstrDecl::get<std::vector<int>>(op, p));
    case Kind::reg:
    case Kind::reg_or_int: {
      const RegRef& r = InstrDecl::get<RegRef>(op, p);
      return r.is_reg() ? py::cast(r) : py::object(py::int_(r.imm));
    }
    case Kind::tensors: return py::cast(InstrDecl::get<std::vector<Tensor>>(op, p));
    case Kind::floats: {
      const auto& v = InstrDecl::get<std::vector<double>>(op, p);
      return v.empty() ? py::none() : py::object(py::cast(v));
    }
  }
  return py::none();
}

// A Python object with on_instruction(event) and optionally on_allocate(info) / on_free(info).
class PyObserver : public Observer {
 public:
  explicit PyObserver(py::object obj) : obj_(std::move(obj)) {}
  ~PyObserver() override {
    py::gil_scoped_acquire gil;
    obj_ = py::object();
  }
  void on_instruction(const Event& e) override {
    py::gil_scoped_acquire gil;
    if (!py::hasattr(obj_, "on_instruction")) return;
    py::dict params;
    for (const ParamDecl& p : e.decl.params) params[py::str(std::string(p.name))] = param_value(p, &e.op);
    if (!e.op.name.empty()) params["name"] = e.op.name;
    const Traffic t = e.traffic();
    auto mems = [](const std::array<uint64_t, 3>& a) {
      py::dict d;
      d["hbm"] = a[0];
      d["sbuf"] = a[1];
      d["psum"] = a[2];
      return d;
    };
    py::dict ev;
    ev["name"] = std::string(e.decl.name);
    ev["engine"] = std::string(engine_name(e.engine));
    ev["core"] = e.core.core_id();
    ev["seq"] = e.seq;
    ev["params"] = params;
    ev["bytes_read"] = mems(t.read);
    ev["bytes_written"] = mems(t.written);
    ev["elements"] = t.elements;
    ev["where"] = locate_kernel_line();
    obj_.attr("on_instruction")(ev);
  }
  void on_allocate(const Allocation& a, int core) override { call_alloc("on_allocate", a, core); }
  void on_free(const Allocation& a, int core) override { call_alloc("on_free", a, core); }

 private:
  void call_alloc(const char* what, const Allocation& a, int core) {
    py::gil_scoped_acquire gil;
    if (!py::hasattr(obj_, what)) return;
    py::dict d;
    d["name"] = a.name;
    d["buffer"] = std::string(buffer_name(a.buffer));
    d["core"] = core;
    d["start_partition"] = a.start_partition;
    d["partitions"] = a.num_partitions;
    d["byte_offset"] = a.byte_offset;
    d["bytes_per_partition"] = a.bytes;
    try {
      obj_.attr(what)(d);
    } catch (py::error_already_set& e) {
      if (std::string(what) == "on_free") e.discard_as_unraisable(what);  // frees may run in destructors
      else throw;
    }
  }
  py::object obj_;
};

}  // namespace

void bind_instructions(py::module_& m) {
  reg().tensor_type = reinterpret_cast<PyTypeObject*>(py::type::of<Tensor>().ptr());
  {
    py::module_ np = py::module_::import("numpy");
    reg().np_floating = py::object(np.attr("floating")).release().ptr();
    reg().np_integer = py::object(np.attr("integer")).release().ptr();
  }
  // The declarations, for nki.isa's signatures and docs, and the instruction objects.
  py::list decls;
  py::dict instructions;
  for (const InstrDecl* d : all_decls()) {
    if (d->params.size() + 1 > kMaxParams) throw std::logic_error("too many parameters");
    py::list params;
    for (const ParamDecl& p : d->params) {
      py::dict row;
      row["name"] = std::string(p.name);
      row["kind"] = std::string(kind_name(p.kind));
      row["role"] = p.role == Role::in ? "in" : p.role == Role::out ? "out" : p.role == Role::inout ? "inout" : "";
      py::list bufs;
      for (int b = 0; b < 4; ++b)
        if (p.buffers & (1u << b)) bufs.append(std::string(buffer_name(static_cast<Buffer>(b))));
      row["buffers"] = bufs;
      row["default"] = p.required() ? py::object(py::none()) : py::object(py::str(std::string(p.default_)));
      row["enum"] = p.kind == Kind::enum_ ? py::object(py::str(std::string(enum_decl(p.enum_id).name)))
                                          : py::object(py::none());
      params.append(row);
    }
    py::dict info;
    info["name"] = std::string(d->name);
    info["params"] = params;
    info["first_gen"] = d->first_gen;
    info["default_engine"] = std::string(engine_name(static_cast<Engine>(d->default_engine)));
    py::list engines;
    for (int g = 0; g < 3; ++g) {
      py::list e;
      for (int b = 0; b < 8; ++b)
        if (d->engines[g] & (1u << b)) e.append(std::string(engine_name(static_cast<Engine>(b))));
      engines.append(e);
    }
    info["engines"] = engines;
    info["summary"] = std::string(d->summary);
    decls.append(info);
    instructions[py::str(std::string(d->name))] = make_instruction(*d);
  }
  m.attr("declarations") = decls;

  py::class_<Observer, std::shared_ptr<Observer>>(m, "Observer",
      "Receives the execution events of the interpreters it is attached to.");
  m.def("python_observer", [](py::object obj) -> std::shared_ptr<Observer> {
    return std::make_shared<PyObserver>(std::move(obj));
  }, "Wrap a Python object (on_instruction(event), optional on_allocate/on_free(info)).");
  py::class_<ProfileObserver, Observer, std::shared_ptr<ProfileObserver>>(m, "ProfileObserver")
      .def(py::init<>())
      .def("clear", &ProfileObserver::clear)
      .def("rows", [](const ProfileObserver& p) {
        py::list out;
        for (const auto& [k, r] : p.rows()) {
          py::dict d;
          d["instruction"] = k.first;
          d["engine"] = std::string(engine_name(k.second));
          d["count"] = r.count;
          d["elements"] = r.elements;
          d["read_hbm"] = r.read[0];
          d["read_sbuf"] = r.read[1];
          d["read_psum"] = r.read[2];
          d["written_hbm"] = r.written[0];
          d["written_sbuf"] = r.written[1];
          d["written_psum"] = r.written[2];
          out.append(d);
        }
        return out;
      });
  m.attr("instructions") = instructions;

  m.def("enums", [] {
    py::dict out;
    for (int e = 0; e < static_cast<int>(EnumId::count_); ++e) {
      const EnumDecl& ed = enum_decl(static_cast<EnumId>(e));
      py::list members;
      for (const auto& mem : ed.members)
        members.append(py::make_tuple(std::string(mem.name),
                                      ed.string_valued ? py::object(py::str(std::string(mem.name)))
                                                       : py::object(py::int_(mem.value))));
      out[py::str(std::string(ed.name))] = members;
    }
    return out;
  }, "The nki.isa enums: name -> [(member, value)], from the C++ declarations.");
  m.def("register_enum", [](const std::string& name, py::list members) {
    for (int e = 0; e < static_cast<int>(EnumId::count_); ++e) {
      const EnumDecl& ed = enum_decl(static_cast<EnumId>(e));
      if (ed.name != name) continue;
      auto& v = reg().members[e];
      v.clear();
      for (auto h : members) {
        const std::string mn = py::str(h.attr("name"));
        for (const auto& mem : ed.members)
          if (mem.name == mn) v.emplace_back(h.inc_ref().ptr(), mem.value);  // kept for the process
      }
    }
  });
  m.def("alu_names", [] {
    std::vector<std::string> v;
    for (int i = 1; i < static_cast<int>(AluOp::count_); ++i) v.emplace_back(alu_name(static_cast<AluOp>(i)));
    return v;
  }, "ALU operator names (nki.language functions), in AluOp order from 1.");
  m.def("act_names", [] {
    std::vector<std::string> v;
    for (int i = 0; i < static_cast<int>(ActFn::count_); ++i) v.emplace_back(act_name(static_cast<ActFn>(i)));
    return v;
  }, "Activation function names (nki.language functions), in ActFn order.");
  m.def("register_operators", [](py::dict alu, py::dict act) {
    for (auto [k, v] : alu) {
      const std::string n = py::str(k);
      for (int i = 1; i < static_cast<int>(AluOp::count_); ++i)
        if (alu_name(static_cast<AluOp>(i)) == n) reg().alu.set(v.inc_ref().ptr(), i);
    }
    for (auto [k, v] : act) {
      const std::string n = py::str(k);
      for (int i = 0; i < static_cast<int>(ActFn::count_); ++i)
        if (act_name(static_cast<ActFn>(i)) == n) reg().act.set(v.inc_ref().ptr(), i);
    }
  }, "Map nki.language functions (by identity) to ALU operators and activation functions.");
}

}  // namespace nkisim::py_bind
