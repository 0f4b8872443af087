"""NKI dtypes: plain strings in 0.3.0 that also compare equal to the matching numpy/ml_dtypes type."""
import numpy as np

try:
    import ml_dtypes as _ml
except ImportError:  # pragma: no cover - ml_dtypes is a declared dependency
    _ml = None


class NkiDType(str):
    """A dtype name such as 'bfloat16'. Equal to its string and to the numpy/ml_dtypes dtype."""

    __slots__ = ()

    def __eq__(self, other):
        if isinstance(other, str):
            return str.__eq__(self, _ALIASES.get(other, other))
        try:
            return lookup(other) is self
        except (TypeError, ValueError):
            return NotImplemented

    def __ne__(self, other):
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    __hash__ = str.__hash__

    def __repr__(self):
        return f"nl.{self if self != 'bool' else 'bool_'}"

    @property
    def itemsize(self):
        return _SIZE[self]

    @property
    def numpy(self):
        """The numpy dtype used for host arrays of this dtype."""
        return _NUMPY[self]


# Order = nkisim::DType ids.
NAMES = ["bool", "int8", "int16", "int32", "uint8", "uint16", "uint32", "float16", "float32",
         "bfloat16", "tfloat32", "float8_e4m3", "float8_e4m3fn", "float8_e5m2", "float8_e5m2_x4",
         "float8_e4m3fn_x4", "float4_e2m1fn_x4"]
_ALIASES = {"bool_": "bool"}
ALL = [NkiDType(n) for n in NAMES]
BY_NAME = {d: d for d in ALL}
BY_NAME["bool_"] = BY_NAME["bool"]
ID = {d: i for i, d in enumerate(ALL)}
_SIZE = dict(zip(ALL, [1, 1, 2, 4, 1, 2, 4, 2, 4, 2, 4, 1, 1, 1, 4, 4, 2]))


def _np_types():
    m = {
        "bool": np.dtype(np.bool_), "int8": np.dtype(np.int8), "int16": np.dtype(np.int16),
        "int32": np.dtype(np.int32), "uint8": np.dtype(np.uint8), "uint16": np.dtype(np.uint16),
        "uint32": np.dtype(np.uint32), "float16": np.dtype(np.float16),
        "float32": np.dtype(np.float32), "tfloat32": np.dtype(np.float32),
        "float8_e5m2_x4": np.dtype(np.uint32), "float8_e4m3fn_x4": np.dtype(np.uint32),
        "float4_e2m1fn_x4": np.dtype(np.uint16),
    }
    if _ml is not None:
        m["bfloat16"] = np.dtype(_ml.bfloat16)
        m["float8_e4m3"] = np.dtype(_ml.float8_e4m3)
        m["float8_e4m3fn"] = np.dtype(_ml.float8_e4m3fn)
        m["float8_e5m2"] = np.dtype(_ml.float8_e5m2)
    return {BY_NAME[k]: v for k, v in m.items()}


_NUMPY = _np_types()
# numpy dtype -> nki dtype (tfloat32 and the packed types have no numpy type of their own).
_FROM_NUMPY = {}
for _d, _n in _NUMPY.items():
    if _d in ("tfloat32", "float8_e5m2_x4", "float8_e4m3fn_x4", "float4_e2m1fn_x4"):
        continue
    _FROM_NUMPY[_n] = _d
_CACHE = {}


def lookup(x):
    """nki dtype for an nl dtype, a dtype name, a numpy dtype or type, or a torch dtype."""
    try:
        return _CACHE[x]
    except (KeyError, TypeError):
        pass
    if isinstance(x, str):
        d = BY_NAME.get(x)
        if d is None:
            raise ValueError(f"unknown dtype {x!r}; expected one of {', '.join(NAMES)}")
    elif type(x).__module__.startswith("torch"):
        d = lookup(str(x).replace("torch.", ""))
    else:
        try:
            npd = np.dtype(x)
        except TypeError:
            raise TypeError(f"{x!r} is not a dtype") from None
        d = _FROM_NUMPY.get(npd)
        if d is None:
            raise ValueError(f"numpy dtype {npd} has no NKI equivalent; supported: "
                             f"{', '.join(str(k) for k in _FROM_NUMPY)}")
    try:
        _CACHE[x] = d
    except TypeError:
        pass
    return d


def numpy_dtype(d):
    return _NUMPY[lookup(d)]
