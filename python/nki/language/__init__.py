"""nki.language: buffers, dtypes, tensors, iterators and the convenience ops of NKI 0.3.0.

Every op here is a composition of nki.isa instructions (as NKI's own standard library is), so it
gets the interpreter's validation, counting and tracing; none has a numeric path of its own.
"""
import builtins as _b
import contextlib as _contextlib
import enum as _enum
import os as _os
import sys as _sys

import numpy as _np

from .. import _core, _dtypes, _errors, _kernel, _ops, _ranks
from .. import isa as _isa
from .._errors import NkiUnsupportedError as _Unsupported
from .._errors import NkiValidationError as _Invalid


# ---------------------------------------------------------------- buffers
class MemoryRegion(_enum.Enum):
    sbuf = "sbuf"
    psum = "psum"
    private_hbm = "private_hbm"
    shared_hbm = "shared_hbm"


sbuf = MemoryRegion.sbuf
psum = MemoryRegion.psum
private_hbm = MemoryRegion.private_hbm
hbm = MemoryRegion.private_hbm
shared_hbm = MemoryRegion.shared_hbm
_BUFFER_ID = {sbuf: 0, psum: 1, private_hbm: 2, shared_hbm: 3}
_BUFFERS = [sbuf, psum, private_hbm, shared_hbm]


def is_hbm(buffer):
    return buffer in (private_hbm, shared_hbm)


def is_on_chip(buffer):
    return buffer in (sbuf, psum)


def is_psum(buffer):
    return buffer is psum


def is_sbuf(buffer):
    return buffer is sbuf


def _buffer_id(buffer, fn):
    if buffer.__class__ is MemoryRegion:
        return _BUFFER_ID[buffer]
    _errors.fail(_Invalid, f"nl.{fn}: buffer must be one of nl.sbuf, nl.psum, nl.hbm, "
                           f"nl.private_hbm, nl.shared_hbm, found {buffer!r}")


# ---------------------------------------------------------------- dtypes
(bool_, int8, int16, int32, uint8, uint16, uint32, float16, float32, bfloat16, tfloat32,
 float8_e4m3, float8_e4m3fn, float8_e5m2, float8_e5m2_x4, float8_e4m3fn_x4,
 float4_e2m1fn_x4) = _dtypes.ALL
bool = bool_  # noqa: A001  (seen in kernels as nl.bool)


def _dtype(d, fn):
    try:
        return _dtypes.lookup(d)
    except (TypeError, ValueError) as e:
        _errors.fail(_Invalid, f"nl.{fn}: dtype: {e}")


# ---------------------------------------------------------------- tile sizes
class _TileSizeMeta(type):
    @property
    def total_available_sbuf_size(cls):
        """Usable SBUF bytes per partition of the current target."""
        name = _core.current_target() if _core.has_current() else ""
        return _core.target_info(name)["sbuf_bytes_per_partition"]


class tile_size(metaclass=_TileSizeMeta):
    """Hardware tile limits (elements unless stated)."""
    pmax = 128
    psum_fmax = 512
    gemm_stationary_fmax = 128
    gemm_moving_fmax = 512
    bn_stats_fmax = 512
    psum_min_align = 4
    sbuf_min_align = 1


# ---------------------------------------------------------------- tensors
NkiTensor = _core.Tensor
NkiTensor.__module__ = "nki.language"
NkiTensor.dtype = property(lambda self: _dtypes.ALL[self._dtype_id], doc="the dtype (nl.float32, ...)")
NkiTensor.buffer = property(lambda self: _BUFFERS[self._buffer_id], doc="the MemoryRegion")


def _view(self, dtype):
    """Reinterpret the bits as another dtype (a different size scales the last dimension)."""
    try:
        return self._view(_dtypes.ID[_dtype(dtype, "view")])
    except _errors.ERRORS as e:
        _errors.reraise(e)


def _ap(self, pattern, offset=0, scalar_offset=None, vector_offset=None, indirect_dim=0, dtype=None):
    """An explicit access pattern [[step, num], ...] over this tensor's storage (on a view too: the
    view's own layout is ignored); scalar_offset (a
    VirtualRegister or a (1, 1) int tensor) or vector_offset (a (P, 1) int SBUF tensor of row
    indices) make it dynamic: resolved and bounds-checked when an instruction runs."""
    if scalar_offset is not None and vector_offset is not None:
        _errors.fail(_Invalid, ".ap(): scalar_offset and vector_offset are mutually exclusive")
    if isinstance(scalar_offset, _ranks.RankId):  # ncc.rank_id(): a register in 0.3.0
        scalar_offset = _isa.register_alloc(_b.int(scalar_offset))
    try:
        dt = -1 if dtype is None else _dtypes.ID[_dtype(dtype, "ap")]
        if scalar_offset is not None or vector_offset is not None:
            pat = [(int(p[0]), int(p[1])) for p in pattern]
            return self._ap_dynamic(pat, int(offset), dt, scalar_offset, vector_offset,
                                    int(indirect_dim))
        return self._ap(pattern, offset, dt)
    except _errors.ERRORS as e:
        _errors.reraise(e)
    except TypeError as e:
        _errors.fail(TypeError, str(e))


def _reshape(self, *shape):
    try:
        return NkiTensor._reshape_core(self, *shape)
    except _errors.ERRORS as e:
        _errors.reraise(e)
    except TypeError as e:
        _errors.fail(TypeError, str(e))


class _DynSlice:
    """nl.ds(register, size): a slice whose start is a register, resolved at execution."""
    __slots__ = ("reg", "size")

    def __init__(self, reg, size):
        self.reg, self.size = reg, size


def _getitem_dynamic(self, key, items, i):
    ell = [j for j, k in enumerate(items) if k is Ellipsis]
    dim = i if not ell or ell[0] > i else self.ndim - (len(items) - i)
    d = items[i]
    view = self._index_dynamic(dim, d.reg, d.size)
    rest = items[:i] + (slice(None),) + items[i + 1:]
    return _getitem_core(view, rest if isinstance(key, tuple) else rest[0])


def _getitem(self, key):
    # The hot path of every kernel (t[i], t[a:b, c:d]): no allocation, one C++ call.
    try:
        if type(key) is tuple:
            dyn = -1
            for i, k in enumerate(key):
                if type(k) is _DynSlice:
                    if dyn >= 0:
                        _errors.fail(_Unsupported, "one nl.ds(register, size) per index is supported")
                    dyn = i
            if dyn >= 0:
                return _getitem_dynamic(self, key, key, dyn)
        elif type(key) is _DynSlice:
            return _getitem_dynamic(self, key, (key,), 0)
        return _getitem_core(self, key)
    except _errors.ERRORS as e:
        _errors.reraise(e)
    except TypeError as e:
        _errors.fail(TypeError, str(e))


def _setitem(self, key, value):
    try:
        return NkiTensor._setitem_core(self, key, value)
    except _errors.ERRORS as e:
        _errors.reraise(e)


NkiTensor._setitem_core = NkiTensor.__setitem__
NkiTensor.__setitem__ = _setitem
_getitem_core = NkiTensor.__getitem__
NkiTensor._reshape_core = NkiTensor.reshape
NkiTensor.__getitem__ = _getitem
NkiTensor.reshape = _reshape
NkiTensor.view = _view
NkiTensor.ap = _ap


from .._object import NKIObject  # noqa: E402,F401
from .. import dtype as dtypes  # noqa: E402  (nki.language.dtypes: the same namespace as nki.dtype)

_sys.modules[__name__ + ".dtypes"] = dtypes


# ---------------------------------------------------------------- creation
def _shape(shape, fn):
    """The shape as a list of ints (a TypeError naming the call for anything else; the range
    and the size are checked by the core)."""
    if hasattr(shape, "__index__") and not isinstance(shape, (_b.bool, NkiTensor)):
        out = [shape]
    elif hasattr(shape, "__iter__") and not isinstance(shape, (str, bytes, NkiTensor)):
        out = list(shape)
    else:
        _errors.fail(TypeError, f"nl.{fn}: shape must be a tuple of ints, found "
                                f"{type(shape).__name__} {shape!r}")
    for i, s in enumerate(out):
        if not hasattr(s, "__index__") or isinstance(s, (_b.bool, NkiTensor)):
            _errors.fail(TypeError, f"nl.{fn}: shape[{i}] must be an int, found "
                                    f"{type(s).__name__} {s!r} (shape {shape!r})")
        out[i] = s.__index__()
    return out


def ndarray(shape, dtype, buffer=sbuf, name="", address=None):
    """Allocate an uninitialised tensor (filled with sentinels: NaN for floats, 4 for ints)."""
    bid = _buffer_id(buffer, "ndarray")
    d = _dtype(dtype, "ndarray")
    shp = _shape(shape, "ndarray")
    if name is not None and not isinstance(name, str):
        _errors.fail(TypeError, f"nl.ndarray: name must be a str, found {type(name).__name__} {name!r}")
    try:
        if bid == 3:
            L = _kernel.current_launch()
            if L is not None and L.n > 1:
                st = _kernel._state
                i = st.shared_count
                st.shared_count += 1
                return L.shared_hbm(i, shp, d, name or "")
        # On-chip: the kernel line names the tensor in capacity reports.
        site = _errors.where(2) if bid < 2 else ""
        return _core.allocate(bid, shp, _dtypes.ID[d], name or "", address, site)
    except _errors.ERRORS as e:
        _errors.reraise(e)
    except TypeError as e:
        _errors.fail(TypeError, str(e))


def _fill(t, value):
    d = t.dtype
    v = int(value) if _np.issubdtype(d.numpy, _np.integer) or d == "bool" else float(value)
    if is_on_chip(t.buffer):
        _isa.memset(t, v)
        return t
    # HBM: stage a filled SBUF row and DMA it over the tensor.
    flat = t.reshape((t.size,))
    chunk = _b.min(t.size, 8192)
    row = ndarray((1, chunk), d, buffer=sbuf)
    _isa.memset(row, v)
    for s in range(0, t.size, chunk):
        n = _b.min(chunk, t.size - s)
        _isa.dma_copy(flat[s:s + n], row[0:1, 0:n])
    return t


def zeros(shape, dtype, buffer=sbuf, name=""):
    return _fill(ndarray(shape, dtype, buffer=buffer, name=name), 0)


def ones(shape, dtype, buffer=sbuf, name=""):
    return _fill(ndarray(shape, dtype, buffer=buffer, name=name), 1)


def full(shape, fill_value, dtype, buffer=sbuf, name=""):
    return _fill(ndarray(shape, dtype, buffer=buffer, name=name), fill_value)


def zeros_like(x, dtype=None, buffer=None, name=""):
    return zeros(x.shape, dtype or x.dtype, buffer=buffer or sbuf, name=name)


def empty_like(x, dtype=None, buffer=None, name=""):
    return ndarray(x.shape, dtype or x.dtype, buffer=buffer or x.buffer, name=name)


def shared_identity_matrix(n, dtype="uint8", dst=None):
    """An n x n identity in SBUF (iota of column - row, compared with 0)."""
    t = dst if dst is not None else ndarray((n, n), dtype, buffer=sbuf)
    idx = ndarray((n, n), int32, buffer=sbuf)
    _isa.iota(idx, [[1, n]], offset=0, channel_multiplier=-1)
    _isa.tensor_scalar(t, idx, op0=equal, operand0=0.0)
    return t


def shared_constant(constant, dtype=None):
    """A read-only shared_hbm tensor holding `constant`: a numpy array (or array-like) or the path
    of a .npy file written on the host. `dtype` (optional) casts the host data first."""
    src = constant
    if isinstance(constant, (str, bytes, _os.PathLike)):
        try:
            src = _np.load(_os.fspath(constant), allow_pickle=False)
        except (OSError, ValueError) as e:
            _errors.fail(_Invalid, f"nl.shared_constant: cannot load {constant!r} as a .npy file: {e}")
    arr = _np.array(src, copy=True)
    if dtype is not None:
        arr = arr.astype(_dtype(dtype, "shared_constant").numpy)
    d = _dtype(arr.dtype, "shared_constant")
    if arr.ndim == 0:
        arr = arr.reshape(1)
    arr.flags.writeable = False
    name = _os.path.basename(_os.fspath(constant)) if isinstance(constant, (str, _os.PathLike)) \
        else "shared_constant"
    try:
        return _core.wrap(arr, _dtypes.ID[d], _BUFFER_ID[shared_hbm], name)
    except _errors.ERRORS as e:
        _errors.reraise(e)


# ---------------------------------------------------------------- moving data
def load(src, dtype=None):
    """A new SBUF tile holding `src` (HBM), optionally cast to `dtype`."""
    t = ndarray(src.shape, dtype or src.dtype, buffer=sbuf)
    _isa.dma_copy(t, src)
    return t


def store(dst, value):
    """Write the SBUF tile `value` into HBM `dst`."""
    _isa.dma_copy(dst, value)


def copy(x, dtype=None):
    """A copy of `x` on the same buffer (scalar engine, values pass through float32)."""
    t = ndarray(x.shape, dtype or x.dtype, buffer=x.buffer)
    _isa.activation(t, copy, x)
    return t


def matmul(x, y, transpose_x=False):
    """x.T @ y (transpose_x=True, x is [K, M]) or x @ y (x is [M, K]), into a new PSUM tile."""
    if not transpose_x:
        xt = transpose(x)
        xs = ndarray(xt.shape, xt.dtype, buffer=sbuf)
        _isa.tensor_copy(xs, xt)
        x = xs
    out = ndarray((x.size // x.shape[0], y.size // y.shape[0]), float32, buffer=psum)
    _isa.nc_matmul(out, x, y)
    return out


def transpose(x, dtype=None):
    """2-D partition/free transpose of `x` into a new PSUM tile (tensor engine)."""
    f = x.size // x.shape[0]
    t = ndarray((f, x.shape[0]), x.dtype, buffer=psum)
    _isa.nc_transpose(t, x)
    if dtype is not None and _dtypes.lookup(dtype) != x.dtype:
        c = ndarray(t.shape, dtype, buffer=psum)
        _isa.tensor_copy(c, t)
        return c
    return t


# ---------------------------------------------------------------- element-wise math
def _promote(a, b):
    """Result dtype of two tiles: theirs when equal, else float32 (or int32 for two int dtypes)."""
    if a == b:
        return a
    return float32 if ("float" in a or "float" in b) else int32


def _is_tile(x):
    return isinstance(x, NkiTensor)


def _make_binary(opname):
    def op(x, y, dtype=None):
        tx, ty = _is_tile(x), _is_tile(y)
        if tx and ty:
            if tuple(x.shape) != tuple(y.shape):
                _errors.fail(_Invalid, f"nl.{opname}: tiles of shapes {tuple(x.shape)} and "
                                       f"{tuple(y.shape)} differ; NKI 0.3.0 does not broadcast "
                                       "between tiles (use a scalar or a (P, 1) tile with nisa.tensor_scalar)")
            out = ndarray(x.shape, dtype or _promote(x.dtype, y.dtype), buffer=sbuf)
            _isa.tensor_tensor(out, x, y, op)
        elif tx or ty:
            if opname == "power" and tx:
                _errors.fail(_Unsupported, "nl.power(tile, scalar) is not supported in NKI 0.3.0: "
                                           "pass the exponent as a tile")
            t, s = (x, y) if tx else (y, x)
            out = ndarray(t.shape, dtype or t.dtype, buffer=sbuf)
            _isa.tensor_scalar(out, t, op, s, reverse0=not tx)
        else:
            _errors.fail(_Invalid, f"nl.{opname}: one operand must be a tile, found "
                                   f"{type(x).__name__} and {type(y).__name__}")
        return out
    op.__name__ = op.__qualname__ = opname
    op.__doc__ = f"Element-wise {opname} of two tiles, or of a tile and a scalar."
    return op


def _make_activation(opname):
    def op(x, dtype=None):
        out = ndarray(x.shape, dtype or x.dtype, buffer=sbuf)
        _isa.activation(out, op, x)
        return out
    op.__name__ = op.__qualname__ = opname
    op.__doc__ = f"Element-wise {opname} on the scalar engine."
    return op


for _n in ["bitwise_and", "bitwise_or", "bitwise_xor", "left_shift", "right_shift", "add",
           "subtract", "multiply", "maximum", "minimum", "equal", "not_equal", "greater_equal",
           "greater", "less_equal", "less", "logical_and", "logical_or", "logical_xor", "power"]:
    globals()[_n] = _make_binary(_n)
for _n in ["square", "sigmoid", "relu", "gelu", "gelu_dx", "gelu_apprx_tanh",
           "gelu_apprx_sigmoid", "gelu_apprx_sigmoid_dx", "silu", "silu_dx", "tanh", "softplus",
           "mish", "erf", "erf_dx", "exp", "log", "sin", "arctan", "sqrt", "rsqrt", "reciprocal",
           "sign", "abs"]:
    globals()[_n] = _make_activation(_n)
del _n


def invert(x, dtype=None):
    """Bitwise NOT of an integer tile."""
    out = ndarray(x.shape, dtype or x.dtype, buffer=sbuf)
    _isa.tensor_scalar(out, x, invert, 0)
    return out


def logical_not(x, dtype=None):
    """1 - x for 0/1 inputs (XOR with 1)."""
    out = ndarray(x.shape, dtype or x.dtype, buffer=sbuf)
    _isa.tensor_scalar(out, x, logical_xor, 1.0)
    return out


def negative(x, dtype=None):
    out = ndarray(x.shape, dtype or x.dtype, buffer=sbuf)
    _isa.tensor_scalar(out, x, multiply, -1.0)
    return out


# ---------------------------------------------------------------- reductions
def _axes(x, axis, fn):
    ax = [axis] if isinstance(axis, int) else list(axis)
    return [a + x.ndim if a < 0 else a for a in ax]


def _reduce(opname, op, x, axis, dtype, keepdims):
    ax = _axes(x, axis, opname)
    shape = [1 if i in ax else s for i, s in enumerate(x.shape)] if keepdims else \
        [s for i, s in enumerate(x.shape) if i not in ax]
    if len(shape) < 2:
        shape = shape + [1] * (2 - len(shape))
    out = ndarray(shape, dtype or x.dtype, buffer=sbuf)
    _isa.tensor_reduce(out, op, x, ax, keepdims=keepdims)
    return out


def sum(x, axis, dtype=None, keepdims=False):  # noqa: A001
    return _reduce("sum", add, x, axis, dtype, keepdims)


def max(x, axis, dtype=None, keepdims=False):  # noqa: A001
    return _reduce("max", maximum, x, axis, dtype, keepdims)


def min(x, axis, dtype=None, keepdims=False):  # noqa: A001
    return _reduce("min", minimum, x, axis, dtype, keepdims)


def prod(x, axis, dtype=None, keepdims=False):
    return _reduce("prod", multiply, x, axis, dtype, keepdims)


def all(x, axis, dtype=None):  # noqa: A001
    return _reduce("all", logical_and, x, axis, dtype, False)


def mean(x, axis, dtype=None, keepdims=False):
    s = _reduce("mean", add, x, axis, float32, keepdims)
    count = x.size // s.size
    out = ndarray(s.shape, dtype or x.dtype, buffer=sbuf)
    _isa.tensor_scalar(out, s, multiply, 1.0 / count)
    return out


def softmax(x, axis=-1, dtype=None):
    """exp(x - max) / sum(exp(x - max)) over the trailing free axes of each partition."""
    ax = sorted(_axes(x, axis, "softmax"))
    if ax != list(range(1, x.ndim)):
        # Trailing free axes only (0.3.0): one softmax per group of the kept leading free dims.
        ax = _free_axes(x, axis, "softmax")
        P, L, inner = _groups(x, ax)
        out = ndarray(x.shape, dtype or x.dtype, buffer=sbuf)
        xv, ov = x.reshape((P, L, inner)), out.reshape((P, L, inner))
        for g in range(L):
            _isa.tensor_copy(ov[:, g, :], softmax(xv[:, g, :], axis=1, dtype=float32))
        return out
    p = x.shape[0]
    neg_max = ndarray((p, 1), float32, buffer=sbuf)
    _isa.tensor_reduce(neg_max, maximum, x, ax, negate=True, keepdims=True)
    e = ndarray(x.shape, float32, buffer=sbuf)
    total = ndarray((p, 1), float32, buffer=sbuf)
    _isa.activation(e, exp, x, bias=neg_max, reduce_op=add, reduce_res=total,
                    reduce_cmd=_isa.reduce_cmd.reset_reduce)
    _isa.reciprocal(total, total)
    out = ndarray(x.shape, dtype or x.dtype, buffer=sbuf)
    _isa.tensor_scalar(out, e, multiply, total)
    return out


# ---------------------------------------------------------------- issue 7: rounding, trig, selection,
# normalisation and shape functions (each a composition of nki.isa instructions)
_EXACT_F32 = 8388608.0  # 2^23: float32 values at least this large are integers already


def _f32_copy(x):
    """x as a new float32 SBUF tile (the input itself if it already is one)."""
    if x.dtype == float32 and x.buffer == sbuf:
        return x
    t = ndarray(x.shape, float32, buffer=sbuf)
    _isa.tensor_copy(t, x)
    return t


def _round_integral(x, mode, dtype):
    """floor / ceil / trunc: round to nearest (a cast to int32 and back) and correct by one where
    the rounding went the wrong way; values of magnitude >= 2^23 (and NaN, inf) pass unchanged."""
    xf = _f32_copy(x)
    src = xf
    if mode == "trunc":
        src = ndarray(x.shape, float32, buffer=sbuf)
        _isa.tensor_scalar(src, xf, abs, 0.0)
    ri = ndarray(x.shape, int32, buffer=sbuf)
    _isa.tensor_copy(ri, src)                      # round half to even
    r = ndarray(x.shape, float32, buffer=sbuf)
    _isa.tensor_copy(r, ri)
    wrong = ndarray(x.shape, float32, buffer=sbuf)
    if mode == "ceil":
        _isa.tensor_tensor(wrong, r, src, less)     # rounded below x: add one
        _isa.tensor_tensor(r, r, wrong, add)
    else:
        _isa.tensor_tensor(wrong, r, src, greater)  # rounded above x: subtract one
        _isa.tensor_tensor(r, r, wrong, subtract)
    if mode == "trunc":
        sg = ndarray(x.shape, float32, buffer=sbuf)
        _isa.activation(sg, sign, xf)
        _isa.tensor_tensor(r, r, sg, multiply)
    small = ndarray(x.shape, uint8, buffer=sbuf)
    _isa.tensor_scalar(small, xf, abs, 0.0, op1=less, operand1=_EXACT_F32)
    _isa.tensor_copy_predicated(r, xf, small, reverse_pred=True)
    out = ndarray(x.shape, dtype or x.dtype, buffer=sbuf)
    _isa.tensor_copy(out, r)
    return out


def floor(x, dtype=None):
    """The largest integer <= x, element-wise."""
    return _round_integral(x, "floor", dtype)


def ceil(x, dtype=None):
    """The smallest integer >= x, element-wise."""
    return _round_integral(x, "ceil", dtype)


def trunc(x, dtype=None):
    """x rounded toward zero, element-wise."""
    return _round_integral(x, "trunc", dtype)


def cos(x, dtype=None):
    """cos(x) = sin(pi/2 - x) on the scalar engine."""
    out = ndarray(x.shape, dtype or x.dtype, buffer=sbuf)
    _isa.activation(out, sin, x, bias=_np.pi / 2, scale=-1.0)
    return out


def tan(x, dtype=None):
    """sin(x) * (1 / cos(x)): two scalar-engine activations, a vector reciprocal and a multiply."""
    s = ndarray(x.shape, float32, buffer=sbuf)
    _isa.activation(s, sin, x)
    c = ndarray(x.shape, float32, buffer=sbuf)
    _isa.activation(c, sin, x, bias=_np.pi / 2, scale=-1.0)
    _isa.reciprocal(c, c)
    out = ndarray(x.shape, dtype or x.dtype, buffer=sbuf)
    _isa.tensor_tensor(out, s, c, multiply)
    return out


def _binary_operands(x, y, fname):
    tx, ty = _is_tile(x), _is_tile(y)
    if not (tx or ty):
        _errors.fail(_Invalid, f"nl.{fname}: one operand must be a tile, found "
                               f"{type(x).__name__} and {type(y).__name__}")
    if tx and ty and tuple(x.shape) != tuple(y.shape):
        _errors.fail(_Invalid, f"nl.{fname}: tiles of shapes {tuple(x.shape)} and {tuple(y.shape)} "
                               "differ; NKI 0.3.0 does not broadcast between tiles")
    return tx, ty


def _quotient(x, y, fname):
    """x * (1 / y) in float32 (the documented way to divide on the engines)."""
    tx, ty = _binary_operands(x, y, fname)
    shape = x.shape if tx else y.shape
    q = ndarray(shape, float32, buffer=sbuf)
    if ty:
        _isa.reciprocal(q, y)
        if tx:
            _isa.tensor_tensor(q, x, q, multiply)
        else:
            _isa.tensor_scalar(q, q, multiply, float(x))
    else:
        _isa.tensor_scalar(q, x, multiply, 1.0 / float(y))
    return q


def divide(x, y, dtype=None):
    """x / y computed as x * reciprocal(y) in float32 (NKI 0.3.0: not supported on hardware)."""
    q = _quotient(x, y, "divide")
    ref = x if _is_tile(x) else y
    out = ndarray(q.shape, dtype or ref.dtype, buffer=sbuf)
    _isa.tensor_copy(out, q)
    return out


def _remainder(x, y, dtype, fname, mode):
    """x - round(x / y) * y with round = trunc (fmod) or floor (mod), in float32."""
    q = _quotient(x, y, fname)
    k = _round_integral(q, mode, float32)
    shape = q.shape
    ky = ndarray(shape, float32, buffer=sbuf)
    if _is_tile(y):
        _isa.tensor_tensor(ky, k, y, multiply)
    else:
        _isa.tensor_scalar(ky, k, multiply, float(y))
    r = ndarray(shape, float32, buffer=sbuf)
    if _is_tile(x):
        _isa.tensor_tensor(r, x, ky, subtract)
    else:
        _isa.tensor_scalar(r, ky, subtract, float(x), reverse0=True)
    ref = x if _is_tile(x) else y
    out = ndarray(shape, dtype or ref.dtype, buffer=sbuf)
    _isa.tensor_copy(out, r)
    return out


def fmod(x, y, dtype=None):
    """Remainder of x / y with the sign of x (C fmod); simulation only in NKI 0.3.0."""
    return _remainder(x, y, dtype, "fmod", "trunc")


def mod(x, y, dtype=None):
    """Remainder of x / y with the sign of y (Python %); simulation only in NKI 0.3.0."""
    return _remainder(x, y, dtype, "mod", "floor")


def _filled(shape, value, dtype):
    t = ndarray(shape, dtype, buffer=sbuf)
    _isa.memset(t, value)
    return t


def where(condition, x, y, dtype=None):
    """x where condition is nonzero (1.0), else y; x and y tiles of condition's shape or numbers."""
    shape = tuple(condition.shape)
    ref = x if _is_tile(x) else (y if _is_tile(y) else condition)
    odt = dtype or ref.dtype
    for name_, v in (("x", x), ("y", y)):
        if _is_tile(v) and tuple(v.shape) != shape:
            _errors.fail(_Invalid, f"nl.where: {name_} of shape {tuple(v.shape)} must have the shape "
                                   f"of condition, {shape}")
    pred = ndarray(shape, uint8, buffer=sbuf)
    _isa.tensor_scalar(pred, condition, not_equal, 0.0)
    out = ndarray(shape, odt, buffer=sbuf)
    if _is_tile(y):
        _isa.tensor_copy(out, y)
    else:
        _isa.memset(out, y if odt not in (int8, int16, int32, uint8, uint16, uint32) else int(y))
    if _is_tile(x):
        src = x
        if x.dtype != odt:
            src = ndarray(shape, odt, buffer=sbuf)
            _isa.tensor_copy(src, x)
        _isa.tensor_copy_predicated(out, src, pred)
    else:
        _isa.tensor_copy_predicated(out, x, pred)
    return out


def expand_dims(x, axis):
    """A view of x with a new size-1 axis at `axis`."""
    nd = len(x.shape) + 1
    a = axis + nd if axis < 0 else axis
    if not 0 <= a < nd:
        _errors.fail(_Invalid, f"nl.expand_dims: axis {axis} is out of range for a {nd - 1}-D tile")
    shape = list(x.shape)
    shape.insert(a, 1)
    return x.reshape(tuple(shape))


_PSUM_FP32 = 512  # float32 elements of one PSUM bank per partition


def broadcast_to(x, shape, dtype=None):
    """Broadcast a tile along dims of size 1 (numpy rules, same rank): across partitions with a
    ones-vector nc_matmul (exact: one product per element), along free dims with tensor_scalar."""
    shape = tuple(int(s) for s in shape)
    src_shape = tuple(x.shape)
    if len(shape) != len(src_shape):
        _errors.fail(_Invalid, f"nl.broadcast_to: shape {shape} must have the rank of x "
                               f"{src_shape}")
    for a, b in zip(src_shape, shape):
        if a != b and a != 1:
            _errors.fail(_Invalid, f"nl.broadcast_to: cannot broadcast {src_shape} to {shape} "
                                   "(each dim must match or be 1)")
    odt = dtype or x.dtype
    if src_shape == shape:
        if odt == x.dtype:
            return x
        out = ndarray(shape, odt, buffer=sbuf)
        _isa.tensor_copy(out, x)
        return out
    P = shape[0]
    cur = x
    if src_shape[0] != P:
        # ones[1, P].T @ x[1, F] = P copies of the row, in PSUM banks of 512 float32.
        F = x.size // src_shape[0]
        row = x.reshape((1, F))
        if row.dtype not in (float32, bfloat16, float16):
            r32 = ndarray((1, F), float32, buffer=sbuf)
            _isa.tensor_copy(r32, row)
            row = r32
        ones_ = ndarray((1, P), row.dtype, buffer=sbuf)
        _isa.memset(ones_, 1.0)
        rows = ndarray((P, F), odt if src_shape[1:] == shape[1:] else float32, buffer=sbuf)
        for c in _range(0, F, _PSUM_FP32):
            n = _b.min(_PSUM_FP32, F - c)
            ps = ndarray((P, n), float32, buffer=psum)
            _isa.nc_matmul(ps, ones_, row[:, c:c + n])
            _isa.tensor_copy(rows[:, c:c + n], ps)
        cur = rows.reshape((P,) + src_shape[1:])
        if src_shape[1:] == shape[1:]:
            return cur.reshape(shape)
    # Free dims: out = 0 + value, one (P, 1) column per run of the broadcast dims.
    src_free = src_shape[1:]
    dst_free = shape[1:]
    out = ndarray(shape, odt, buffer=sbuf)
    zeros_ = ndarray(shape, float32, buffer=sbuf)
    _isa.memset(zeros_, 0.0)
    cur32 = _f32_copy(cur)
    idx = _np.ndindex(*[1 if a == 1 else b for a, b in zip(src_free, dst_free)])
    for i in idx:
        sel_src = tuple(slice(j, j + 1) for j in i)
        sel_dst = tuple(slice(j, j + 1) if a != 1 else slice(0, b)
                        for j, a, b in zip(i, src_free, dst_free))
        col = cur32[(slice(0, P),) + sel_src]
        col2 = col.reshape((P, 1))
        _isa.tensor_scalar(out[(slice(0, P),) + sel_dst], zeros_[(slice(0, P),) + sel_dst], add, col2)
    return out


def _free_axes(x, axis, fname):
    ax = sorted(_axes(x, axis, fname))
    nd = len(x.shape)
    if not ax or ax[0] < 1 or ax != list(_b.range(ax[0], nd)):
        _errors.fail(_Invalid, f"nl.{fname}: axis {axis} must be the last contiguous free dims of "
                               f"a {nd}-D tile ([1], [1, 2], ...; never the partition axis 0)")
    return ax


def _groups(x, ax):
    """(P, L, I) view of x: L leading free elements kept, I reduced elements per group."""
    P = x.shape[0]
    inner = 1
    for a in ax:
        inner *= x.shape[a]
    return P, (x.size // P) // inner, inner


def var(x, axis, dtype=None, keepdims=False):
    """Population variance over the trailing free axes (bn_stats on chunks of 512 + bn_aggr);
    the result always has the keepdims shape (0.3.0)."""
    ax = _free_axes(x, axis, "var")
    P, L, inner = _groups(x, ax)
    shape = tuple(1 if i in ax else s for i, s in enumerate(x.shape))
    out = ndarray(shape, dtype or x.dtype, buffer=sbuf)
    flat_out = out.reshape((P, L))
    xv = x.reshape((P, L, inner))
    fmax = tile_size.bn_stats_fmax
    nchunks = (inner + fmax - 1) // fmax
    stats = ndarray((P, 6 * nchunks), float32, buffer=sbuf)
    mv = ndarray((P, 2), float32, buffer=sbuf)
    for g in _range(L):
        for k in _range(nchunks):
            c = k * fmax
            n = _b.min(fmax, inner - c)
            _isa.bn_stats(stats[:, 6 * k:6 * k + 6], xv[:, g, c:c + n])
        _isa.bn_aggr(mv, stats)
        _isa.tensor_copy(flat_out[:, g:g + 1], mv[:, 1:2])
    return out


def rms_norm(x, w, axis, n, epsilon=1e-06, dtype=None, compute_dtype=None):
    """x / sqrt(sum(x^2 over axis) / n + epsilon) * w (w of x's shape, or broadcast to it)."""
    ax = _free_axes(x, axis, "rms_norm")
    P, L, inner = _groups(x, ax)
    cdt = compute_dtype or float32
    xv = x.reshape((P, L, inner))
    wt = w if tuple(w.shape) == tuple(x.shape) else broadcast_to(w, x.shape)
    y = ndarray((P, L, inner), cdt, buffer=sbuf)
    sq = ndarray((P, inner), float32, buffer=sbuf)
    ss = ndarray((P, 1), float32, buffer=sbuf)
    for g in _range(L):
        _isa.activation(sq, square, xv[:, g, :], reduce_op=add, reduce_res=ss,
                        reduce_cmd=_isa.reduce_cmd.reset_reduce)
        _isa.tensor_scalar(ss, ss, multiply, 1.0 / float(n), op1=add, operand1=float(epsilon))
        _isa.activation(ss, rsqrt, ss)
        _isa.tensor_scalar(y[:, g, :], xv[:, g, :], multiply, ss)
    out = ndarray(x.shape, dtype or x.dtype, buffer=sbuf)
    _isa.tensor_tensor(out, y.reshape(tuple(x.shape)), wt, multiply)
    return out


# ---------------------------------------------------------------- iterators and launch grid
def _range(start, stop=None, step=1):
    if stop is None:
        start, stop = 0, start
    return _b.range(int(start), int(stop), int(step))


def static_range(start, stop=None, step=1):
    """A compile-time (unrolled) loop: a Python range."""
    return _range(start, stop, step)


def affine_range(start, stop=None, step=1):
    """Deprecated alias of static_range (iterations have no loop-carried dependency)."""
    return _range(start, stop, step)


def sequential_range(start, stop=None, step=1):
    """Deprecated alias of static_range (iterations may depend on each other)."""
    return _range(start, stop, step)


range = static_range  # noqa: A001  (nl.range, seen in kernels)


def _bound(v, what):
    if isinstance(v, _core.VirtualRegister):
        return v._value("dynamic_range")
    if isinstance(v, _b.bool) or not isinstance(v, (_b.int, _np.integer)):
        _errors.fail(_Invalid, f"nl.dynamic_range: {what} must be an int or a VirtualRegister, "
                               f"found {type(v).__name__} {v!r}")
    return _b.int(v)


class _DynamicRange:
    """An on-device loop: bounds are read from registers when the loop starts; the induction
    variable is a register of the running core that the loop body may read (iota offsets, nl.ds
    starts, scalar_offset) but not write (a frozen value in NKI 0.3.0)."""

    def __init__(self, start, stop, step):
        self.start, self.stop, self.step = start, stop, step

    def __iter__(self):
        lo, hi = _bound(self.start, "start"), _bound(self.stop, "stop")
        if lo >= hi:
            return
        reg = _isa.register_alloc(lo)
        reg._freeze(True)
        advance = reg._loop_set
        try:
            for v in _b.range(lo, hi, self.step):
                advance(v)
                yield reg
        finally:
            if _core.has_current():
                reg._freeze(False)


def dynamic_range(start, stop=None, step=1):
    """A dynamic (on-device) loop from start to stop (ints or VirtualRegisters, read when the loop
    starts) by a positive compile-time int step. The induction variable is a VirtualRegister."""
    if isinstance(step, _core.VirtualRegister) or isinstance(step, _b.bool) or \
            not isinstance(step, (_b.int, _np.integer)) or step < 1:
        _errors.fail(_Invalid, f"nl.dynamic_range: step must be a positive compile-time int "
                               f"(not a VirtualRegister), found {step!r}")
    if stop is None:
        start, stop = 0, start
    return _DynamicRange(start, stop, _b.int(step))


def load_transpose2d(src, dtype=None):
    """A new SBUF tile holding the 2-D HBM tensor `src` transposed (nisa.dma_transpose), cast to
    `dtype` if given (through nisa.tensor_copy)."""
    if len(src.shape) != 2:
        _errors.fail(_Invalid, f"nl.load_transpose2d: src must be 2-D, found shape {tuple(src.shape)}")
    t = ndarray((src.shape[1], src.shape[0]), src.dtype, buffer=sbuf)
    _isa.dma_transpose(t, src)
    if dtype is None or _dtype(dtype, "load_transpose2d") == src.dtype:
        return t
    out = ndarray(t.shape, dtype, buffer=sbuf)
    _isa.tensor_copy(out, t)
    return out


def ds(start, size):
    """A dynamic-slice index: t[nl.ds(s, n)] is t[s:s+n]; `start` may be a VirtualRegister
    (resolved and bounds-checked when the instruction runs)."""
    if isinstance(start, _core.VirtualRegister) and isinstance(size, (_b.int, _np.integer)):
        return _DynSlice(start, _b.int(size))
    if not isinstance(start, (int, _np.integer)) or not isinstance(size, (int, _np.integer)):
        _errors.fail(_Unsupported, f"nl.ds({start!r}, {size!r}): register-valued (dynamic) slices "
                                   "are not implemented by nkisim yet; use ints")
    return slice(int(start), int(start) + int(size), 1)


def _grid_axis(value, fn, what):
    if isinstance(value, _b.bool) or not isinstance(value, (_b.int, _np.integer)):
        _errors.fail(_Invalid, f"nl.{fn}({what}={value!r}): expected an int axis of the launch grid")
    L = _kernel.current_launch()
    ndim = L.grid_ndim if L is not None else 0
    if not (0 <= int(value) < _b.max(ndim, 1)):
        _errors.fail(_Invalid, f"nl.{fn}({what}={value!r}): NKI 0.3.0 grids have one axis "
                               f"(kernel[n]); this launch's grid has {ndim} "
                               f"dimension{'s' if ndim != 1 else ''}")
    return _b.int(value)


def program_id(axis=0):
    """Index of the running program along `axis` of the launch grid (0 without a grid)."""
    _grid_axis(axis, "program_id", "axis")
    return _kernel.program_id()


def num_programs(axes=0):
    """Number of programs along `axes` (an axis, a tuple/list of axes, or None for the whole grid;
    1 without a grid)."""
    L = _kernel.current_launch()
    n = L.n if L is not None else 1
    if axes is None:
        return n
    for a in (axes if isinstance(axes, (_b.tuple, _b.list)) else (axes,)):
        _grid_axis(a, "num_programs", "axes")
    return n


def program_ndim():
    """Number of launch-grid dimensions (0 without a grid)."""
    L = _kernel.current_launch()
    return L.grid_ndim if L is not None else 0


@_contextlib.contextmanager
def no_reorder():
    """Keep program order inside the block (execution is already sequential here)."""
    yield


def device_print(print_prefix, tensor):
    """Print a tensor's current values immediately."""
    arr = tensor._numpy(tensor.dtype.numpy)
    print(print_prefix, arr, flush=True)


# ---------------------------------------------------------------- gather (issue 8)
def gather_flattened(data, indices, axis=0, dtype=None):
    """out[p, ...] = data[p].flatten()[indices[p, ...]]: nisa.nc_n_gather on GpSimd (SBUF; a
    PSUM `data` is copied to SBUF first). `indices` must be uint32 and in range; the gather is
    always over all free dims of `data` flattened (as the 0.3.0 docs describe it), so `axis` is
    accepted and has no effect. The result has indices' shape and `dtype` (default data's)."""
    if indices.dtype != uint32:
        _errors.fail(_Invalid, f"nl.gather_flattened: indices: dtype must be uint32 (nisa.nc_n_gather),"
                               f" found {indices.dtype}")
    if data.buffer is psum:
        s = ndarray(data.shape, data.dtype, buffer=sbuf)
        _isa.tensor_copy(s, data)
        data = s
    out = ndarray(indices.shape, data.dtype, buffer=sbuf)
    _isa.nc_n_gather(out, data, indices)
    if dtype is not None and _dtypes.lookup(dtype) != data.dtype:
        c = ndarray(indices.shape, dtype, buffer=sbuf)
        _isa.tensor_copy(c, out)
        return c
    return out


# ---------------------------------------------------------------- not implemented yet
def _absent(fname):
    def f(*args, **kwargs):
        _errors.fail(_Unsupported, f"nl.{fname} is not implemented by nkisim yet")
    f.__name__ = f.__qualname__ = fname
    return f


# (a name defined earlier in this module is kept)
for _n in ["gather_flattened"]:
    if _n not in globals():
        globals()[_n] = _absent(_n)
del _n


# ---------------------------------------------------------------- random numbers (issue 10)
# (defined after the list above, so these replace its placeholders)
def random_seed(seed):
    """Seed the Vector engine's generators from a [1, 1] 32-bit tensor (nisa.set_rng_seed)."""
    _isa.set_rng_seed(seed)


def rand(shape, dtype, buffer=sbuf, name=""):
    """A new tensor of uniform values in [0, 1): nisa.rand2 on trn3; earlier targets draw 16
    random bits with nisa.rng (Vector engine) and scale them by 2^-16. HBM tensors are filled
    through an SBUF tile."""
    t = ndarray(shape, dtype, buffer=buffer, name=name)
    if is_hbm(buffer):
        tile = rand(t.shape, dtype, buffer=sbuf)
        _isa.dma_copy(t, tile)
        return t
    if _core.target_info(_core.current_target())["version"] >= 4:
        _isa.rand2(t, 0.0, 1.0)
    else:
        bits = ndarray(t.shape, uint16, buffer=sbuf)
        _isa.rng(bits, engine=_isa.engine.vector)
        _isa.tensor_scalar(t, bits, op0=multiply, operand0=1.0 / 65536.0)
    return t


def dropout(x, rate, dtype=None):
    """x with each element zeroed with probability `rate` (scalar or (P, 1) tile), nisa.dropout;
    cast to `dtype` afterwards when given."""
    t = ndarray(x.shape, x.dtype, buffer=x.buffer)
    _isa.dropout(t, x, rate)
    if dtype is None or _dtype(dtype, "dropout") == x.dtype:
        return t
    out = ndarray(x.shape, dtype, buffer=x.buffer)
    _isa.tensor_copy(out, t)
    return out


# nl.copy doubles as the identity activation.
_ops.register(globals())
