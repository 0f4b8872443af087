"""nisa.activation: dst = op(data * scale + bias) in float32, rounded once to dst; scale is a
Python float or (P, 1) fp32 tile, bias a (P, 1) tile (any dtype but tfloat32) or a Python float
(v3+); optional per-partition add-reduction into the scalar engine's accumulators (reduce_cmd)
read out into reduce_res."""
import math

import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import (BF16, F16, F32, NL, assert_close, assert_equal, cast, dtype_id, psum,
                      random, run, sbuf, ulp_tol)
from conftest import all_nan, check_fresh_read, check_partial_write

_erf = np.vectorize(math.erf)


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


def _gelu_apprx_sigmoid(x):
    return x * _sig(1.702 * x)


# name -> (reference in float64, input range)
ACT = {
    "copy": (lambda x: x, (-8, 8)),
    "square": (np.square, (-8, 8)),
    "sigmoid": (_sig, (-8, 8)),
    "relu": (lambda x: np.maximum(x, 0), (-8, 8)),
    "gelu": (lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))), (-6, 6)),
    "gelu_dx": (lambda x: 0.5 * (1 + _erf(x / math.sqrt(2)))
                + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi), (-6, 6)),
    "gelu_apprx_tanh": (lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi)
                                                         * (x + 0.044715 * x ** 3))), (-6, 6)),
    "gelu_apprx_sigmoid": (_gelu_apprx_sigmoid, (-6, 6)),
    "gelu_apprx_sigmoid_dx": (lambda x: _sig(1.702 * x)
                              + 1.702 * x * _sig(1.702 * x) * (1 - _sig(1.702 * x)), (-6, 6)),
    "silu": (lambda x: x * _sig(x), (-8, 8)),
    "silu_dx": (lambda x: _sig(x) * (1 + x * (1 - _sig(x))), (-8, 8)),
    "tanh": (np.tanh, (-5, 5)),
    "softplus": (_softplus, (-8, 8)),
    "mish": (lambda x: x * np.tanh(_softplus(x)), (-6, 6)),
    "erf": (_erf, (-3, 3)),
    "erf_dx": (lambda x: 2 / math.sqrt(math.pi) * np.exp(-x * x), (-3, 3)),
    "exp": (np.exp, (-8, 8)),
    "log": (np.log, (0.01, 100)),
    "sin": (np.sin, (-math.pi, math.pi)),
    "arctan": (np.arctan, (-math.pi / 2, math.pi / 2)),
    "sqrt": (np.sqrt, (0.001, 1000)),
    "rsqrt": (lambda x: 1 / np.sqrt(x), (0.001, 1000)),
    "reciprocal": (lambda x: 1 / x, (0.01, 100)),
    "sign": (np.sign, (-3, 3)),
    "abs": (np.abs, (-3, 3)),
}


def act_body(op, out_dtype, **kwargs):
    def body(x, *vecs):
        kw = dict(kwargs)
        for k in ("bias", "scale"):
            if isinstance(kw.get(k), str):
                kw[k] = vecs[int(kw[k][-1])]
        o = sbuf(x.shape, out_dtype)
        nisa.activation(o, op, x, **kw)
        return o
    return body


def inputs(rng, name, shape, dtype=F32):
    lo, hi = ACT[name][1]
    a = random(rng, shape, dtype, lo=lo, hi=hi)
    if name in ("sign", "relu", "abs"):
        a.flat[0] = 0
    return a


@pytest.mark.parametrize("name", sorted(ACT))
def test_each_function_float32(rng, name):
    a = inputs(rng, name, (32, 16))
    out = run(act_body(getattr(nl, name), nl.float32), a)
    expected = ACT[name][0](a.astype(np.float64))
    assert out.dtype == np.float32
    assert_close(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["exp", "gelu", "tanh", "silu", "copy", "sigmoid", "softplus"])
@pytest.mark.parametrize("din,dout", [(BF16, BF16), (F32, BF16), (F16, F16), (BF16, F32)],
                         ids=lambda d: dtype_id(d))
def test_low_precision_dtypes(rng, name, din, dout):
    a = inputs(rng, name, (64, 8), din)
    out = run(act_body(getattr(nl, name), NL[dout]), a)
    assert out.dtype == dout
    expected = ACT[name][0](a.astype(np.float64))
    # one float32 evaluation, one rounding to dout: within one dout ulp of the exact value
    assert_close(out, expected, rtol=ulp_tol(dout), atol=1e-6)


def test_copy_and_exact_functions_round_once(rng):
    a = random(rng, (32, 32), F32, lo=-100, hi=100)
    assert_equal(run(act_body(nl.copy, nl.bfloat16), a), a.astype(BF16))
    assert_equal(run(act_body(nl.relu, nl.float16), a), np.maximum(a, 0).astype(np.float16))
    assert_equal(run(act_body(nl.square, nl.bfloat16), a), (a * a).astype(BF16))
    assert_equal(run(act_body(nl.abs, nl.float32), a), np.abs(a))


@pytest.mark.parametrize("scale", [1.0, 2.5, -0.5])
@pytest.mark.parametrize("bias", [None, 0.0, 1.25, -3.0])
def test_scalar_scale_and_bias(rng, scale, bias):
    a = random(rng, (32, 8), F32)
    out = run(act_body(nl.copy, nl.float32, scale=scale, bias=bias), a)
    expected = a * np.float32(scale) + np.float32(bias or 0.0)
    assert_equal(out, expected)


def test_vector_scale_and_bias(rng):
    a = random(rng, (64, 4, 4), F32)
    s = random(rng, (64, 1), F32)
    b = random(rng, (64, 1), F32)
    out = run(act_body(nl.copy, nl.float32, scale="v0", bias="v1"), a, s, b)
    assert_equal(out, a * s[:, :, None] + b[:, :, None])
    out = run(act_body(nl.exp, nl.float32, scale="v0", bias="v1"), a, s, b)
    assert_close(out, np.exp(a.astype(np.float64) * s[:, :, None] + b[:, :, None]), rtol=1e-5)


@pytest.mark.parametrize("bias_dtype", [BF16, F16, F32], ids=dtype_id)
def test_bias_tile_of_any_float_dtype(rng, bias_dtype):
    a = random(rng, (16, 8), F32)
    b = random(rng, (16, 1), bias_dtype)
    out = run(act_body(nl.relu, nl.float32, bias="v0", scale=2.0), a, b)
    assert_equal(out, np.maximum(a * 2 + b.astype(np.float32), 0))


def test_bias_tile_int32(rng):
    a = random(rng, (16, 8), F32)
    b = np.arange(16, dtype=np.int32).reshape(16, 1) - 8
    out = run(act_body(nl.copy, nl.float32, bias="v0"), a, b)
    assert_equal(out, a + b.astype(np.float32))


def test_psum_data_and_dst(rng):
    a = random(rng, (32, 8), F32)

    def body(x):
        p = psum(x.shape)
        nisa.tensor_copy(p, x)
        d = psum(x.shape)
        nisa.activation(d, nl.relu, p, scale=3.0)
        return d
    assert_equal(run(body, a), np.maximum(a * 3, 0))


def test_partition_offsets_and_strided_views(rng):
    a = random(rng, (128, 16), F32)
    b = random(rng, (128, 1), F32)

    def body(x, bias):
        o = sbuf((128, 8), nl.float32)
        nisa.memset(o, 0.0)
        nisa.activation(o[32:64, :], nl.copy, x[32:64, ::2], bias=bias[32:64, :])
        nisa.activation(o[64:96, 0:4], nl.square, x[0:32, 4:8])
        return o
    out = run(body, a, b)
    expected = np.zeros((128, 8), np.float32)
    expected[32:64] = a[32:64, ::2] + b[32:64]
    expected[64:96, 0:4] = np.square(a[0:32, 4:8])
    assert_equal(out, expected)


def test_free_dims_may_differ(rng):
    a = random(rng, (8, 2, 6), F32)

    def body(x):
        o = sbuf((8, 3, 4), nl.float32)
        nisa.activation(o, nl.copy, x, scale=-1.0)
        return o
    assert_equal(run(body, a), -a.reshape(8, 3, 4))


def test_int_input_and_output(rng):
    a = random(rng, (8, 8), np.int32, lo=-100, hi=100)
    out = run(act_body(nl.copy, nl.int32, scale=0.5), a)
    assert_equal(out, cast(a.astype(np.float32) * 0.5, np.int32))


# ---------------------------------------------------------------- reduction
def _sum(x):
    return x.astype(np.float64).reshape(x.shape[0], -1).sum(axis=1, keepdims=True)


def test_reduce_cmd_sequence(rng):
    """reset_reduce: regs = row sum; reduce: regs += row sum; idle: untouched; reset: regs = 0."""
    P = 32
    xs = [random(rng, (P, 16), F32, lo=-2, hi=2) for _ in range(5)]

    def kernel(x0, x1, x2, x3, x4):
        cmds = [nisa.reduce_cmd.reset_reduce, nisa.reduce_cmd.reduce, nisa.reduce_cmd.idle,
                nisa.reduce_cmd.reset, nisa.reduce_cmd.reduce]
        res = nl.ndarray((P, 5), dtype=nl.float32, buffer=nl.sbuf)
        outs = nl.ndarray((5, P, 16), dtype=nl.float32, buffer=nl.shared_hbm)
        for i, (x, cmd) in enumerate(zip((x0, x1, x2, x3, x4), cmds)):
            t = nl.ndarray((P, 16), dtype=nl.float32, buffer=nl.sbuf)
            nisa.dma_copy(t, x)
            d = nl.ndarray((P, 16), dtype=nl.float32, buffer=nl.sbuf)
            nisa.activation(d, nl.exp, t, reduce_op=nl.add, reduce_res=res[:, i:i + 1],
                            reduce_cmd=cmd)
            nisa.dma_copy(outs[i], d)
        r = nl.ndarray((P, 5), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(r, res)
        return r, outs
    r, outs = nki.simulate(kernel)(*xs)
    e = [np.exp(x.astype(np.float64)) for x in xs]
    for i in range(5):
        assert_close(outs[i], e[i], rtol=1e-5)   # dst is always written
    assert_close(r[:, 0:1], _sum(e[0]), rtol=1e-5)
    assert_close(r[:, 1:2], _sum(e[0]) + _sum(e[1]), rtol=1e-5)
    assert_close(r[:, 2:3], _sum(e[0]) + _sum(e[1]), rtol=1e-5)   # idle: unchanged
    assert_close(r[:, 3:4], np.zeros((P, 1)), atol=0)              # reset only
    assert_close(r[:, 4:5], _sum(e[4]), rtol=1e-5)


def test_accumulators_persist_across_instructions_without_reduce_res(rng):
    a = random(rng, (16, 8), F32)
    b = random(rng, (16, 8), F32)

    def body(x, y):
        d = sbuf(x.shape, nl.float32)
        nisa.activation(d, nl.copy, x, reduce_op=nl.add,
                        reduce_cmd=nisa.reduce_cmd.reset_reduce)
        nisa.activation(d, nl.copy, y, scale=2.0, reduce_op=nl.add,
                        reduce_cmd=nisa.reduce_cmd.reduce)
        r = sbuf((16, 1), nl.float32)
        nisa.activation(d, nl.copy, x, reduce_res=r)  # idle (default): read the registers out
        return r
    assert_close(run(body, a, b), _sum(a) + 2 * _sum(b), rtol=1e-5)


def test_reduce_res_over_multi_dim_free_and_in_psum(rng):
    a = random(rng, (64, 4, 8), F32)

    def body(x):
        d = sbuf(x.shape, nl.bfloat16)
        r = psum((64, 1))
        nisa.activation(d, nl.square, x, reduce_op=nl.add, reduce_res=r,
                        reduce_cmd=nisa.reduce_cmd.reset_reduce)
        return r, d
    r, d = run(body, a)
    assert_equal(d, (a * a).astype(BF16))
    assert_close(r, _sum(a.astype(np.float64) ** 2), rtol=1e-5)


def test_reduce_res_bf16_rounds(rng):
    a = random(rng, (16, 8), F32)

    def body(x):
        d = sbuf(x.shape, nl.float32)
        r = sbuf((16, 1), nl.bfloat16)
        nisa.activation(d, nl.copy, x, reduce_op=nl.add, reduce_res=r,
                        reduce_cmd=nisa.reduce_cmd.reset_reduce)
        return r
    r = run(body, a)
    assert r.dtype == BF16
    assert_close(r, _sum(a), rtol=2 ** -8, atol=1e-6)


def test_activation_reduce(rng):
    a = random(rng, (32, 16), F32)
    b = random(rng, (32, 1), F32)

    def body(x, bias):
        d = sbuf(x.shape, nl.float32)
        r = sbuf((32, 1), nl.float32)
        nisa.activation_reduce(d, nl.exp, x, nl.add, r, bias=bias, scale=0.5)
        return d, r
    d, r = run(body, a, b)
    e = np.exp(a.astype(np.float64) * 0.5 + b)
    assert_close(d, e, rtol=1e-5)
    assert_close(r, _sum(e), rtol=1e-5)


@pytest.mark.parametrize("target", ["trn1", "trn2", "trn3"])
def test_vector_bias_on_every_target(rng, set_target, target):
    set_target(target)
    a = random(rng, (16, 8), F32)
    b = random(rng, (16, 1), F32)
    out = run(act_body(nl.copy, nl.float32, bias="v0"), a, b)
    assert_equal(out, a + b)


def test_positional_arguments(rng):
    a = random(rng, (16, 8), F32)
    b = random(rng, (16, 1), F32)

    def body(x, bias):
        o = sbuf(x.shape, nl.float32)
        nisa.activation(o, nl.copy, x, bias, 2.0)
        return o
    assert_equal(run(body, a, b), a * 2 + b)


def test_copy_of_large_int32_is_lossy_through_float32():
    a = np.array([[2 ** 24 + 1, 2 ** 25 + 3, 7, -(2 ** 24) - 1]], dtype=np.int32)
    out = run(act_body(nl.copy, nl.int32), a)
    assert_equal(out, a.astype(np.float32).astype(np.int32))


def test_reduction_on_a_partition_offset_view(rng):
    a = random(rng, (128, 8), F32)

    def body(x):
        d = sbuf((128, 8), nl.float32)
        r = sbuf((128, 1), nl.float32)
        nisa.memset(r, 0.0)
        nisa.activation(d[32:64, :], nl.copy, x[32:64, :], reduce_op=nl.add,
                        reduce_res=r[32:64, :], reduce_cmd=nisa.reduce_cmd.reset_reduce)
        nisa.activation(d[64:96, :], nl.copy, x[64:96, :], scale=2.0, reduce_op=nl.add,
                        reduce_res=r[64:96, :], reduce_cmd=nisa.reduce_cmd.reset_reduce)
        return r
    out = run(body, a)
    expected = np.zeros((128, 1))
    expected[32:64] = _sum(a[32:64])
    expected[64:96] = 2 * _sum(a[64:96])
    assert_close(out, expected, rtol=1e-5)


@pytest.mark.parametrize("buffer", ["sbuf", "psum"])
def test_partial_write_keeps_sentinels(rng, buffer):
    a = random(rng, (128, 8), F32)
    out = check_partial_write(lambda v, x: nisa.activation(v, nl.copy, x, scale=2.0), a,
                              buffer=getattr(nl, buffer))
    assert_equal(out, a * 2)


def test_reads_sentinels_of_a_fresh_tile_bias_and_scale():

    def reader(t):
        o = sbuf(t.shape, nl.float32)
        nisa.activation(o, nl.copy, t)
        return o
    for out in check_fresh_read(reader):
        assert all_nan(out)

    def bias_reader(t):
        x = sbuf((t.shape[0], 4), nl.float32)
        nisa.memset(x, 1.0)
        o = sbuf(x.shape, nl.float32)
        nisa.activation(o, nl.copy, x, bias=t)
        return o
    for out in check_fresh_read(bias_reader, shape=(128, 1)):
        assert all_nan(out)


def test_fresh_bias_aliasing_the_destination_reads_sentinels():

    def reader(t):
        x = sbuf(t.shape, nl.float32)
        nisa.memset(x, 1.0)
        nisa.activation(t, nl.copy, x, bias=t[:, 0:1])
        return t
    for out in check_fresh_read(reader):
        assert all_nan(out)


def test_accumulators_are_per_physical_partition(rng):
    # One accumulator per lane = physical partition: a read-out through partitions 32..63 sees
    # what an earlier instruction on partitions 32..63 accumulated, not partitions 0..31.
    a = random(rng, (128, 8), F32)

    def body(x):
        d = sbuf((128, 8), nl.float32)
        nisa.activation(d[32:64, :], nl.copy, x[32:64, :], reduce_op=nl.add,
                        reduce_cmd=nisa.reduce_cmd.reset_reduce)
        nisa.activation(d[0:32, :], nl.copy, x[0:32, :], scale=10.0, reduce_op=nl.add,
                        reduce_cmd=nisa.reduce_cmd.reset_reduce)
        r = sbuf((32, 1), nl.float32)
        nisa.activation(d[32:64, :], nl.copy, x[32:64, :], reduce_res=r)  # idle: read out
        return r
    assert_close(run(body, a), _sum(a[32:64]), rtol=1e-5)


def test_numpy_scalar_scale_and_bias(rng):
    a = random(rng, (16, 8), F32)
    out = run(act_body(nl.copy, nl.float32, scale=np.float32(0.5), bias=np.float64(1.0)), a)
    assert_equal(out, a * np.float32(0.5) + np.float32(1.0))


def test_bias_that_is_a_column_of_dst_is_read_first(rng):
    """activation(dst=t, data=t, bias=t[:, 0], scale=2): the bias holds its value from before the
    instruction (the scale stage must not overwrite it first)."""
    a = random(rng, (16, 24), F32)

    def body(x):
        nisa.activation(x, nl.copy, x, bias=x[:, 0:1], scale=2.0)
        return x
    assert_equal(run(body, a), a * 2 + a[:, :1])
