"""Tensors, buffers and dtypes of the NumPy-eager peer.

A peer tensor is a thin wrapper around a NumPy array *view*: SBUF/PSUM/HBM tiles are
plain arrays of their real storage dtype (ml_dtypes.bfloat16 for bf16, as AWS's
simulator does with NKI_PRECISE_FP=1). Indexing returns another wrapper around a NumPy
view, so instructions read and write the underlying storage directly.
"""
import enum

import ml_dtypes
import numpy as np


class MemoryRegion(enum.Enum):
    sbuf = 'sbuf'
    psum = 'psum'
    private_hbm = 'private_hbm'
    shared_hbm = 'shared_hbm'


ON_CHIP = (MemoryRegion.sbuf, MemoryRegion.psum)
HBM = (MemoryRegion.private_hbm, MemoryRegion.shared_hbm)

# dtype string (nl.*) -> NumPy scalar type used for storage
NP_DTYPES = {
    'bool': np.uint8, 'int8': np.int8, 'int16': np.int16, 'int32': np.int32,
    'uint8': np.uint8, 'uint16': np.uint16, 'uint32': np.uint32,
    'float16': np.float16, 'float32': np.float32, 'bfloat16': ml_dtypes.bfloat16,
    'tfloat32': np.float32, 'float8_e4m3': ml_dtypes.float8_e4m3,
    'float8_e4m3fn': ml_dtypes.float8_e4m3fn, 'float8_e5m2': ml_dtypes.float8_e5m2,
    # MX x4 containers (4 packed fp8 in a uint32, 4 packed fp4 in a uint16)
    'float8_e5m2_x4': np.uint32, 'float8_e4m3fn_x4': np.uint32, 'float4_e2m1fn_x4': np.uint16,
}
FLOAT_DTYPES = {'float16', 'float32', 'bfloat16', 'tfloat32', 'float8_e4m3', 'float8_e4m3fn',
                'float8_e5m2'}
PMAX = 128


class Stats:
    """Instruction counter (one per ISA call)."""
    instructions = 0


class DynSlice:
    """nl.ds(start, size)."""
    __slots__ = ('start', 'size')

    def __init__(self, start, size):
        self.start, self.size = int(start), int(size)


def _norm_index(key, shape, on_chip):
    if not isinstance(key, tuple):
        key = (key,)
    if any(k is Ellipsis for k in key):
        i = key.index(Ellipsis)
        key = key[:i] + (slice(None),) * (len(shape) - len(key) + 1) + key[i + 1:]
    if len(key) > len(shape):
        raise IndexError(f'too many indices ({len(key)}) for tensor of shape {shape}')
    out = []
    for d, k in enumerate(key):
        n = shape[d]
        if isinstance(k, DynSlice):
            if k.start < 0 or k.size < 1 or k.start + k.size > n:
                raise IndexError(f'ds({k.start}, {k.size}) out of bounds for dim {d} of size {n}')
            out.append(slice(k.start, k.start + k.size))
        elif isinstance(k, slice):
            if k.step is not None and k.step < 1:
                raise IndexError('slice step must be >= 1')
            if (k.stop is not None and k.stop > n) or (k.start is not None and not 0 <= k.start < n):
                raise IndexError(f'slice {k} out of bounds for dim {d} of size {n}')
            out.append(k)
        else:
            k = int(k)
            if not 0 <= k < n:
                raise IndexError(f'index {k} out of bounds for dim {d} of size {n}')
            # on-chip tiles keep their partition dim when indexed with an int
            out.append(slice(k, k + 1) if (on_chip and d == 0) else k)
    return tuple(out)


class Tensor:
    __slots__ = ('data', 'dtype', 'buffer', 'written', 'name')

    def __init__(self, data, dtype, buffer, written=None, name=''):
        self.data = data          # numpy view of the storage
        self.dtype = dtype        # nl dtype string
        self.buffer = buffer      # MemoryRegion
        self.written = written    # PSUM only: bool array, "written by a matmul" per element
        self.name = name

    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)

    def __getitem__(self, key):
        idx = _norm_index(key, self.data.shape, self.buffer in ON_CHIP)
        w = None if self.written is None else self.written[idx]
        return Tensor(self.data[idx], self.dtype, self.buffer, w, self.name)

    def reshape(self, *shape):
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        if int(np.prod(shape)) != self.data.size:
            raise ValueError(f'cannot reshape {self.shape} to {shape}')
        w = None if self.written is None else self.written.reshape(shape)
        return Tensor(self.data.reshape(shape), self.dtype, self.buffer, w, self.name)

    def ap(self, pattern, offset=0, scalar_offset=None, vector_offset=None, indirect_dim=0,
           dtype=None):
        """Explicit access pattern [[step, num], ...] over this (contiguous) tensor; a
        scalar_offset (a register or a [1, 1] int tile) moves the start by value *
        prod(shape[indirect_dim + 1:]). Resolved eagerly, bounds-checked."""
        if vector_offset is not None or dtype is not None:
            raise NotImplementedError('peer .ap(): vector_offset and dtype are not supported')
        base = self.data.reshape(-1)
        if scalar_offset is not None:
            v = scalar_offset.value if hasattr(scalar_offset, 'value') else \
                int(scalar_offset.data.reshape(-1)[0])
            offset += int(v) * int(np.prod(self.data.shape[indirect_dim + 1:]))
        hi = offset + sum((int(n) - 1) * int(st) for st, n in pattern)
        if offset < 0 or hi >= base.size:
            raise IndexError(f'.ap() reaches elements [{offset}, {hi}] of {base.size}')
        view = np.lib.stride_tricks.as_strided(
            base[offset:], shape=[int(n) for _, n in pattern],
            strides=[int(st) * base.itemsize for st, _ in pattern])
        return Tensor(view, self.dtype, self.buffer, None, self.name)

    def f32(self):
        """The values as float32 (no copy when already float32)."""
        d = self.data
        return d if d.dtype == np.float32 else d.astype(np.float32)

    def __repr__(self):
        return f'PeerTensor({self.shape}, {self.dtype}, {self.buffer.name})'


def allocate(shape, dtype, buffer, name='', fill=None):
    """New tensor; uninitialised memory is NaN (floats) or 4 (ints), as the AWS simulator does."""
    if not isinstance(buffer, MemoryRegion):
        raise TypeError(f'buffer must be a MemoryRegion (nl.sbuf, nl.psum, ...), got {buffer!r}')
    if dtype not in NP_DTYPES:
        raise TypeError(f'unsupported dtype {dtype!r}')
    shape = tuple(int(s) for s in shape)
    if buffer in ON_CHIP:
        if len(shape) < 2 or not 1 <= shape[0] <= PMAX:
            raise ValueError(f'on-chip tensor {shape}: partition dim must be 1..{PMAX} and ndim >= 2')
        if buffer is MemoryRegion.psum and int(np.prod(shape[1:])) * 4 > 16384:
            raise ValueError(f'PSUM tensor {shape} exceeds 16 KiB per partition')
    if fill is None:
        fill = np.nan if dtype in FLOAT_DTYPES else 4
    data = np.full(shape, fill, dtype=NP_DTYPES[dtype])
    written = np.zeros(shape, dtype=bool) if buffer is MemoryRegion.psum else None
    return Tensor(data, dtype, buffer, written, name)


def wrap_input(arr):
    """A kernel argument: an HBM tensor aliasing the caller's array (in-place updates visible)."""
    dtype = str(arr.dtype)
    if dtype not in NP_DTYPES:
        raise TypeError(f'unsupported input dtype {arr.dtype}')
    return Tensor(arr, dtype, MemoryRegion.private_hbm)
