"""nisa.dma_copy: dst = src between HBM and SBUF (any direction); elements matched in row-major
order of each view; different dtypes convert src -> float32 -> dst; hwdge needs equal dtypes."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import (BF16, F16, F32, FP8_E4M3, FP8_E5M2, I32, NL, assert_equal, cast, dtype_id,
                      random, sbuf)
from conftest import all_nan, check_fresh_read, check_partial_write

ALL_DTYPES = [F32, BF16, F16, I32, np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.int16),
              np.dtype(np.uint32), FP8_E4M3, FP8_E5M2]


def roundtrip(a, mid_dtype=None, out_dtype=None):
    """HBM -> SBUF (mid_dtype) -> HBM (out_dtype), all with dma_copy."""
    def kernel(x):
        t = nl.ndarray(x.shape, dtype=mid_dtype or x.dtype, buffer=nl.sbuf)
        nisa.dma_copy(t, x)
        out = nl.ndarray(x.shape, dtype=out_dtype or t.dtype, buffer=nl.shared_hbm)
        nisa.dma_copy(out, t)
        return out
    return nki.simulate(kernel)(a)


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (128, 4), (64, 2, 3), (2, 2, 2, 3)])
def test_roundtrip_same_dtype_is_exact(rng, dtype, shape):
    a = random(rng, shape, dtype, lo=-100, hi=100)
    out = roundtrip(a)
    assert_equal(out, a)


def test_roundtrip_preserves_bit_patterns(rng):
    # Equal dtypes move bytes: NaN payloads, infinities and -0.0 survive unchanged.
    bits = rng.integers(0, 2 ** 32, size=(16, 8), dtype=np.uint64).astype(np.uint32)
    bits[0, :4] = [0x7FC00001, 0xFF800000, 0x80000000, 0x7F800000]
    a = bits.view(np.float32)
    out = roundtrip(a)
    np.testing.assert_array_equal(out.view(np.uint32), bits)


@pytest.mark.parametrize("src,dst", [(F32, BF16), (F32, F16), (BF16, F32), (F16, BF16),
                                     (F32, FP8_E4M3), (F32, FP8_E5M2), (FP8_E4M3, F32),
                                     (I32, F32), (F32, I32), (BF16, I32), (I32, BF16),
                                     (np.dtype(np.int8), F32), (F32, np.dtype(np.uint8))],
                         ids=lambda d: dtype_id(d))
def test_dtype_conversion_hbm_to_sbuf(rng, src, dst):
    a = random(rng, (32, 12), src, lo=-60, hi=250 if np.dtype(src).kind == "f" else 100)
    if np.dtype(src).kind == "f":
        a.flat[:4] = np.array([0.5, 1.5, 2.5, -2.5], dtype=np.float32).astype(src)  # ties
    out = roundtrip(a, mid_dtype=NL[np.dtype(dst)])
    assert_equal(out, cast(a.astype(np.float32), dst))


def test_dtype_conversion_sbuf_to_hbm(rng):
    a = random(rng, (8, 16), F32, lo=-10, hi=10)
    out = roundtrip(a, out_dtype=nl.bfloat16)
    assert_equal(out, a.astype(BF16))


def test_float_to_int_rounds_half_even_and_saturates():
    a = np.array([[0.5, 1.5, 2.5, -0.5, -1.5, 3.7, -3.7, 1e10, -1e10, np.nan]], dtype=np.float32)
    out = roundtrip(a, mid_dtype=nl.int32)
    assert_equal(out, np.array([[0, 2, 2, 0, -2, 4, -4, 2 ** 31 - 1, -2 ** 31, 0]], dtype=np.int32))
    out8 = roundtrip(a, mid_dtype=nl.uint8)
    assert_equal(out8, np.array([[0, 2, 2, 0, 0, 4, 0, 255, 0, 0]], dtype=np.uint8))


def test_int32_to_float32_rounds_through_float32():
    a = np.array([[2 ** 24 + 1, 2 ** 24 + 3, -(2 ** 30) - 1, 7]], dtype=np.int32)
    out = roundtrip(a, mid_dtype=nl.float32)
    assert_equal(out, a.astype(np.float32))


def test_hbm_to_hbm_with_different_shapes_equal_count(rng):
    a = random(rng, (4, 6), F32)

    def kernel(x):
        out = nl.ndarray((8, 3), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, x)
        return out
    assert_equal(nki.simulate(kernel)(a), a.reshape(8, 3))


def test_hbm_to_sbuf_with_different_shapes_equal_count(rng):
    # Elements are matched in row-major order of each view: (2, 64) -> SBUF (8, 16).
    a = random(rng, (2, 64), F32)

    def kernel(x):
        t = sbuf((8, 16), nl.float32)
        nisa.dma_copy(t, x)
        out = nl.ndarray((8, 16), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, t)
        return out
    assert_equal(nki.simulate(kernel)(a), a.reshape(8, 16))


def test_sbuf_to_sbuf_with_free_reshape(rng):
    a = random(rng, (16, 4, 6), BF16)

    def kernel(x):
        t = sbuf((16, 4, 6), nl.bfloat16)
        nisa.dma_copy(t, x)
        u = sbuf((16, 24), nl.float32)
        nisa.dma_copy(u, t)  # SBUF -> SBUF with a cast and another free shape
        out = nl.ndarray((16, 24), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, u)
        return out
    assert_equal(nki.simulate(kernel)(a), a.reshape(16, 24).astype(np.float32))


def test_strided_hbm_source_and_partition_offset_destination(rng):
    a = random(rng, (32, 16), F32)

    def kernel(x):
        t = sbuf((128, 8), nl.float32)
        nisa.memset(t, 0.0)
        nisa.dma_copy(t[64:96, :], x[:, ::2])  # every other column into partitions 64..95
        out = nl.ndarray((128, 8), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, t)
        return out
    out = nki.simulate(kernel)(a)
    expected = np.zeros((128, 8), np.float32)
    expected[64:96] = a[:, ::2]
    assert_equal(out, expected)


def test_sliced_views_on_both_sides(rng):
    a = random(rng, (64, 32), I32, lo=-1000, hi=1000)

    def kernel(x):
        t = sbuf((64, 32), nl.int32)
        nisa.dma_copy(t, x)
        out = nl.ndarray((40, 10), dtype=nl.int32, buffer=nl.shared_hbm)
        nisa.dma_copy(out[0:20, :], t[32:52, 3:13])
        nisa.dma_copy(out[20:40, :], t[0:20, 0:30:3])
        return out
    out = nki.simulate(kernel)(a)
    assert_equal(out, np.concatenate([a[32:52, 3:13], a[0:20, 0:30:3]]))


def test_nl_ds_slices(rng):
    a = random(rng, (64, 16), F32)

    def kernel(x):
        t = sbuf((32, 4), nl.float32)
        nisa.dma_copy(t, x[nl.ds(16, 32), nl.ds(8, 4)])
        out = nl.ndarray((32, 4), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, t)
        return out
    assert_equal(nki.simulate(kernel)(a), a[16:48, 8:12])


def test_int_index_on_hbm_removes_dim(rng):
    a = random(rng, (3, 8, 5), F32)

    def kernel(x):
        v = x[1]
        assert tuple(v.shape) == (8, 5)
        out = nl.ndarray((8, 5), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, v)
        return out
    assert_equal(nki.simulate(kernel)(a), a[1])


@pytest.mark.parametrize("dtype,sentinel", [(nl.float32, np.nan), (nl.bfloat16, np.nan),
                                            (nl.float16, np.nan), (nl.int32, 4),
                                            (nl.uint8, 4), (nl.int16, 4)])
def test_fresh_sbuf_tile_holds_sentinels(dtype, sentinel):
    def kernel():
        t = nl.ndarray((128, 6), dtype=dtype, buffer=nl.sbuf)
        out = nl.ndarray((128, 6), dtype=dtype, buffer=nl.shared_hbm)
        nisa.dma_copy(out, t)
        return out
    out = nki.simulate(kernel)()
    assert out.dtype == dtype.numpy
    if np.isnan(sentinel):
        assert np.isnan(out.astype(np.float32)).all()
    else:
        assert (out == sentinel).all()


def test_unwritten_part_of_output_is_nan(rng):
    a = random(rng, (4, 8), F32)

    def kernel(x):
        out = nl.ndarray((8, 8), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out[0:4, :], x)
        return out
    out = nki.simulate(kernel)(a)
    assert_equal(out[0:4], a)
    assert np.isnan(out[4:]).all()


@pytest.mark.parametrize("target", ["trn2", "trn3"])
def test_hwdge_equal_dtypes(rng, set_target, target):
    set_target(target)
    a = random(rng, (16, 8), BF16)

    def kernel(x):
        t = sbuf((16, 8), nl.bfloat16)
        nisa.dma_copy(t, x, dge_mode=nisa.dge_mode.hwdge, engine=nisa.engine.sync)
        out = nl.ndarray((16, 8), dtype=nl.bfloat16, buffer=nl.shared_hbm)
        nisa.dma_copy(out, t, dge_mode=nisa.dge_mode.hwdge, engine=nisa.engine.scalar)
        return out
    assert_equal(nki.simulate(kernel)(a), a)


@pytest.mark.parametrize("mode", [nisa.dge_mode.swdge, nisa.dge_mode.none,
                                  nisa.dge_mode.unknown])
def test_other_dge_modes_cast(rng, mode):
    a = random(rng, (16, 8), F32)

    def kernel(x):
        t = sbuf((16, 8), nl.bfloat16)
        nisa.dma_copy(t, x, dge_mode=mode, oob_mode=nisa.oob_mode.error)
        out = nl.ndarray((16, 8), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, t, dge_mode=mode)
        return out
    assert_equal(nki.simulate(kernel)(a), a.astype(BF16).astype(np.float32))


def test_view_reinterprets_bits(rng):
    # .view() on an HBM argument reinterprets the stored bits (same element size).
    a = random(rng, (8, 4), F32)

    def kernel(x):
        out = nl.ndarray((8, 4), dtype=nl.int32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, x.view(nl.int32), dge_mode=nisa.dge_mode.hwdge)
        return out
    assert_equal(nki.simulate(kernel)(a), a.view(np.int32))


def test_packed_x4_dtype_moves_bytes(rng):
    # x4 data can only come from HBM via dma_copy; equal dtypes copy raw bytes.
    bits = rng.integers(0, 2 ** 32, size=(4, 8), dtype=np.uint64).astype(np.uint32)

    def kernel(x):
        t = sbuf((4, 8), nl.float8_e4m3fn_x4)
        nisa.dma_copy(t, x.view(nl.float8_e4m3fn_x4))
        out = nl.ndarray((4, 8), dtype=nl.uint32, buffer=nl.shared_hbm)
        nisa.dma_copy(out.view(nl.float8_e4m3fn_x4), t)
        return out
    assert_equal(nki.simulate(kernel)(bits), bits)


def test_dma_into_input_argument_updates_it_in_place(rng):
    a = random(rng, (8, 8), F32)
    b = np.zeros((8, 8), np.float32)

    def kernel(x, y):
        t = sbuf((8, 8), nl.float32)
        nisa.dma_copy(t, x)
        nisa.dma_copy(y, t)
    assert nki.simulate(kernel)(a, b) is None
    assert_equal(b, a)


@pytest.mark.parametrize("dtype", [nl.float8_e4m3, nl.float8_e4m3fn, nl.float8_e5m2])
def test_fresh_fp8_tiles_hold_nan(dtype):
    def kernel():
        t = nl.ndarray((4, 4), dtype=dtype, buffer=nl.sbuf)
        out = nl.ndarray((4, 4), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, t)
        return out
    assert np.isnan(nki.simulate(kernel)()).all()


def test_fresh_shared_hbm_and_private_hbm_hold_sentinels():
    def kernel():
        h = nl.ndarray((4, 4), dtype=nl.int32, buffer=nl.hbm)
        t = sbuf((4, 4), nl.int32)
        nisa.dma_copy(t, h)  # HBM -> SBUF keeps the sentinel
        out_i = nl.ndarray((4, 4), dtype=nl.int32, buffer=nl.shared_hbm)
        nisa.dma_copy(out_i, t)
        out_f = nl.ndarray((4, 4), dtype=nl.bfloat16, buffer=nl.shared_hbm)
        return out_i, out_f
    out_i, out_f = nki.simulate(kernel)()
    assert (out_i == 4).all()
    assert np.isnan(out_f.astype(np.float32)).all()


def test_one_dimensional_hbm_arguments(rng):
    a = random(rng, (256,), F32)

    def kernel(x):
        t = sbuf((2, 128), nl.float32)
        nisa.dma_copy(t, x.reshape((2, 128)))
        out = nl.ndarray((256,), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, t)
        return out
    assert_equal(nki.simulate(kernel)(a), a)


def _random_slice(rng, n):
    step = int(rng.integers(1, 4))
    start = int(rng.integers(0, n))
    stop = int(rng.integers(start + 1, n + 1))
    return slice(start, stop, step)


def _count(s):
    return len(range(s.start, s.stop, s.step))


@pytest.mark.parametrize("seed", range(25))
def test_random_strided_views_match_numpy(seed):
    # A random strided view of a 3-D HBM tensor -> SBUF (random partition offset) -> a random
    # view of a 3-D output, all checked against numpy slicing.
    rng = np.random.default_rng(seed)
    dtype = [F32, BF16, np.dtype(np.int16), np.dtype(np.uint8)][seed % 4]
    src = random(rng, (9, 7, 11), dtype, lo=-100, hi=100)
    s = tuple(_random_slice(rng, n) for n in src.shape)
    view = src[s]
    p = view.shape[0]
    free = int(np.prod(view.shape[1:]))
    p0 = int(rng.integers(0, 128 - p + 1))
    out_shape = (p, free + 3)

    def kernel(x):
        t = sbuf((128, free), NL[dtype])
        nisa.dma_copy(t[p0:p0 + p, :], x[s])
        out = nl.ndarray(out_shape, dtype=NL[dtype], buffer=nl.shared_hbm)
        nisa.dma_copy(out[:, 1:free + 1], t[p0:p0 + p, :])
        return out
    out = nki.simulate(kernel)(src)
    assert_equal(out[:, 1:free + 1], view.reshape(p, free))


def test_partial_write_keeps_sentinels(rng):
    a = random(rng, (128, 8), F32)

    def kernel_writer(view, t):
        nisa.dma_copy(view, t)
    assert_equal(check_partial_write(kernel_writer, a), a)
    b = random(rng, (128, 8), I32, lo=-9, hi=9)
    assert_equal(check_partial_write(kernel_writer, b, dtype=nl.int32), b)


@pytest.mark.parametrize("buffer", ["sbuf"])
def test_reads_sentinels_of_a_fresh_tile(buffer):
    for out in check_fresh_read(lambda t: t, buffer=getattr(nl, buffer)):
        assert all_nan(out)
    for out in check_fresh_read(lambda t: t, dtype=nl.int16):
        assert (out == 4).all()
