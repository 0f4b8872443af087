"""nisa.range_select (trn2+): j = range_start + free index (float32);
dst = comp_op0(j, bound0[p]) and comp_op1(j, bound1[p]) ? on_true_tile : FP32_MIN; the maximum of
dst per partition goes to the Vector accumulator under reduce_cmd (default reset_reduce) and to
reduce_res."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from _issue7 import fails
from conftest import BF16, F32, NL, assert_equal, cast, psum, random, run, sbuf

RC = nisa.reduce_cmd
FMIN = np.float32(-3.4028235e+38)
CMP = {"equal": np.equal, "less": np.less, "less_equal": np.less_equal, "greater": np.greater,
       "greater_equal": np.greater_equal}


def rs_ref(x, c0, c1, b0, b1, start=0):
    idx = (start + np.arange(x.shape[1])).astype(np.float32)[None, :]
    m = CMP[c0](idx, b0) & CMP[c1](idx, b1)
    return np.where(m, x.astype(np.float32), FMIN).astype(np.float32)


@pytest.mark.parametrize("c0,c1", [("greater_equal", "less"), ("greater", "less_equal"),
                                   ("equal", "less_equal")])
@pytest.mark.parametrize("shape,start", [((128, 64), 0), ((37, 5), 3), ((8, 2100), 100)])
def test_masks_and_max(rng, c0, c1, shape, start):
    x = random(rng, shape, F32)
    b0 = rng.integers(start - 2, start + shape[1], size=(shape[0], 1)).astype(np.float32)
    b1 = b0 + rng.integers(0, 10, size=(shape[0], 1)).astype(np.float32)

    def body(a, lo, hi):
        o = sbuf(shape, nl.float32)
        r = sbuf((shape[0], 1), nl.float32)
        nisa.range_select(o, a, getattr(nl, c0), getattr(nl, c1), lo, hi, reduce_res=r,
                          range_start=start, on_false_value=-3.4028235e+38)
        return o, r
    o, r = run(body, x, b0, b1)
    e = rs_ref(x, c0, c1, b0, b1, start)
    assert_equal(o, e)
    assert_equal(r, e.max(axis=1, keepdims=True))


def test_bf16_dst_fill_becomes_minus_inf_and_reduce_continues(rng):
    x = random(rng, (16, 12), F32)
    y = random(rng, (16, 12), F32)
    b0 = np.full((16, 1), 2.0, np.float32)
    b1 = np.full((16, 1), 6.0, np.float32)

    def body(a, b, lo, hi):
        p = psum((16, 12))
        nisa.tensor_copy(p, b)
        o = sbuf((16, 12), nl.bfloat16)
        r = sbuf((16, 1), nl.float32)
        nisa.range_select(o, a, nl.greater_equal, nl.less, lo, hi)
        nisa.range_select(o, p, nl.greater_equal, nl.less, lo, hi, reduce_cmd=RC.reduce,
                          reduce_res=r, range_start=4)
        return o, r
    o, r = run(body, x, y, b0, b1)
    e1 = rs_ref(x, "greater_equal", "less", b0, b1)
    e2 = rs_ref(y, "greater_equal", "less", b0, b1, 4)
    assert_equal(o, cast(e2, BF16))
    assert np.isneginf(o.astype(np.float32)[:, 3]).all()
    assert_equal(r, np.maximum(e1.max(1, keepdims=True), e2.max(1, keepdims=True)))


@pytest.mark.parametrize("target", ["trn1"])
def test_not_on_trn1(set_target, target):
    set_target(target)

    def k():
        a = sbuf((16, 8), nl.float32)
        nisa.memset(a, 0.0)
        b = sbuf((16, 1), nl.float32)
        nisa.memset(b, 0.0)
        nisa.range_select(sbuf((16, 8), nl.float32), a, nl.less, nl.less, b, b)
    with pytest.raises(nisa.NkiValidationError, match=r"nki\.isa\.range_select"):
        nki.simulate(k)()


# ---------------------------------------------------------------- bad input
def t(shape, dtype=nl.float32):
    x = sbuf(shape, dtype)
    nisa.memset(x, 0)
    return x


def test_rejects_on_false_value_other_than_fp32_min():
    fails(lambda: nisa.range_select(t((16, 8)), t((16, 8)), nl.less, nl.less, t((16, 1)),
                                    t((16, 1)), on_false_value=0.0),
          r"nki\.isa\.range_select: on_false_value: must be FP32_MIN")


def test_rejects_comparison_op():
    fails(lambda: nisa.range_select(t((16, 8)), t((16, 8)), nl.add, nl.less, t((16, 1)), t((16, 1))),
          r"range_select: comp_op0: must be nl\.equal, .* found add")
    fails(lambda: nisa.range_select(t((16, 8)), t((16, 8)), nl.less, nl.not_equal, t((16, 1)),
                                    t((16, 1))),
          r"range_select: comp_op1: must be nl\.equal, .* found not_equal")


def test_rejects_bounds():
    fails(lambda: nisa.range_select(t((16, 8)), t((16, 8)), nl.less, nl.less, 3.0, t((16, 1))),
          r"range_select: bound0: must be a \(16, 1\) float32 tile")
    fails(lambda: nisa.range_select(t((16, 8)), t((16, 8)), nl.less, nl.less, t((16, 1)),
                                    t((16, 1), nl.bfloat16)),
          r"range_select: bound1: a vector operand of an arithmetic op must be float32")


def test_rejects_int_on_true_and_reduce_op_and_range():
    fails(lambda: nisa.range_select(t((16, 8)), t((16, 8), nl.int16), nl.less, nl.less, t((16, 1)),
                                    t((16, 1))),
          r"range_select: on_true_tile: dtype must be a float type, found int16")
    fails(lambda: nisa.range_select(t((16, 8)), t((16, 8)), nl.less, nl.less, t((16, 1)),
                                    t((16, 1)), reduce_op=nl.add),
          r"range_select: reduce_op: only nl\.maximum is supported")
    fails(lambda: nisa.range_select(t((16, 8)), t((16, 8)), nl.less, nl.less, t((16, 1)),
                                    t((16, 1)), range_start=2**24),
          r"range_select: range_start: range_start \+ free index must stay within 2\^24")
    fails(lambda: nisa.range_select(t((16, 8)), t((16, 8)), nl.less, nl.less, t((16, 1)),
                                    t((16, 1)), reduce_cmd=RC.load_reduce),
          r"range_select: reduce_cmd: load_reduce is not available")
