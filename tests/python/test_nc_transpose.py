"""nisa.nc_transpose: dst[f, p] = data[p, f] (free dims flattened first), bit-exact. Tensor engine:
data in SBUF, dst in PSUM, up to [128, 128]; vector engine: SBUF or PSUM, up to [32, 32];
engine=unknown picks by the destination buffer. dst.dtype == data.dtype."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from conftest import (BF16, F16, F32, FP8_E4M3, I32, assert_equal, dtype_id, psum, random, run,
                      sbuf)
from conftest import all_nan, check_fresh_read, check_partial_write


def tr_body(dst_buffer, engine=nisa.engine.unknown):
    def body(x):
        f = x.size // x.shape[0]
        d = nl.ndarray((f, x.shape[0]), dtype=x.dtype, buffer=dst_buffer)
        nisa.nc_transpose(d, x, engine=engine)
        return d
    return body


def with_specials(rng, shape, dtype):
    a = random(rng, shape, dtype, lo=-1000, hi=1000)
    if np.dtype(dtype).kind == "f" or np.dtype(dtype) in (BF16, FP8_E4M3):
        a.flat[:3] = np.array([np.inf, -np.inf, np.nan], np.float32).astype(dtype)
    return a


@pytest.mark.parametrize("dtype", [F32, BF16, F16, FP8_E4M3, I32], ids=dtype_id)
@pytest.mark.parametrize("shape", [(128, 128), (1, 7), (37, 128), (128, 1), (64, 96)])
def test_tensor_engine(rng, dtype, shape):
    a = with_specials(rng, shape, dtype)
    out = run(tr_body(nl.psum, nisa.engine.tensor), a)
    assert_equal(out, a.T.copy())


@pytest.mark.parametrize("dtype", [F32, BF16, I32, np.dtype(np.uint8)], ids=dtype_id)
@pytest.mark.parametrize("shape", [(32, 32), (1, 32), (32, 1), (5, 17)])
@pytest.mark.parametrize("dst_buffer", ["sbuf", "psum"])
def test_vector_engine(rng, dtype, shape, dst_buffer):
    a = with_specials(rng, shape, dtype)
    out = run(tr_body(getattr(nl, dst_buffer), nisa.engine.vector), a)
    assert_equal(out, a.T.copy())


def test_unknown_engine_chooses_from_destination(rng):
    big = random(rng, (64, 100), F32)  # too big for the vector engine: the tensor engine
    assert_equal(run(tr_body(nl.psum), big), big.T.copy())
    small = random(rng, (16, 8), BF16)
    assert_equal(run(tr_body(nl.sbuf), small), small.T.copy())


def test_vector_engine_psum_source(rng):
    a = random(rng, (32, 16), F32)

    def body(x):
        p = psum(x.shape)
        nisa.tensor_copy(p, x)
        d = sbuf((16, 32), nl.float32)
        nisa.nc_transpose(d, p, engine=nisa.engine.vector)
        return d
    assert_equal(run(body, a), a.T.copy())


def test_multi_dim_free_is_flattened(rng):
    a = random(rng, (16, 4, 8), BF16)

    def body(x):
        d = psum((32, 16), nl.bfloat16)
        nisa.nc_transpose(d, x)
        return d
    assert_equal(run(body, a), a.reshape(16, 32).T.copy())


def test_dst_free_dims_may_be_split(rng):
    a = random(rng, (16, 12), F32)

    def body(x):
        d = psum((12, 2, 8), nl.float32)
        nisa.nc_transpose(d, x)
        return d
    assert_equal(run(body, a), a.T.reshape(12, 2, 8))


def test_partition_offset_and_strided_views(rng):
    a = random(rng, (128, 64), F32)

    def body(x):
        d = psum((128, 128))
        nisa.memset(d, 0.0)
        nisa.nc_transpose(d[0:32, 32:64], x[32:64, ::2])      # tensor engine
        e = sbuf((32, 32), nl.float32)
        nisa.nc_transpose(e[0:16, 0:32], x[64:96, 16:32], engine=nisa.engine.vector)
        nisa.nc_transpose(e[16:32, 0:32], x[96:128, 0:16], engine=nisa.engine.vector)
        return d, e
    d, e = run(body, a)
    expected = np.zeros((128, 128), np.float32)
    expected[0:32, 32:64] = a[32:64, ::2].T
    assert_equal(d, expected)
    assert_equal(e, np.concatenate([a[64:96, 16:32].T, a[96:128, 0:16].T]))


@pytest.mark.parametrize("target", ["trn1", "trn2", "trn3"])
def test_every_target(rng, set_target, target):
    set_target(target)
    a = random(rng, (64, 32), BF16)
    assert_equal(run(tr_body(nl.psum), a), a.T.copy())
    b = random(rng, (8, 24), BF16)
    assert_equal(run(tr_body(nl.sbuf, nisa.engine.vector), b), b.T.copy())


def test_nl_transpose(rng):
    a = random(rng, (32, 64), F32)

    def body(x):
        return nl.transpose(x)
    assert_equal(run(body, a), a.T.copy())


@pytest.mark.parametrize("buffer,engine", [("psum", nisa.engine.tensor),
                                           ("sbuf", nisa.engine.vector),
                                           ("psum", nisa.engine.vector)])
def test_partial_write_keeps_sentinels(rng, buffer, engine):
    a = random(rng, (8, 16), F32)
    out = check_partial_write(lambda v, x: nisa.nc_transpose(v, x, engine=engine), a,
                              buffer=getattr(nl, buffer), shape=(16, 16))
    assert_equal(out, a.T.copy())


def test_reads_sentinels_of_a_fresh_tile():

    def reader(t):
        d = psum((t.shape[1], t.shape[0]), t.dtype)
        nisa.nc_transpose(d, t)
        return d
    for out in check_fresh_read(reader, shape=(16, 8)):
        assert all_nan(out)
    for out in check_fresh_read(reader, dtype=nl.int32, shape=(16, 8)):
        assert (out == 4).all()
