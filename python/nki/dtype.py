"""nki.dtype: the NKI dtypes as a namespace (`import nki.dtype as nt; nt.float8_e4m3`).

The module also serves as the type of a dtype: `dtype: nki.dtype = nl.bfloat16` annotates a
parameter, and `isinstance(nl.bfloat16, nki.dtype)` is True. The members are the nl dtypes
themselves (`nki.dtype.bfloat16 is nl.bfloat16`).
"""
import sys as _sys
import types as _types

from . import _dtypes

(bool_, int8, int16, int32, uint8, uint16, uint32, float16, float32, bfloat16, tfloat32,
 float8_e4m3, float8_e4m3fn, float8_e5m2, float8_e5m2_x4, float8_e4m3fn_x4,
 float4_e2m1fn_x4) = _dtypes.ALL
bool = bool_  # noqa: A001

__all__ = list(_dtypes.NAMES[1:]) + ["bool_"]


class _DTypeModule(_types.ModuleType):
    """Module type that makes `isinstance(x, nki.dtype)` test for an NKI dtype."""

    def __instancecheck__(self, obj):
        return isinstance(obj, _dtypes.NkiDType)


_sys.modules[__name__].__class__ = _DTypeModule
