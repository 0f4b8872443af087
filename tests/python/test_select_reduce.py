"""nisa.select_reduce: dst = predicate ? on_true : on_false (reverse_pred inverts; on_false a
scalar or a (P, 1) tile), float32 then one rounding; with reduce_cmd the Vector accumulator keeps
the per-partition maximum (reset_reduce from -inf, reduce continuing) and reduce_res receives it."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from _issue7 import fails
from conftest import BF16, F32, NL, assert_equal, cast, psum, random, run, sbuf

RC = nisa.reduce_cmd
U8 = np.dtype(np.uint8)


def sel_ref(pred, on_true, on_false, reverse=False):
    p = pred.astype(np.float32) != 0
    if reverse:
        p = ~p
    f = np.asarray(on_false, np.float32)
    if f.ndim == 2:
        f = f.reshape((pred.shape[0],) + (1,) * (pred.ndim - 1))
    return np.where(p, on_true.astype(np.float32), f).astype(np.float32)


@pytest.mark.parametrize("shape", [(128, 50), (37, 5), (6, 3, 4)])
@pytest.mark.parametrize("reverse", [False, True])
def test_select_with_scalar_and_reduce(rng, shape, reverse):
    pred = rng.integers(0, 2, size=shape).astype(np.uint8)
    x = random(rng, shape, F32)

    def body(p, a):
        o = sbuf(shape, nl.float32)
        r = sbuf((shape[0], 1), nl.float32)
        nisa.select_reduce(o, p, a, -1.5, reduce_res=r, reduce_cmd=RC.reset_reduce,
                           reverse_pred=reverse)
        return o, r
    o, r = run(body, pred, x)
    e = sel_ref(pred, x, -1.5, reverse)
    assert_equal(o, e)
    assert_equal(r, e.reshape(shape[0], -1).max(axis=1, keepdims=True))


def test_vector_on_false_bf16_dst_and_accumulation(rng):
    pred = rng.integers(0, 3, size=(32, 20)).astype(np.int16)
    x = random(rng, (32, 20), BF16)
    y = random(rng, (32, 20), BF16)
    f = random(rng, (32, 1), F32)

    def body(p, a, b, fv):
        o = sbuf((32, 20), nl.bfloat16)
        r = sbuf((32, 1), nl.float32)
        nisa.select_reduce(o, p, a, fv, reduce_cmd=RC.reset_reduce)
        nisa.select_reduce(o, p, b, fv, reduce_res=r, reduce_cmd=RC.reduce)
        return o, r
    o, r = run(body, pred, x, y, f)
    e1, e2 = sel_ref(pred, x, f), sel_ref(pred, y, f)
    assert_equal(o, cast(e2, BF16))
    assert_equal(r, np.maximum(e1.max(1, keepdims=True), e2.max(1, keepdims=True)))


def test_idle_leaves_the_accumulator(rng):
    pred = np.ones((8, 4), np.uint8)
    x = random(rng, (8, 4), F32)

    def body(p, a):
        o = sbuf((8, 4), nl.float32)
        r = sbuf((8, 1), nl.float32)
        nisa.select_reduce(o, p, a, 0.0, reduce_cmd=RC.reset_reduce)
        nisa.select_reduce(o, p, a, 100.0, reduce_res=r, reverse_pred=True)  # idle
        return o, r
    o, r = run(body, pred, x)
    assert_equal(o, np.full((8, 4), 100.0, np.float32))
    assert_equal(r, x.max(1, keepdims=True))


def test_predicate_in_psum(rng):
    pred = rng.integers(0, 2, size=(16, 8)).astype(np.float32)
    x = random(rng, (16, 8), F32)

    def body(p, a):
        pp = psum((16, 8), nl.uint16)
        nisa.tensor_copy(pp, p)
        o = sbuf((16, 8), nl.float32)
        nisa.select_reduce(o, pp, a, 7.0)
        return o
    assert_equal(run(body, pred, x), sel_ref(pred, x, 7.0))


# ---------------------------------------------------------------- bad input
def t(shape, dtype=nl.float32, buf=nl.sbuf):
    x = nl.ndarray(shape, dtype=dtype, buffer=buf)
    nisa.memset(x, 0)
    return x


def test_rejects_float_predicate():
    fails(lambda: nisa.select_reduce(t((16, 8)), t((16, 8)), t((16, 8)), 0.0),
          r"nki\.isa\.select_reduce: predicate: dtype must be int8, uint8, int16 or uint16, found float32")


def test_rejects_int32_on_true():
    fails(lambda: nisa.select_reduce(t((16, 8), nl.int32), t((16, 8), nl.uint8), t((16, 8), nl.int32), 0.0),
          r"select_reduce: on_true: dtype cannot be tfloat32, int32 or uint32, found int32")


def test_rejects_both_in_psum():
    fails(lambda: nisa.select_reduce(t((16, 8)), t((16, 8), nl.uint8, nl.psum),
                                     t((16, 8), buf=nl.psum), 0.0),
          r"select_reduce: predicate: on_true and predicate cannot both be in psum")


def test_rejects_reduce_op_and_cmd():
    fails(lambda: nisa.select_reduce(t((16, 8)), t((16, 8), nl.uint8), t((16, 8)), 0.0,
                                     reduce_op=nl.add),
          r"select_reduce: reduce_op: only nl\.maximum is supported, found add")
    fails(lambda: nisa.select_reduce(t((16, 8)), t((16, 8), nl.uint8), t((16, 8)), 0.0,
                                     reduce_cmd=RC.load_reduce),
          r"select_reduce: reduce_cmd: must be idle, reset_reduce or reduce, found load_reduce")


def test_rejects_shapes():
    fails(lambda: nisa.select_reduce(t((16, 8)), t((16, 4), nl.uint8), t((16, 8)), 0.0),
          r"select_reduce: predicate: 4 elements per partition .* must equal those of on_true")
    fails(lambda: nisa.select_reduce(t((16, 8)), t((16, 8), nl.uint8), t((16, 8)), 0.0,
                                     reduce_res=t((16, 2))),
          r"select_reduce: reduce_res: must have shape \(16, 1\)")
    fails(lambda: nisa.select_reduce(t((16, 8)), t((16, 8), nl.uint8), t((16, 8)), 0.0,
                                     reduce_res=t((16, 1), nl.int32)),
          r"select_reduce: reduce_res: dtype must be a float type, found int32")
