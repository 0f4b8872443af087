"""Stand-in for AWS's internal `neuron_dtypes` package, built on ml_dtypes.

Registered as `neuron_dtypes` by nki.testing.nkilib only when the real package is not
installed. It provides what nki-library's tests use: the dtype names, `static_cast`,
`is_float_type`, `sizeinbytes` and `finfo`.

Packed MX dtypes (`float8_e5m2_x4`, `float8_e4m3fn_x4`, `float4_e2m1fn_x4`) hold four elements
in one word, as NKI does: an x4 array is a uint32 (fp8) or uint16 (fp4) array whose last dimension
is a quarter of the logical one, element 4*i+j in byte (fp8) or nibble (fp4) j of word i (little
end first). Such arrays carry their dtype name in the numpy dtype's metadata so that
`static_cast(x4_array, np.float32)` unpacks them again.
"""
import numpy as np
import ml_dtypes as _ml

from .. import _dtypes

bfloat16 = np.dtype(_ml.bfloat16)
float8_e4m3 = np.dtype(_ml.float8_e4m3)
float8_e4m3fn = np.dtype(_ml.float8_e4m3fn)
float8_e5m2 = np.dtype(_ml.float8_e5m2)
float4_e2m1fn = np.dtype(_ml.float4_e2m1fn)
float32, float16, float64 = np.dtype(np.float32), np.dtype(np.float16), np.dtype(np.float64)
int8, int16, int32, int64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
bool_ = np.dtype(np.bool_)
tfloat32 = np.dtype(np.float32)

# name -> (element dtype, storage word)
_X4 = {
    "float8_e5m2_x4": (float8_e5m2, np.dtype(np.uint32)),
    "float8_e4m3fn_x4": (float8_e4m3fn, np.dtype(np.uint32)),
    "float4_e2m1fn_x4": (float4_e2m1fn, np.dtype(np.uint16)),
}
float8_e5m2_x4, float8_e4m3fn_x4, float4_e2m1fn_x4 = (
    np.dtype(word, metadata={"neuron_dtype": name}) for name, (_, word) in _X4.items())


def _name(dtype):
    """Canonical name of a dtype given as an nl dtype, a name, a numpy dtype/type or a torch dtype."""
    if isinstance(dtype, str):
        return str(_dtypes.lookup(dtype)) if dtype in _dtypes.BY_NAME else dtype
    if type(dtype).__module__.startswith("torch"):
        return str(dtype).replace("torch.", "")
    d = np.dtype(dtype)
    if d.metadata and "neuron_dtype" in d.metadata:
        return d.metadata["neuron_dtype"]
    return d.name


def _numpy(name):
    if name in _X4:
        return globals()[name]
    if name == "bool":
        return bool_
    if name == "tfloat32":
        return float32
    return np.dtype(globals()[name]) if name in globals() else np.dtype(name)


def _pack(arr, name):
    elem, word = _X4[name]
    if arr.shape[-1] % 4:
        raise ValueError(f"static_cast to {name}: the last dimension ({arr.shape[-1]}) must be a "
                         "multiple of 4")
    bits = arr.astype(np.float32).astype(elem).view(np.uint8).astype(np.uint32)
    if name == "float4_e2m1fn_x4":
        bits &= 0xF
    bits = bits.reshape(*arr.shape[:-1], arr.shape[-1] // 4, 4)
    shift = 4 if name == "float4_e2m1fn_x4" else 8
    packed = np.zeros(bits.shape[:-1], np.uint32)
    for j in range(4):
        packed |= bits[..., j] << (shift * j)
    return packed.astype(word).view(_numpy(name))


def _unpack(arr, name):
    elem, _ = _X4[name]
    shift, mask = (4, 0xF) if name == "float4_e2m1fn_x4" else (8, 0xFF)
    words = arr.view(arr.dtype.newbyteorder("=")).astype(np.uint32)
    parts = [((words >> (shift * j)) & mask).astype(np.uint8) for j in range(4)]
    bits = np.stack(parts, axis=-1).reshape(*arr.shape[:-1], arr.shape[-1] * 4)
    return bits.view(elem).astype(np.float32)


def static_cast(data, dtype):
    """`data` converted to `dtype` (round to nearest even; x4 dtypes pack/unpack 4 elements)."""
    arr = np.asarray(data)
    src, dst = _name(arr.dtype), _name(dtype)
    if src in _X4:
        if dst == src:
            return arr
        arr = _unpack(arr, src)
    if dst in _X4:
        return _pack(arr, dst)
    target = _numpy(dst)
    if (arr.dtype.kind == "V" and target.kind in "iub") or (arr.dtype.kind in "iub" and
                                                           target.kind == "V"):
        arr = arr.astype(np.float32)  # ml_dtypes casts to and from integers through float32
    return arr.astype(target)


def is_float_type(dtype):
    """True for floating-point dtypes (including bfloat16, fp8, tfloat32 and the x4 MX dtypes)."""
    name = _name(dtype)
    return name in _X4 or "float" in name


def sizeinbytes(dtype):
    """Bytes per element of `dtype` (an x4 dtype counts its storage word)."""
    name = _name(dtype)
    if name in _X4:
        return _X4[name][1].itemsize
    return _numpy(name).itemsize


def finfo(dtype):
    """Floating-point limits (ml_dtypes.finfo); an x4 dtype gives its element type's limits."""
    name = _name(dtype)
    if name in _X4:
        return _ml.finfo(_X4[name][0])
    return _ml.finfo(_numpy(name))


def iinfo(dtype):
    return _ml.iinfo(_numpy(_name(dtype)))
