"""Peer `nki.language`: the subset the benchmark kernels use."""
import numpy as np

from .tensor import DynSlice, MemoryRegion, allocate

# buffers
sbuf = MemoryRegion.sbuf
psum = MemoryRegion.psum
private_hbm = hbm = MemoryRegion.private_hbm
shared_hbm = MemoryRegion.shared_hbm

# dtypes are plain strings in NKI 0.3.0
bool_, int8, int16, int32 = 'bool', 'int8', 'int16', 'int32'
uint8, uint16, uint32 = 'uint8', 'uint16', 'uint32'
float16, float32, bfloat16, tfloat32 = 'float16', 'float32', 'bfloat16', 'tfloat32'
float8_e4m3, float8_e4m3fn, float8_e5m2 = 'float8_e4m3', 'float8_e4m3fn', 'float8_e5m2'
float8_e5m2_x4, float8_e4m3fn_x4, float4_e2m1fn_x4 = 'float8_e5m2_x4', 'float8_e4m3fn_x4', 'float4_e2m1fn_x4'


class tile_size:
    pmax = 128
    psum_fmax = 512
    gemm_stationary_fmax = 128
    gemm_moving_fmax = 512
    bn_stats_fmax = 512
    psum_min_align = 4
    sbuf_min_align = 1
    total_available_sbuf_size = 245752


def ndarray(shape, dtype, buffer=MemoryRegion.sbuf, name='', address=None):
    return allocate(shape, dtype, buffer, name)


def zeros(shape, dtype, buffer=MemoryRegion.sbuf, name=''):
    return allocate(shape, dtype, buffer, name, fill=0)


def ds(start, size):
    return DynSlice(start, size)


def static_range(start, stop=None, step=1):
    return range(start, stop, step) if stop is not None else range(start)


affine_range = sequential_range = static_range


def dynamic_range(start, stop=None, step=1):
    """A dynamic loop: bounds are ints or registers; the induction variable is a register."""
    from .isa import VirtualRegister
    if stop is None:
        start, stop = 0, start
    lo = start.value if isinstance(start, VirtualRegister) else int(start)
    hi = stop.value if isinstance(stop, VirtualRegister) else int(stop)
    for v in range(lo, hi, step):
        yield VirtualRegister(v)


def program_id(axis=0):
    return 0


def num_programs(axes=0):
    return 1


# Operator identifiers. In NKI they double as tile-returning functions; the peer only needs
# them as identifiers, so each is a tiny object carrying the NumPy ufunc nisa uses.
class _Op:
    __slots__ = ('name', 'fn', 'unary')

    def __init__(self, name, fn, unary=False):
        self.name, self.fn, self.unary = name, fn, unary

    def __repr__(self):
        return f'nl.{self.name}'


def _rsqrt(x):
    r = np.sqrt(x)
    return np.divide(1.0, r, out=r)


add = _Op('add', np.add)
subtract = _Op('subtract', np.subtract)
multiply = _Op('multiply', np.multiply)
maximum = _Op('maximum', np.maximum)
minimum = _Op('minimum', np.minimum)
exp = _Op('exp', np.exp, True)
square = _Op('square', np.square, True)
rsqrt = _Op('rsqrt', _rsqrt, True)
reciprocal = _Op('reciprocal', np.reciprocal, True)
copy = _Op('copy', None, True)
greater = _Op('greater', np.greater)
greater_equal = _Op('greater_equal', np.greater_equal)
less = _Op('less', np.less)
less_equal = _Op('less_equal', np.less_equal)
equal = _Op('equal', np.equal)
