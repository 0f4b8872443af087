"""nisa.reciprocal: dst = 1.0 / data in float32 on the vector engine, rounded once to dst;
SBUF or PSUM in and out; equal partitions and elements per partition."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from conftest import BF16, F16, F32, NL, assert_equal, cast, dtype_id, psum, random, run, sbuf
from conftest import all_nan, check_fresh_read, check_partial_write


def rec_body(out_dtype):
    def body(x):
        o = sbuf(x.shape, out_dtype)
        nisa.reciprocal(o, x)
        return o
    return body


def ref(a, dtype):
    return cast(np.float32(1) / a.astype(np.float32), dtype)


def data(rng, shape, dtype):
    a = random(rng, shape, dtype, lo=-50, hi=50)
    a.flat[:6] = np.array([1.0, -2.0, 3.0, 0.1, 1e-3, 7.0], np.float32).astype(dtype)
    return a


@pytest.mark.parametrize("din,dout", [(F32, F32), (BF16, BF16), (F16, F16), (F32, BF16),
                                      (BF16, F32), (F16, F32), (F32, F16)],
                         ids=lambda d: dtype_id(d))
def test_dtypes(rng, din, dout):
    a = data(rng, (64, 16), din)
    assert_equal(run(rec_body(NL[np.dtype(dout)]), a), ref(a, dout))


@pytest.mark.parametrize("shape", [(1, 1), (128, 8), (3, 4, 5), (2, 2, 3, 4)])
def test_shapes(rng, shape):
    a = data(rng, shape, F32)
    assert_equal(run(rec_body(nl.float32), a), ref(a, F32))


def test_zero_inf_nan():
    a = np.array([[0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45]], np.float32)
    with np.errstate(divide="ignore", over="ignore"):
        expected = np.float32(1) / a
    assert_equal(run(rec_body(nl.float32), a), expected)


def test_int_input_goes_through_float32():
    a = np.array([[1, 2, 3, -4, 8]], np.int32)
    assert_equal(run(rec_body(nl.float32), a), np.float32(1) / a.astype(np.float32))


def test_psum_in_and_out(rng):
    a = data(rng, (32, 8), F32)

    def body(x):
        p = psum(x.shape)
        nisa.tensor_copy(p, x)
        d = psum(x.shape)
        nisa.reciprocal(d, p)
        return d
    assert_equal(run(body, a), ref(a, F32))


def test_partition_offset_strides_and_free_shapes(rng):
    a = data(rng, (128, 16), F32)

    def body(x):
        o = sbuf((128, 8), nl.float32)
        nisa.memset(o, 0.0)
        nisa.reciprocal(o[32:64, :], x[32:64, ::2])
        nisa.reciprocal(o[64:96, 0:4], x[0:32, 4:8])
        f = sbuf((128, 2, 8), nl.bfloat16)
        nisa.reciprocal(f, x)
        return o, f
    o, f = run(body, a)
    expected = np.zeros((128, 8), np.float32)
    expected[32:64] = ref(a[32:64, ::2], F32)
    expected[64:96, 0:4] = ref(a[0:32, 4:8], F32)
    assert_equal(o, expected)
    assert_equal(f, ref(a, BF16).reshape(128, 2, 8))


def test_in_place(rng):
    a = data(rng, (16, 8), F32)

    def body(x):
        nisa.reciprocal(x, x)
        return x
    assert_equal(run(body, a), ref(a, F32))


def test_positional_and_name(rng):
    a = data(rng, (16, 8), F32)

    def body(x):
        o = sbuf(x.shape, nl.float32)
        nisa.reciprocal(o, x, "rcp0")
        return o
    assert_equal(run(body, a), ref(a, F32))


@pytest.mark.parametrize("buffer", ["sbuf", "psum"])
def test_partial_write_keeps_sentinels(rng, buffer):
    a = data(rng, (128, 8), F32)
    out = check_partial_write(lambda v, x: nisa.reciprocal(v, x), a, buffer=getattr(nl, buffer))
    assert_equal(out, ref(a, F32))


def test_reads_sentinels_of_a_fresh_tile():

    def reader(t):
        o = sbuf(t.shape, nl.float32)
        nisa.reciprocal(o, t)
        return o
    for out in check_fresh_read(reader):
        assert all_nan(out)
