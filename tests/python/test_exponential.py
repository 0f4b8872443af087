"""nisa.exponential (trn3 only): dst = exp(src - max_value) in float32; with reduce_cmd the
Vector accumulator sums dst per partition (reset_reduce from 0, load_reduce from reduce_init,
reduce continuing) and reduce_res receives it."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from _issue7 import fails
from conftest import BF16, F32, NL, assert_close, random, run, sbuf, ulp_tol

RC = nisa.reduce_cmd


@pytest.mark.parametrize("shape", [(128, 64), (37, 5), (4, 3, 2, 5)])
def test_scalar_max_value(rng, shape):
    x = random(rng, shape, F32, -3, 3)

    def body(a):
        o = sbuf(shape, nl.float32)
        nisa.exponential(o, a, max_value=1.5)
        return o
    assert_close(run(body, x), np.exp(x.astype(np.float64) - 1.5), rtol=2e-6)


@pytest.mark.parametrize("dout", [F32, BF16], ids=lambda d: np.dtype(d).name)
def test_vector_max_value_with_reset_reduce(rng, dout):
    x = random(rng, (64, 300), F32, -3, 3)
    m = x.max(axis=1, keepdims=True)

    def body(a, mv):
        o = sbuf(x.shape, NL[dout])
        r = sbuf((64, 1), nl.float32)
        nisa.exponential(o, a, max_value=mv, reduce_res=r, reduce_cmd=RC.reset_reduce)
        return o, r
    o, r = run(body, x, m)
    e = np.exp(x.astype(np.float64) - m)
    assert_close(o, e, rtol=ulp_tol(dout) + 2e-6)
    assert_close(r, e.sum(axis=1, keepdims=True), rtol=1e-5)


def test_load_reduce_and_reduce(rng):
    x = random(rng, (16, 20), F32, -2, 2)
    y = random(rng, (16, 20), F32, -2, 2)
    init = random(rng, (16, 1), F32, 0, 3)

    def body(a, b, i):
        o = sbuf(x.shape, nl.float32)
        r = sbuf((16, 1), nl.float32)
        nisa.exponential(o, a, reduce_cmd=RC.load_reduce, reduce_init=i)
        nisa.exponential(o, b, reduce_res=r, reduce_cmd=RC.reduce)
        return r
    e = init + np.exp(x.astype(np.float64)).sum(1, keepdims=True) + \
        np.exp(y.astype(np.float64)).sum(1, keepdims=True)
    assert_close(run(body, x, y, init), e, rtol=1e-5)


@pytest.mark.parametrize("target", ["trn1", "trn2"])
def test_trn3_only(set_target, target):
    set_target(target)

    def k():
        a = sbuf((16, 8), nl.float32)
        nisa.memset(a, 0.0)
        nisa.exponential(sbuf((16, 8), nl.float32), a)
    with pytest.raises(nisa.NkiValidationError, match=r"nki\.isa\.exponential"):
        nki.simulate(k)()


# ---------------------------------------------------------------- bad input
def t(shape, dtype=nl.float32):
    x = sbuf(shape, dtype)
    nisa.memset(x, 0)
    return x


def test_rejects_reduce_init_without_load_reduce():
    fails(lambda: nisa.exponential(t((16, 8)), t((16, 8)), reduce_init=1.0,
                                   reduce_cmd=RC.reset_reduce),
          r"nki\.isa\.exponential: reduce_init: must be unset or 0\.0 unless reduce_cmd is load_reduce")


def test_rejects_uint32_dst():
    fails(lambda: nisa.exponential(t((16, 8), nl.uint32), t((16, 8))),
          r"exponential: dst: dtype must be .* found uint32")


def test_rejects_int_reduce_res():
    fails(lambda: nisa.exponential(t((16, 8)), t((16, 8)), reduce_res=t((16, 1), nl.int32),
                                   reduce_cmd=RC.reset_reduce),
          r"exponential: reduce_res: dtype must be .* found int32")


def test_rejects_5d_and_bad_max_value():
    fails(lambda: nisa.exponential(t((2, 2, 2, 2, 2)), t((2, 2, 2, 2, 2))),
          r"exponential: src: can be at most 4-D")
    fails(lambda: nisa.exponential(t((16, 8)), t((16, 8)), max_value=t((16, 1), nl.bfloat16)),
          r"exponential: max_value: a vector operand of an arithmetic op must be float32")
