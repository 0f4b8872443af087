// nki._core.Tensor: the NkiTensor of the nki package (views over simulated memory).
#include <pybind11/numpy.h>

#include "common.hpp"

namespace nkisim::py_bind {

namespace {
std::string type_name(const py::handle& h) {
  return py::str(py::type::of(h).attr("__name__"));
}

// A Python int (or anything with __index__, e.g. numpy integers) as an int64. A wrong type is a
// TypeError naming the call and the parameter; an int outside int64 an OutOfBoundsError.
int64_t to_int64(const py::handle& h, const std::string& what) {
  if (PyBool_Check(h.ptr()) || !PyIndex_Check(h.ptr()) || py::isinstance<Tensor>(h))
    throw py::type_error(what + " must be an int, found " + type_name(h) + " " +
                         std::string(py::repr(h)));
  py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(h.ptr()));
  if (!i) throw py::error_already_set();
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
  if (overflow != 0)
    throw OutOfBoundsError(what + " is " + std::string(py::str(i)) +
                           ", outside the int64 range [-2**63, 2**63 - 1]");
  if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
  return v;
}


IndexItem parse_item(const py::handle& h, const Tensor& t) {
  if (h.ptr() == Py_Ellipsis) return IndexItem{IndexItem::ellipsis};
  if (PySlice_Check(h.ptr())) {
    auto* s = reinterpret_cast<PySliceObject*>(h.ptr());
    IndexItem it{IndexItem::slice};
    // Bounds beyond int64 are clamped as Python does for any sequence; the checks come later.
    auto get = [&](PyObject* o, int64_t dflt, const char* part) -> int64_t {
      if (o == Py_None) return dflt;
      if (!PyIndex_Check(o))
        throw py::type_error("indexing " + t.describe() + ": slice " + part +
                             " must be an int, found " + type_name(o));
      const Py_ssize_t v = PyNumber_AsSsize_t(o, nullptr);
      if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
      return v;
    };
    it.step = get(s->step, 1, "step");
    it.start = get(s->start, 0, "start");
    it.stop = get(s->stop, INT64_MAX, "stop");
    if (s->start == Py_None && s->stop == Py_None && s->step == Py_None) it.kind = IndexItem::all;
    return it;
  }
  if (PyIndex_Check(h.ptr()) && !py::isinstance<Tensor>(h)) {
    IndexItem it{IndexItem::integer};
    py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(h.ptr()));
    if (!i) throw py::error_already_set();
    int overflow = 0;
    it.start = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
    if (overflow != 0)
      throw OutOfBoundsError("index " + std::string(py::str(i)) + " is out of bounds for " +
                             t.describe());
    return it;
  }
  throw ValidationError("cannot index " + t.describe() + " with a " + type_name(h) +
                        ": use integers, slices, nl.ds(start, size) or '...'");
}

std::vector<IndexItem> parse_key(const py::handle& key, const Tensor& t) {
  std::vector<IndexItem> items;
  if (PyTuple_Check(key.ptr())) {
    for (auto h : py::reinterpret_borrow<py::tuple>(key)) items.push_back(parse_item(h, t));
  } else {
    items.push_back(parse_item(key, t));
  }
  // Resolve open stops now that the dims are known.
  int d = 0;
  int explicit_n = 0;
  for (auto& it : items) explicit_n += it.kind != IndexItem::ellipsis;
  for (auto& it : items) {
    if (it.kind == IndexItem::ellipsis) {
      d += t.ndim() - explicit_n;
      continue;
    }
    if (it.kind == IndexItem::slice && it.stop == INT64_MAX && d < t.ndim()) it.stop = t.dim(d).count;
    ++d;
  }
  return items;
}

std::vector<int64_t> shape_arg(const py::args& args) {
  if (args.size() == 1 && (py::isinstance<py::tuple>(args[0]) || py::isinstance<py::list>(args[0])))
    return to_int64_list(args[0], "reshape: shape");
  return to_int64_list(args, "reshape: shape");
}

std::optional<std::pair<int64_t, int64_t>> address_arg(const py::handle& h) {
  if (h.is_none()) return std::nullopt;
  if (!PyTuple_Check(h.ptr()) && !PyList_Check(h.ptr()))
    throw py::type_error("nl.ndarray: address must be a (partition, byte offset) pair of ints, "
                         "found " + type_name(h) + " " + std::string(py::repr(h)));
  const std::vector<int64_t> v = to_int64_list(h, "nl.ndarray: address");
  if (v.size() != 2)
    throw ValidationError("nl.ndarray: address must be a (partition, byte offset) pair, found " +
                          std::to_string(v.size()) + " values");
  return std::make_pair(v[0], v[1]);
}
}  // namespace

// A tuple or list of ints (or a single int when `allow_scalar`).
std::vector<int64_t> to_int64_list(const py::handle& h, const std::string& what,
                                   bool allow_scalar) {
  if (allow_scalar && PyIndex_Check(h.ptr()) && !PyBool_Check(h.ptr())) return {to_int64(h, what)};
  if (!PyTuple_Check(h.ptr()) && !PyList_Check(h.ptr()))
    throw py::type_error(what + " must be a tuple or list of ints, found " + type_name(h) + " " +
                         std::string(py::repr(h)));
  std::vector<int64_t> v;
  py::sequence seq = py::reinterpret_borrow<py::sequence>(h);
  for (size_t i = 0; i < seq.size(); ++i)
    v.push_back(to_int64(seq[i], what + "[" + std::to_string(i) + "]"));
  return v;
}

void bind_tensor(py::module_& m) {
  py::class_<Tensor>(m, "Tensor", "A view of simulated memory (nki.language.NkiTensor).")
      .def_property_readonly("shape", [](const Tensor& t) {
        py::tuple s(t.ndim());
        for (int d = 0; d < t.ndim(); ++d) s[d] = t.dim(d).count;
        return s;
      })
      .def_property_readonly("ndim", &Tensor::ndim)
      .def_property_readonly("size", &Tensor::size)
      .def_property_readonly("offset", &Tensor::flat_offset)
      .def_property_readonly("name", &Tensor::name)
      .def_property_readonly("_dtype_id", [](const Tensor& t) { return static_cast<int>(t.dtype()); })
      .def_property_readonly("_buffer_id", [](const Tensor& t) { return static_cast<int>(t.buffer()); })
      .def_property_readonly("_core_id", [](const Tensor& t) { return t.allocation().core; })
      .def_property_readonly("_start_partition", [](const Tensor& t) {
        return t.allocation().start_partition + t.start_partition();
      })
      .def_property_readonly("_alloc_id", [](const Tensor& t) {
        return reinterpret_cast<uintptr_t>(&t.allocation());
      })
      .def_property_readonly("_alloc_rect", [](const Tensor& t) {
        // (start partition, partitions, byte offset, bytes per partition) of the allocation.
        const Allocation& a = t.allocation();
        return py::make_tuple(a.start_partition, a.num_partitions, a.byte_offset, a.bytes);
      })
      .def("get_pattern", [](const Tensor& t) {
        py::list l;
        for (auto [s, n] : t.pattern()) l.append(py::make_tuple(s, n));
        return l;
      })
      .def("__getitem__", [](const Tensor& t, const py::handle& key) { return t.index(parse_key(key, t)); })
      .def("__setitem__", [](const Tensor& t, const py::handle&, const py::handle&) {
        throw UnsupportedError("assigning into " + t.describe() +
                               " with t[...] = value is not supported: write tiles with nki.isa "
                               "instructions (e.g. nisa.tensor_copy, nisa.dma_copy)");
      })
      .def("reshape", [](const Tensor& t, const py::args& args) { return t.reshape(shape_arg(args)); })
      .def("_view", [](const Tensor& t, int d) { return t.view_as(static_cast<DType>(d)); })
      .def("_broadcast_to", [](const Tensor& t, std::vector<int64_t> s) { return t.broadcast_to(s); })
      .def("_ap", [](const Tensor& t, const py::handle& pattern, const py::handle& offset,
                     int dtype) {
             if (!PyTuple_Check(pattern.ptr()) && !PyList_Check(pattern.ptr()))
               throw py::type_error(".ap(): pattern must be a list of [step, num] pairs, found " +
                                    type_name(pattern) + " " + std::string(py::repr(pattern)));
             std::vector<std::pair<int64_t, int64_t>> pat;
             py::sequence seq = py::reinterpret_borrow<py::sequence>(pattern);
             for (size_t i = 0; i < seq.size(); ++i) {
               const std::string what = ".ap(): pattern[" + std::to_string(i) + "]";
               const std::vector<int64_t> pair = to_int64_list(seq[i], what);
               if (pair.size() != 2)
                 throw ValidationError(what + " must be a [step, num] pair, found " +
                                       std::to_string(pair.size()) + " values");
               pat.emplace_back(pair[0], pair[1]);
             }
             return t.ap(pat, to_int64(offset, ".ap(): offset"),
                         dtype < 0 ? std::nullopt : std::optional<DType>(static_cast<DType>(dtype)));
           })
      .def("__len__", [](const Tensor& t) { return t.dim(0).count; })
      .def("__iter__", [](const Tensor& t) -> py::object {
        throw py::type_error("iterating over " + t.describe() +
                             " is not supported; index it with t[i] or slices");
      })
      // NKI 0.3.0: a tensor object is truthy (`if params.tensor:` tests for presence).
      .def("__bool__", [](const Tensor&) { return true; })
      .def("__repr__", [](const Tensor& t) { return "NkiTensor(" + t.describe() + ")"; })
      // A numpy view of the tensor's current contents (zero-copy; keeps the storage alive).
      .def("_numpy", [](const Tensor& t, const py::dtype& dt) {
        const Strided s = t.strided();
        std::vector<py::ssize_t> shape(s.ndim), strides(s.ndim);
        for (int d = 0; d < s.ndim; ++d) {
          shape[d] = s.count[d];
          strides[d] = s.stride[d];
        }
        auto* keep = new AllocationPtr(t.allocation_ptr());
        py::capsule cap(keep, [](void* p) { delete static_cast<AllocationPtr*>(p); });
        return py::array(dt, shape, strides, s.base, cap);
      });

  m.def("allocate", [](int buffer, const py::handle& shape_in, int dtype, const std::string& name,
                       const py::handle& address_in, const std::string& site) {
    const Buffer b = static_cast<Buffer>(buffer);
    const DType t = static_cast<DType>(dtype);
    const std::string what = name.empty() ? std::string("nl.ndarray")
                                          : "nl.ndarray(name='" + name + "')";
    const std::vector<int64_t> shape = to_int64_list(shape_in, what + ": shape", true);
    const auto address = address_arg(address_in);
    check_shape(shape, t, what);  // every dim >= 1, byte size fits an int64 (no overflow later)
    if (is_hbm(b)) {
      if (address)
        throw ValidationError("nl.ndarray: address= places on-chip tensors only; '" + name +
                              "' is in " + std::string(buffer_name(b)));
      const int64_t bytes = *checked_product(shape) * static_cast<int64_t>(size_of(t));
      return Tensor(make_hbm(b, bytes, t, name), t, shape);
    }
    return current("ndarray").allocate(b, shape, t, name, address, site);
  }, py::arg("buffer"), py::arg("shape"), py::arg("dtype"), py::arg("name") = "",
     py::arg("address") = py::none(), py::arg("site") = "");

  // The kernel of the current program has ended: SBUF/PSUM capacity by live ranges.
  m.def("check_capacity", [] { current("check_capacity").check_capacity(); });

  // The current program's whole SBUF (0) or PSUM (1) host storage as a writable uint8 array of
  // (partitions, host stride) bytes, padding included: for guard-byte checks (tests/fuzz).
  m.def("_debug_space", [](int buffer) {
    Interpreter& in = current("_debug_space");
    Memory& mem = buffer == 1 ? in.psum() : in.sbuf();
    auto* keep = new std::shared_ptr<void>(mem.storage_owner());
    py::capsule cap(keep, [](void* p) { delete static_cast<std::shared_ptr<void>*>(p); });
    return py::array(py::dtype("uint8"),
                     std::vector<py::ssize_t>{mem.partitions(), mem.host_stride()},
                     std::vector<py::ssize_t>{mem.host_stride(), 1}, mem.host_data(), cap);
  });

  // Wrap a caller's C-contiguous array as an HBM tensor without copying.
  m.def("wrap", [](py::array arr, int dtype, int buffer, const std::string& name) {
    const bool ro = !arr.writeable();
    void* ptr = const_cast<void*>(arr.data());
    auto* keep = new py::object(arr);
    std::shared_ptr<void> hold(keep, [](void* p) {
      py::gil_scoped_acquire gil;
      delete static_cast<py::object*>(p);
    });
    std::vector<int64_t> shape(arr.shape(), arr.shape() + arr.ndim());
    if (shape.empty()) shape.push_back(1);
    const DType t = static_cast<DType>(dtype);
    check_shape(shape, t, "kernel argument '" + name + "'");
    return Tensor(wrap_hbm(static_cast<Buffer>(buffer), ptr, arr.nbytes(), ro, hold, name), t, shape);
  });
}

}  // namespace nkisim::py_bind
