"""nisa.dropout and nl.dropout: zero each element with probability prob (issue 10)."""
import ml_dtypes
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import sbuf, store, load, random
from rng_ref import vector_states, vector_draw, unit, counter_draw


def dropout(x, prob, seed=4, dst_dtype=None, lang=False, lang_dtype=None):
    def kernel(xa, *pa):
        s = sbuf((1, 1), nl.int32)
        nisa.memset(s, seed)
        nisa.set_rng_seed(s)
        t = load(xa)
        p = load(pa[0]) if pa else prob
        if lang:
            return store(nl.dropout(t, p, dtype=lang_dtype))
        o = sbuf(t.shape, dst_dtype or t.dtype)
        nisa.dropout(o, t, p)
        return store(o)
    args = (x, prob) if isinstance(prob, np.ndarray) else (x,)
    return nki.simulate(kernel)(*args)


def keep_mask(P, n, prob, seed=4):
    u = unit(vector_draw(vector_states(seed)[:P], n)[0])
    return u >= np.asarray(prob, np.float32)


@pytest.mark.parametrize("dtype", [np.float32, ml_dtypes.bfloat16, np.float16, np.int32, np.int8,
                                   np.uint16], ids=lambda d: np.dtype(d).name)
def test_exact_against_the_generator(rng, dtype):
    x = random(rng, (128, 77), dtype, lo=1, hi=100)
    out = dropout(x, 0.25)
    mask = keep_mask(128, 77, 0.25)
    np.testing.assert_array_equal(out, np.where(mask, x, np.zeros_like(x)))


def test_drop_rate_statistics():
    x = np.ones((128, 2048), np.float32)
    for p in (0.1, 0.5, 0.9):
        out = dropout(x, p)
        assert abs((out == 0).mean() - p) < 0.005, p
        assert set(np.unique(out)) <= {0.0, 1.0}  # no 1/(1-p) rescaling


def test_prob_0_keeps_and_prob_1_drops(rng):
    x = random(rng, (64, 40), np.float32, lo=1, hi=9)
    np.testing.assert_array_equal(dropout(x, 0.0), x)
    np.testing.assert_array_equal(dropout(x, 1.0), np.zeros_like(x))


def test_per_partition_prob_tile():
    P = 128
    x = np.ones((P, 1024), np.float32)
    prob = np.linspace(0, 1, P, dtype=np.float32).reshape(P, 1)
    out = dropout(x, prob)
    np.testing.assert_array_equal(out, np.where(keep_mask(P, 1024, prob), 1.0, 0.0).astype(np.float32))
    rates = (out == 0).mean(axis=1)
    assert np.abs(rates - prob.ravel()).max() < 0.07
    assert rates[0] == 0 and rates[-1] == 1


def test_bf16_prob_tile_for_float_data():
    x = np.ones((8, 64), np.float32)
    prob = np.full((8, 1), 0.5, ml_dtypes.bfloat16)
    out = dropout(x, prob)
    np.testing.assert_array_equal(out, np.where(keep_mask(8, 64, 0.5), 1.0, 0.0).astype(np.float32))


@pytest.mark.parametrize("target", ["trn1", "trn2"])
def test_older_targets_use_the_counter_generator(set_target, target):
    set_target(target)
    x = np.ones((4, 32), np.float32)
    out = dropout(x, 0.5, seed=10)
    u = unit(counter_draw(10, range(4), 0, 32))
    np.testing.assert_array_equal(out, (u >= 0.5).astype(np.float32))


def test_nl_dropout_and_dtype(rng):
    x = random(rng, (32, 50), np.float32, lo=1, hi=3)
    out = dropout(x, 0.3, lang=True)
    mask = keep_mask(32, 50, 0.3)
    np.testing.assert_array_equal(out, np.where(mask, x, 0).astype(np.float32))
    outb = dropout(x, 0.3, lang=True, lang_dtype=nl.bfloat16)
    assert outb.dtype == np.dtype(ml_dtypes.bfloat16)
    np.testing.assert_array_equal(outb, np.where(mask, x, 0).astype(ml_dtypes.bfloat16))


def test_errors():
    x = np.ones((8, 8), np.float32)
    with pytest.raises(nisa.NkiValidationError, match=r"nki\.isa\.dropout: dst: dtype must match data's float32, found bfloat16"):
        dropout(x, 0.5, dst_dtype=nl.bfloat16)
    with pytest.raises(nisa.NkiValidationError,
                       match=r"nki\.isa\.dropout: prob: must be float32 when data is an integer type, found bfloat16"):
        dropout(np.ones((8, 8), np.int32), np.full((8, 1), 0.5, ml_dtypes.bfloat16))
    with pytest.raises(nisa.NkiValidationError, match=r"nki\.isa\.dropout: prob: must be a float type, found int32"):
        dropout(x, np.zeros((8, 1), np.int32))
    with pytest.raises(nisa.NkiValidationError, match=r"nki\.isa\.dropout: prob: a vector operand must have shape \(8, 1\)"):
        dropout(x, np.zeros((8, 2), np.float32))
