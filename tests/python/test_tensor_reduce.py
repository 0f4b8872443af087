"""nisa.tensor_reduce: reduce the trailing contiguous free axes of each partition (never axis 0;
0.3.0: axis numbers are real tensor dims). Arithmetic ops in float32 (negate multiplies by -1),
bitvec ops on integer bits; keepdims keeps reduced dims as size 1."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from conftest import (BF16, F16, F32, I32, NL, assert_close, assert_equal, dtype_id, psum, random,
                      run, sbuf)
from conftest import all_nan, check_fresh_read, check_partial_write


def _fold(fn):
    def f(x, axes):
        return fn(x, axis=tuple(axes))
    return f


def _subtract(x, axes):
    # acc = x0; acc = acc - x_i for the following elements (row-major over the reduced axes)
    keep = [d for d in range(x.ndim) if d not in axes]
    y = np.moveaxis(x, keep, list(range(len(keep))))
    y = y.reshape(y.shape[:len(keep)] + (-1,))
    return y[..., 0] - y[..., 1:].sum(axis=-1)


REF = {
    "add": _fold(np.sum),
    "multiply": _fold(np.prod),
    "maximum": _fold(np.max),
    "minimum": _fold(np.min),
    "subtract": _subtract,
    "logical_and": lambda x, ax: np.all(x != 0, axis=tuple(ax)).astype(np.float64),
    "logical_or": lambda x, ax: np.any(x != 0, axis=tuple(ax)).astype(np.float64),
    "logical_xor": lambda x, ax: (np.sum(x != 0, axis=tuple(ax)) % 2).astype(np.float64),
}


def reduce_body(op, out_shape, out_dtype, axis, negate=False, keepdims=False):
    def body(x):
        o = sbuf(out_shape, out_dtype)
        nisa.tensor_reduce(o, op, x, axis, negate=negate, keepdims=keepdims)
        return o
    return body


def out_shape_of(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if d in axes else s for d, s in enumerate(shape))
    s = tuple(s for d, s in enumerate(shape) if d not in axes)
    return s if len(s) >= 2 else s + (1,)


CASES = [((32, 16), 1), ((32, 16), [1]), ((16, 4, 6), 2), ((16, 4, 6), (1, 2)),
         ((8, 2, 3, 4), (2, 3)), ((8, 2, 3, 4), [3]), ((8, 2, 3, 4), (1, 2, 3)),
         ((4, 2, 2, 2, 3), (2, 3, 4)), ((1, 5), 1), ((128, 3), 1)]


@pytest.mark.parametrize("name", sorted(REF))
@pytest.mark.parametrize("shape,axis", CASES, ids=lambda c: str(c))
def test_ops_and_axes(rng, name, shape, axis):
    # small integers keep float32 sums and products exact
    a = rng.integers(-3, 4, size=shape).astype(np.float32)
    if name == "multiply":
        a = rng.choice(np.array([-2, -1, 1, 2, 0.5], np.float32), size=shape)
    axes = [axis] if isinstance(axis, int) else list(axis)
    oshape = out_shape_of(shape, axes, keepdims=False)
    out = run(reduce_body(getattr(nl, name), oshape, nl.float32, axis), a)
    expected = REF[name](a.astype(np.float64), axes).reshape(oshape)
    assert_equal(out, expected.astype(np.float32))


@pytest.mark.parametrize("shape,axis", [((16, 4, 6), 2), ((16, 4, 6), (1, 2)),
                                        ((8, 2, 3, 4), (2, 3))])
def test_keepdims(rng, shape, axis):
    a = random(rng, shape, F32)
    axes = [axis] if isinstance(axis, int) else list(axis)
    oshape = out_shape_of(shape, axes, keepdims=True)
    out = run(reduce_body(nl.maximum, oshape, nl.float32, axis, keepdims=True), a)
    assert_equal(out, np.max(a, axis=tuple(axes), keepdims=True))


def test_dst_shape_only_needs_matching_elements_per_partition(rng):
    a = random(rng, (16, 4, 6), F32)
    out = run(reduce_body(nl.maximum, (16, 4), nl.float32, 2, keepdims=True), a)
    assert_equal(out, a.max(axis=2))
    out = run(reduce_body(nl.minimum, (16, 4, 1), nl.float32, 2, keepdims=False), a)
    assert_equal(out, a.min(axis=2, keepdims=True))


@pytest.mark.parametrize("name", ["add", "maximum", "minimum", "subtract"])
def test_negate(rng, name):
    a = rng.integers(-5, 6, size=(32, 3, 8)).astype(np.float32)
    out = run(reduce_body(getattr(nl, name), (32, 3), nl.float32, 2, negate=True), a)
    assert_equal(out, (-REF[name](a.astype(np.float64), [2])).astype(np.float32))


@pytest.mark.parametrize("din,dout", [(BF16, BF16), (F32, BF16), (F16, F32), (BF16, F16)],
                         ids=lambda d: dtype_id(d))
def test_dtypes_compute_in_float32(rng, din, dout):
    a = random(rng, (64, 32), din)
    out = run(reduce_body(nl.add, (64, 1), NL[dout], 1), a)
    assert out.dtype == dout
    exact = a.astype(np.float64).sum(axis=1, keepdims=True)
    # float32 accumulation, one rounding to dout
    tol = {F32: 1e-6, F16: 2 ** -10, BF16: 2 ** -7}[np.dtype(dout)]
    assert_close(out, exact, rtol=tol, atol=1e-4)
    out = run(reduce_body(nl.maximum, (64, 1), NL[dout], 1), a)
    assert_equal(out, a.astype(np.float32).max(axis=1, keepdims=True).astype(dout))


def test_int32_arithmetic(rng):
    a = rng.integers(-1000, 1000, size=(16, 12)).astype(np.int32)
    out = run(reduce_body(nl.add, (16, 1), nl.int32, 1), a)
    assert_equal(out, a.sum(axis=1, keepdims=True).astype(np.int32))
    out = run(reduce_body(nl.maximum, (16, 1), nl.int32, 1), a)
    assert_equal(out, a.max(axis=1, keepdims=True))


@pytest.mark.parametrize("name,ufunc", [("bitwise_and", np.bitwise_and),
                                        ("bitwise_or", np.bitwise_or),
                                        ("bitwise_xor", np.bitwise_xor)])
@pytest.mark.parametrize("dtype", [I32, np.dtype(np.uint32), np.dtype(np.uint8),
                                   np.dtype(np.int16)], ids=dtype_id)
def test_bitvec_reductions(rng, name, ufunc, dtype):
    dtype = np.dtype(dtype)
    u = np.dtype(f"u{dtype.itemsize}")
    a = rng.integers(0, 2 ** (8 * dtype.itemsize), size=(16, 3, 5),
                     dtype=np.uint64).astype(u).view(dtype)
    out = run(reduce_body(getattr(nl, name), (16, 3), NL[dtype], 2), a)
    assert_equal(out, ufunc.reduce(a, axis=2))
    out = run(reduce_body(getattr(nl, name), (16, 1), NL[dtype], (1, 2)), a)
    assert_equal(out, ufunc.reduce(a.reshape(16, -1), axis=1, keepdims=True))


def test_psum_data_and_dst(rng):
    a = random(rng, (32, 64), F32)

    def body(x):
        p = psum(x.shape)
        nisa.tensor_copy(p, x)
        d = psum((32, 1))
        nisa.tensor_reduce(d, nl.maximum, p, axis=1)
        return d
    assert_equal(run(body, a), a.max(axis=1, keepdims=True))


def test_partition_offset_and_strided_input(rng):
    a = random(rng, (128, 16), F32)

    def body(x):
        o = sbuf((128, 1), nl.float32)
        nisa.memset(o, 0.0)
        nisa.tensor_reduce(o[32:64, :], nl.maximum, x[32:64, ::2], axis=1)
        nisa.tensor_reduce(o[64:96, :], nl.minimum, x[0:32, 3:9], axis=1, negate=True)
        return o
    out = run(body, a)
    expected = np.zeros((128, 1), np.float32)
    expected[32:64, 0] = a[32:64, ::2].max(axis=1)
    expected[64:96, 0] = -a[0:32, 3:9].min(axis=1)
    assert_equal(out, expected)


def test_strided_view_in_3d(rng):
    # A view that is not contiguous in memory still reduces over its own trailing dims.
    a = random(rng, (8, 6, 10), F32)

    def body(x):
        o = sbuf((8, 3), nl.float32)
        nisa.tensor_reduce(o, nl.add, x[:, ::2, 1:9:2], axis=2)
        return o
    assert_close(run(body, a), a[:, ::2, 1:9:2].astype(np.float64).sum(axis=2), rtol=1e-6)


def test_positional_arguments(rng):
    a = random(rng, (8, 8), F32)

    def body(x):
        o = sbuf((8, 1), nl.float32)
        nisa.tensor_reduce(o, nl.maximum, x, 1, True, True)
        return o
    assert_equal(run(body, a), -a.max(axis=1, keepdims=True))


@pytest.mark.parametrize("buffer", ["sbuf", "psum"])
def test_partial_write_keeps_sentinels(rng, buffer):
    a = random(rng, (128, 8, 4), F32)
    out = check_partial_write(lambda v, x: nisa.tensor_reduce(v, nl.maximum, x, axis=2), a,
                              buffer=getattr(nl, buffer))
    assert_equal(out, a.max(axis=2))


def test_reads_sentinels_of_a_fresh_tile():

    def reader(t):
        o = sbuf((t.shape[0], 1), nl.float32)
        nisa.tensor_reduce(o, nl.add, t, axis=1)
        return o
    for out in check_fresh_read(reader):
        assert all_nan(out)


def test_subtract_is_first_minus_sum_of_rest_and_signed_zero_sums_stay_negative():
    # subtract: x0 - (x1 + x2 + ...), so an infinite first element with finite others stays
    # infinite (not inf - (inf - inf) = NaN) and a cancelling rest does not wipe out x0.
    a = np.array([[np.inf, 1, 1], [0.5, 1e8, -1e8], [7, 2, 3]], np.float32)
    out = run(reduce_body(nl.subtract, (3, 1), nl.float32, 1), a)
    assert_equal(out, np.array([[np.inf], [0.5], [2]], np.float32))
    # add: a row of -0.0 sums to -0.0, as IEEE addition does
    z = np.full((4, 9), -0.0, np.float32)
    s = run(reduce_body(nl.add, (4, 1), nl.float32, 1), z)
    assert (s == 0).all() and np.signbit(s).all()
