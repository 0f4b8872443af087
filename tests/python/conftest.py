"""Shared fixtures and helpers for the nki (nkisim) Python test suite.

Every test runs kernels through ``nki.simulate``. References are written independently from the
documented math with numpy (never by calling nki): engines compute in float32 and round once to
the destination dtype, so a reference is ``f(x.astype(float32)).astype(dst_dtype)``; float ->
integer conversions round half to even and saturate (see ``cast``).
"""
import contextlib

import ml_dtypes
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl

BF16 = np.dtype(ml_dtypes.bfloat16)
FP8_E4M3 = np.dtype(ml_dtypes.float8_e4m3)
FP8_E5M2 = np.dtype(ml_dtypes.float8_e5m2)
F32 = np.dtype(np.float32)
F16 = np.dtype(np.float16)
I32 = np.dtype(np.int32)

FLOAT_DTYPES = [F32, BF16, F16]
# numpy dtype -> nl dtype
NL = {F32: nl.float32, BF16: nl.bfloat16, F16: nl.float16, I32: nl.int32,
      np.dtype(np.int8): nl.int8, np.dtype(np.int16): nl.int16, np.dtype(np.uint8): nl.uint8,
      np.dtype(np.uint16): nl.uint16, np.dtype(np.uint32): nl.uint32,
      FP8_E4M3: nl.float8_e4m3, FP8_E5M2: nl.float8_e5m2}

TARGET_ENV = "NEURON_PLATFORM_TARGET_OVERRIDE"


def dtype_id(d):
    """A short id for parametrised dtypes."""
    return np.dtype(d).name


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    """Every test starts on the default target (trn3), without NKI_SIMULATOR and with the
    default precision; tests that need a target set it with the set_target fixture."""
    for var in (TARGET_ENV, "NKI_SIMULATOR", "NKI_PRECISE_FP"):
        monkeypatch.delenv(var, raising=False)
    yield


@pytest.fixture
def rng():
    """A numpy Generator with a fixed seed."""
    return np.random.default_rng(20240531)


@pytest.fixture
def set_target(monkeypatch):
    """set_target('trn1' | 'trn2' | 'trn3' | None): the target override for this test."""
    def _set(name):
        if name is None:
            monkeypatch.delenv(TARGET_ENV, raising=False)
        else:
            monkeypatch.setenv(TARGET_ENV, name)
    return _set


# ---------------------------------------------------------------- numeric references
def cast(x, dtype):
    """Round float values once to `dtype` as the engines do: floats round to nearest even,
    integers round half to even and saturate (NaN -> 0)."""
    dtype = np.dtype(dtype)
    x = np.asarray(x)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        f = np.asarray(x, dtype=np.float64)
        f = np.where(np.isnan(f), 0.0, np.rint(f))
        return np.clip(f, info.min, info.max).astype(dtype)
    if x.dtype == np.float64:
        x = x.astype(np.float32)  # the engines are float32: round there first
    return x.astype(dtype)


def f32(x):
    return np.asarray(x).astype(np.float32)


def random(rng, shape, dtype, lo=-4.0, hi=4.0):
    """Random values exactly representable in `dtype`."""
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, int(lo)), min(info.max, int(hi)) + 1, size=shape,
                            dtype=np.int64).astype(dtype)
    return rng.uniform(lo, hi, size=shape).astype(np.float32).astype(dtype)


def assert_equal(actual, expected):
    """Same dtype, same shape, bit-identical values (NaN == NaN)."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.dtype == expected.dtype, f"dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    if actual.dtype.kind == "V" or actual.dtype in (BF16, FP8_E4M3, FP8_E5M2) or \
            actual.dtype.kind == "f":
        a = actual.astype(np.float64)
        e = expected.astype(np.float64)
        np.testing.assert_array_equal(a, e)
        # -0.0 vs 0.0 and NaN placement are covered by comparing bits as well
        np.testing.assert_array_equal(np.isnan(a), np.isnan(e))
    else:
        np.testing.assert_array_equal(actual, expected)


def assert_close(actual, expected, rtol=1e-5, atol=1e-6):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual.astype(np.float64), expected.astype(np.float64),
                               rtol=rtol, atol=atol)


def ulp_tol(dtype):
    """Relative tolerance of one unit in the last place of `dtype` (for transcendental ops)."""
    dtype = np.dtype(dtype)
    return {F32: 2e-6, BF16: 2.0 ** -7, F16: 2.0 ** -10}.get(dtype, 0.0)


# ---------------------------------------------------------------- kernel helpers
def tiles_held_at_once(n, cols, op, value_of):
    """A kernel(x) that keeps n fp32 SBUF tiles of (128, cols) referenced at once and, one after
    the other, writes t[:, 0:w] = x op value_of(i) into each and copies it out: out[i] (w = x's
    width). With large tiles some of them cannot be in the map at the same time."""
    @nki.jit
    def kernel(x):
        out = nl.ndarray((n,) + tuple(x.shape), dtype=x.dtype, buffer=nl.shared_hbm)
        xs = load(x)
        w = x.shape[1]
        ts = [sbuf((128, cols), nl.float32) for _ in range(n)]
        for i, t in enumerate(ts):
            nisa.tensor_scalar(t[:, 0:w], xs, op, value_of(i))
            nisa.dma_copy(out[i], t[:, 0:w])
        return out
    return kernel


def load(hbm, dtype=None):
    """A new SBUF tile holding the HBM tensor `hbm` (dma_copy), optionally cast."""
    t = nl.ndarray(hbm.shape, dtype=dtype or hbm.dtype, buffer=nl.sbuf)
    nisa.dma_copy(t, hbm)
    return t


def store(tile):
    """A new shared_hbm output holding `tile` (PSUM tiles are evicted to SBUF first)."""
    if tile.buffer == nl.psum:
        s = nl.ndarray(tile.shape, dtype=tile.dtype, buffer=nl.sbuf)
        nisa.tensor_copy(s, tile)
        tile = s
    out = nl.ndarray(tile.shape, dtype=tile.dtype, buffer=nl.shared_hbm)
    nisa.dma_copy(out, tile)
    return out


def run(body, *arrays, **kwargs):
    """Run ``body(*tiles, **kwargs)`` inside a kernel on the simulator.

    Each numpy array argument is loaded into an SBUF tile of the same shape and dtype (so its
    first dim must be <= 128); other arguments are passed as they are. ``body`` returns a tile
    (SBUF or PSUM) or a tuple of tiles; each is stored to a shared_hbm output and comes back as a
    numpy array.
    """
    def kernel(*args):
        tiles = [load(a) if isinstance(a, nl.NkiTensor) else a for a in args]
        res = body(*tiles, **kwargs)
        if isinstance(res, (tuple, list)):
            return tuple(store(r) for r in res)
        return store(res)
    kernel.__name__ = getattr(body, "__name__", "kernel")
    return nki.simulate(kernel)(*arrays)


def sbuf(shape, dtype):
    return nl.ndarray(shape, dtype=dtype, buffer=nl.sbuf)


def psum(shape, dtype=nl.float32):
    return nl.ndarray(shape, dtype=dtype, buffer=nl.psum)


def sanity_check():
    """A small kernel that must still work (the process survived an earlier error)."""
    a = np.arange(12, dtype=np.float32).reshape(3, 4)

    def body(t):
        o = sbuf(t.shape, nl.float32)
        nisa.tensor_scalar(o, t, nl.add, 1.0)
        return o
    out = run(body, a)
    np.testing.assert_array_equal(out, a + 1)
    assert not nki._core.has_current()


def release_frames(exc):
    """Clear the frames of `exc`'s traceback, innermost first.

    A traceback releases the launch frame (which owns the interpreter) before the kernel frame
    (which owns the tiles). nkisim once corrupted its heap in that order (regression test:
    test_errors.py::test_live_tiles_after_a_failed_launch_do_not_corrupt_the_heap); releasing
    inner frames first keeps the rest of the suite independent of that.
    """
    tb = exc.__traceback__
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for f in reversed(frames):
        try:
            f.clear()
        except RuntimeError:  # a frame that is still running (the test itself)
            pass


@contextlib.contextmanager
def kernel_raises(exc, match=None):
    """pytest.raises for errors raised inside a running kernel (see release_frames)."""
    with pytest.raises(exc, match=match) as ei:
        yield ei
    release_frames(ei.value)


def check_partial_write(writer, *arrays, dtype=nl.float32, buffer=nl.sbuf, shape=(128, 16)):
    """`writer(view, *tiles)` writes the left half of a fresh (P, F) tile; the right half must
    still hold the dtype's sentinel (NaN, or 4 for integers) when read back, also right after a
    launch that left other values in the same on-chip bytes. Returns the written half."""
    half = shape[1] // 2
    is_int = np.dtype(dtype.numpy).kind in "iu"

    def dirty():
        t = nl.ndarray(shape, dtype=dtype, buffer=buffer)
        nisa.memset(t, 0)
        return store(t)

    def kernel(*args):
        t = nl.ndarray(shape, dtype=dtype, buffer=buffer)  # first: the bytes dirty() wrote
        tiles = [load(a) for a in args]
        writer(t[:, 0:half], *tiles)
        return store(t)
    for _ in range(2):
        assert (nki.simulate(dirty)() == 0).all()
        out = nki.simulate(kernel)(*arrays)
        right = out[:, half:]
        if is_int:
            assert (right == 4).all(), right
        else:
            assert np.isnan(right.astype(np.float32)).all(), right
    return out[:, :half]


def check_fresh_read(reader, dtype=nl.float32, buffer=nl.sbuf, shape=(128, 8)):
    """`reader(tile)` reads a never-written tile and returns a result tile; returns the results
    of two launches, each right after a launch that wrote zeros into the same on-chip bytes (so
    stale data would show instead of the sentinels)."""
    def dirty():
        t = nl.ndarray(shape, dtype=dtype, buffer=buffer)
        nisa.memset(t, 0)
        return store(t)

    def kernel():
        t = nl.ndarray(shape, dtype=dtype, buffer=buffer)  # never written
        return store(reader(t))
    outs = []
    for _ in range(2):
        assert (nki.simulate(dirty)() == 0).all()
        outs.append(nki.simulate(kernel)())
    return outs


def all_nan(x):
    return bool(np.isnan(np.asarray(x).astype(np.float32)).all())
