// nki._core instruction entry points: one per row of ops.def. The Python wrappers in nki.isa
// have already normalised names, enums and defaults; here the Op struct is filled and run.
#include "common.hpp"

namespace nkisim::py_bind {

namespace {
template <class O>
void label(O& op, const py::handle& name) {
  if (!name.is_none()) op.name = py::str(name);
}
AluOp alu(int v) { return static_cast<AluOp>(v); }
Engine eng(int v) { return static_cast<Engine>(v); }
}  // namespace

void bind_isa(py::module_& m) {
  m.def("dma_copy", [](const Tensor& dst, const Tensor& src, int oob, int dge, int engine, py::handle name) {
    DmaCopyOp op;
    op.dst = dst;
    op.src = src;
    op.oob_mode = static_cast<OobMode>(oob);
    op.dge_mode = static_cast<DgeMode>(dge);
    op.engine = eng(engine);
    label(op, name);
    run(op, dst.size());
  });
  m.def("tensor_copy", [](const Tensor& dst, const Tensor& src, int engine, py::handle name) {
    TensorCopyOp op;
    op.dst = dst;
    op.src = src;
    op.engine = eng(engine);
    label(op, name);
    run(op, dst.size());
  });
  m.def("memset", [](const Tensor& dst, py::handle value, int engine, py::handle name) {
    MemsetOp op;
    op.dst = dst;
    if (!(PyFloat_Check(value.ptr()) || PyLong_Check(value.ptr()) || PyNumber_Check(value.ptr())) ||
        py::isinstance<Tensor>(value))
      throw ValidationError("nki.isa.memset: value: must be a Python number, found " +
                            std::string(py::str(py::type::of(value).attr("__name__"))));
    // Kept for the process lifetime (never destroyed after the interpreter has finalized).
    static PyObject* np_floating = py::object(py::module_::import("numpy").attr("floating")).release().ptr();
    op.value_is_float = PyFloat_Check(value.ptr()) || PyObject_IsInstance(value.ptr(), np_floating) == 1;
    op.value = py::cast<double>(value);
    op.engine = eng(engine);
    label(op, name);
    run(op, dst.size());
  });
  m.def("iota", [](const Tensor& dst, std::vector<std::pair<int64_t, int64_t>> pattern, int64_t offset,
                   int64_t channel_multiplier, py::handle name) {
    IotaOp op;
    op.dst = dst;
    op.pattern = std::move(pattern);
    op.offset = offset;
    op.channel_multiplier = channel_multiplier;
    label(op, name);
    run(op, dst.size());
  });
  m.def("tensor_tensor", [](const Tensor& dst, const Tensor& a, const Tensor& b, int opc, int engine,
                            py::handle name) {
    TensorTensorOp op;
    op.dst = dst;
    op.data1 = a;
    op.data2 = b;
    op.op = alu(opc);
    op.engine = eng(engine);
    label(op, name);
    run(op, dst.size());
  });
  m.def("tensor_scalar", [](const Tensor& dst, const Tensor& data, int op0, py::handle operand0,
                            bool reverse0, int op1, py::handle operand1, bool reverse1, int engine,
                            py::handle name) {
    TensorScalarOp op;
    op.dst = dst;
    op.data = data;
    op.op0 = alu(op0);
    op.operand0 = to_operand(operand0, "nki.isa.tensor_scalar: operand0");
    op.reverse0 = reverse0;
    op.op1 = alu(op1);
    op.operand1 = to_operand(operand1, "nki.isa.tensor_scalar: operand1");
    op.reverse1 = reverse1;
    op.engine = eng(engine);
    label(op, name);
    run(op, dst.size());
  });
  m.def("activation", [](const Tensor& dst, int fn, const Tensor& data, py::handle bias, py::handle scale,
                         int reduce_op, py::handle reduce_res, int reduce_cmd, py::handle name) {
    ActivationOp op;
    op.dst = dst;
    op.op = static_cast<ActFn>(fn);
    op.data = data;
    op.bias = to_operand(bias, "nki.isa.activation: bias");
    op.scale = to_operand(scale, "nki.isa.activation: scale");
    op.reduce_op = alu(reduce_op);
    op.reduce_res = opt_tensor(reduce_res);
    op.reduce_cmd = static_cast<ReduceCmd>(reduce_cmd);
    label(op, name);
    run(op, dst.size());
  });
  m.def("tensor_reduce", [](const Tensor& dst, int opc, const Tensor& data, std::vector<int> axes,
                            bool negate, bool keepdims, py::handle name) {
    TensorReduceOp op;
    op.dst = dst;
    op.op = alu(opc);
    op.data = data;
    op.axes = std::move(axes);
    op.negate = negate;
    op.keepdims = keepdims;
    label(op, name);
    run(op, data.size());
  });
  m.def("nc_matmul", [](const Tensor& dst, const Tensor& stationary, const Tensor& moving,
                        bool s_onezero, bool m_onezero, bool is_transpose, py::handle accumulate,
                        std::vector<int64_t> tile_position, std::vector<int64_t> tile_size,
                        int perf_mode, py::handle name) {
    MatmulOp op;
    op.dst = dst;
    op.stationary = stationary;
    op.moving = moving;
    op.is_stationary_onezero = s_onezero;
    op.is_moving_onezero = m_onezero;
    op.is_transpose = is_transpose;
    if (!accumulate.is_none()) op.accumulate = py::cast<bool>(accumulate);
    op.tile_position = std::move(tile_position);
    op.tile_size = std::move(tile_size);
    op.perf_mode = static_cast<PerfMode>(perf_mode);
    label(op, name);
    run(op, dst.size() * stationary.partitions());
  });
  m.def("nc_transpose", [](const Tensor& dst, const Tensor& data, int engine, py::handle name) {
    TransposeOp op;
    op.dst = dst;
    op.data = data;
    op.engine = eng(engine);
    label(op, name);
    run(op, dst.size());
  });
  m.def("reciprocal", [](const Tensor& dst, const Tensor& data, py::handle name) {
    ReciprocalOp op;
    op.dst = dst;
    op.data = data;
    label(op, name);
    run(op, dst.size());
  });
}

}  // namespace nkisim::py_bind
