"""nisa.activation_reduce: dst = op(data * scale + bias) and reduce_res = the per-partition sum of
the activated values (0.3.0: the same as activation with reduce_cmd=reset_reduce)."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from conftest import assert_close, kernel_raises, random, run, sbuf


@pytest.mark.parametrize("shape", [(128, 64), (37, 5), (1, 300)])
def test_exp_with_row_sums(rng, shape):
    x = random(rng, shape, np.float32, -2, 2)
    bias = random(rng, (shape[0], 1), np.float32, -1, 1)

    def body(t, b):
        d = sbuf(shape, nl.float32)
        r = sbuf((shape[0], 1), nl.float32)
        nisa.activation_reduce(d, nl.exp, t, reduce_op=nl.add, reduce_res=r, bias=b, scale=0.5)
        return d, r

    d, r = run(body, x, bias)
    ref = np.exp(x.astype(np.float64) * 0.5 + bias)
    assert_close(d, ref, rtol=2e-6)
    assert_close(r, ref.sum(axis=1, keepdims=True), rtol=1e-5)


def test_resets_the_accumulator_each_time(rng):
    x = random(rng, (16, 8), np.float32)

    def body(t):
        d = sbuf((16, 8), nl.float32)
        r = sbuf((16, 1), nl.float32)
        nisa.activation_reduce(d, nl.copy, t, nl.add, r)
        nisa.activation_reduce(d, nl.copy, t, nl.add, r)  # reset_reduce: not 2x
        return r

    assert_close(run(body, x), x.astype(np.float64).sum(axis=1, keepdims=True), rtol=1e-5)


def test_reduce_res_is_required():
    def body(t):
        d = sbuf((16, 8), nl.float32)
        with kernel_raises(TypeError, match=r"activation_reduce\(\) missing required argument: "
                                            r"'reduce_res'"):
            nisa.activation_reduce(d, nl.copy, t, nl.add)
        return d

    run(body, np.zeros((16, 8), np.float32))
