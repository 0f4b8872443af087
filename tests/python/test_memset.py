"""nisa.memset: fill dst with a compile-time constant (Vector or GpSimd). 0.3.0 strict typing: a
float into an integer tensor is an error (int into float is fine); x4 packed dtypes only take 0."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import BF16, F16, F32, FP8_E4M3, I32, NL, assert_equal, dtype_id, psum, run, sbuf
from conftest import check_partial_write


def fill(shape, dtype, value, engine=nisa.engine.unknown):
    def body():
        t = sbuf(shape, dtype)
        nisa.memset(t, value, engine=engine)
        return t
    return run(body)


@pytest.mark.parametrize("dtype", [F32, BF16, F16, FP8_E4M3], ids=dtype_id)
@pytest.mark.parametrize("value", [0.0, 1.0, -2.5, 0.1, 3.14159, 1e4])
def test_float_values_round_to_dst_dtype(dtype, value):
    out = fill((16, 8), NL[dtype], value)
    assert_equal(out, np.full((16, 8), np.float32(value)).astype(dtype))


@pytest.mark.parametrize("dtype", [I32, np.dtype(np.int8), np.dtype(np.int16),
                                   np.dtype(np.uint8), np.dtype(np.uint16),
                                   np.dtype(np.uint32)], ids=dtype_id)
@pytest.mark.parametrize("value", [0, 1, 7, 100])
def test_int_values_into_int_tiles(dtype, value):
    assert_equal(fill((8, 5), NL[dtype], value), np.full((8, 5), value, dtype))


def test_negative_and_large_ints():
    assert_equal(fill((4, 4), nl.int32, -123456789), np.full((4, 4), -123456789, np.int32))
    assert_equal(fill((4, 4), nl.int32, 2 ** 31 - 1), np.full((4, 4), 2 ** 31 - 1, np.int32))
    assert_equal(fill((4, 4), nl.int8, -128), np.full((4, 4), -128, np.int8))
    assert_equal(fill((4, 4), nl.uint32, 2 ** 32 - 1), np.full((4, 4), 2 ** 32 - 1, np.uint32))


def test_numpy_int_value():
    assert_equal(fill((4, 4), nl.int32, np.int32(9)), np.full((4, 4), 9, np.int32))
    assert_equal(fill((4, 4), nl.float32, np.float32(0.25)), np.full((4, 4), 0.25, np.float32))


@pytest.mark.parametrize("dtype", [F32, BF16, F16], ids=dtype_id)
def test_int_value_into_float_tile_is_fine(dtype):
    assert_equal(fill((8, 8), NL[dtype], 0), np.zeros((8, 8), dtype))
    assert_equal(fill((8, 8), NL[dtype], 3), np.full((8, 8), 3, dtype))


@pytest.mark.parametrize("dtype", [F32, BF16, F16], ids=dtype_id)
@pytest.mark.parametrize("value", [-float("inf"), -np.inf, float("inf")])
def test_infinities(dtype, value):
    assert_equal(fill((8, 4), NL[dtype], value), np.full((8, 4), value, dtype))


@pytest.mark.parametrize("engine", [nisa.engine.unknown, nisa.engine.vector, nisa.engine.gpsimd],
                         ids=lambda e: e.name)
@pytest.mark.parametrize("shape", [(1, 1), (128, 16), (32, 2, 3, 4)])
def test_engines_and_shapes(engine, shape):
    assert_equal(fill(shape, nl.float32, 5.0, engine=engine), np.full(shape, 5.0, np.float32))


def test_memset_psum_on_vector():
    def body():
        p = psum((32, 64))
        nisa.memset(p, -1.5, engine=nisa.engine.vector)
        return p
    assert_equal(run(body), np.full((32, 64), -1.5, np.float32))


def test_partial_fill_of_views_leaves_the_rest():
    def body():
        t = sbuf((128, 8), nl.float32)
        nisa.memset(t, 0.0)
        nisa.memset(t[32:64, 1:3], 2.0)
        nisa.memset(t[96:128, ::4], -1.0)
        nisa.memset(t[5:6, 7], 9)
        return t
    expected = np.zeros((128, 8), np.float32)
    expected[32:64, 1:3] = 2.0
    expected[96:128, ::4] = -1.0
    expected[5, 7] = 9
    assert_equal(run(body), expected)


def test_memset_overwrites_sentinels_only_where_written():
    def body():
        t = sbuf((4, 4), nl.int32)
        nisa.memset(t[0:2, :], 0)
        return t
    out = run(body)
    assert (out[0:2] == 0).all() and (out[2:] == 4).all()


def test_x4_packed_dtype_zero_is_allowed(rng):
    # Load non-zero x4 words from HBM, then memset(0) must clear all of them.
    bits = rng.integers(1, 2 ** 32, size=(8, 4), dtype=np.uint64).astype(np.uint32)

    def kernel(x):
        t = sbuf((8, 4), nl.float8_e4m3fn_x4)
        nisa.dma_copy(t, x.view(nl.float8_e4m3fn_x4))
        nisa.memset(t[0:4, :], 0)
        out = nl.ndarray((8, 4), dtype=nl.uint32, buffer=nl.shared_hbm)
        nisa.dma_copy(out.view(nl.float8_e4m3fn_x4), t)
        return out
    out = nki.simulate(kernel)(bits)
    expected = bits.copy()
    expected[0:4] = 0
    assert_equal(out, expected)


def test_bool_dtype():
    assert_equal(fill((4, 4), nl.bool_, 1), np.ones((4, 4), np.bool_))


@pytest.mark.parametrize("dtype", [nl.float32, nl.bfloat16, nl.int32, nl.uint8])
@pytest.mark.parametrize("buffer", ["sbuf", "psum"])
def test_partial_write_keeps_sentinels(dtype, buffer):
    out = check_partial_write(lambda v: nisa.memset(v, 3), dtype=dtype,
                              buffer=getattr(nl, buffer))
    assert (out == 3).all()
