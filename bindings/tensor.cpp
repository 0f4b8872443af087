// nki._core.Tensor: the NkiTensor of the nki package (views over simulated memory).
#include <pybind11/numpy.h>

#include "common.hpp"

namespace nkisim::py_bind {

namespace {
IndexItem parse_item(const py::handle& h, const Tensor& t) {
  if (h.ptr() == Py_Ellipsis) return IndexItem{IndexItem::ellipsis};
  if (PySlice_Check(h.ptr())) {
    auto* s = reinterpret_cast<PySliceObject*>(h.ptr());
    IndexItem it{IndexItem::slice};
    auto get = [](PyObject* o, int64_t dflt) {
      if (o == Py_None) return dflt;
      return py::cast<int64_t>(py::handle(o));
    };
    it.step = get(s->step, 1);
    it.start = get(s->start, 0);
    it.stop = get(s->stop, INT64_MAX);
    if (s->start == Py_None && s->stop == Py_None && s->step == Py_None) it.kind = IndexItem::all;
    return it;
  }
  if (PyIndex_Check(h.ptr()) && !py::isinstance<Tensor>(h)) {
    IndexItem it{IndexItem::integer};
    it.start = py::cast<int64_t>(py::reinterpret_steal<py::object>(PyNumber_Index(h.ptr())));
    return it;
  }
  throw ValidationError("cannot index " + t.describe() + " with a " +
                        std::string(py::str(py::type::of(h).attr("__name__"))) +
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
    return args[0].cast<std::vector<int64_t>>();
  return args.cast<std::vector<int64_t>>();
}
}  // namespace

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
      .def("_ap", [](const Tensor& t, std::vector<std::pair<int64_t, int64_t>> pattern, int64_t offset,
                     int dtype) {
             return t.ap(pattern, offset, dtype < 0 ? std::nullopt : std::optional<DType>(static_cast<DType>(dtype)));
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

  m.def("allocate", [](int buffer, std::vector<int64_t> shape, int dtype, const std::string& name,
                       std::optional<std::pair<int64_t, int64_t>> address) {
    const Buffer b = static_cast<Buffer>(buffer);
    const DType t = static_cast<DType>(dtype);
    if (is_hbm(b)) {
      int64_t n = 1;
      for (auto v : shape) n *= v;
      if (address)
        throw ValidationError("nl.ndarray: address= places on-chip tensors only; '" + name +
                              "' is in " + std::string(buffer_name(b)));
      return Tensor(make_hbm(b, n * static_cast<int64_t>(size_of(t)), t, name), t, shape);
    }
    return current("ndarray").allocate(b, shape, t, name, address);
  }, py::arg("buffer"), py::arg("shape"), py::arg("dtype"), py::arg("name") = "",
     py::arg("address") = py::none());

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
    return Tensor(wrap_hbm(static_cast<Buffer>(buffer), ptr, arr.nbytes(), ro, hold, name), t, shape);
  });
}

}  // namespace nkisim::py_bind
