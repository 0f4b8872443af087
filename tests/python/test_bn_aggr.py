"""nisa.bn_aggr: combine (count, mean, var*count) triples per partition into (mean, population
variance), float32, cast to dst."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from _issue7 import fails
from conftest import F32, assert_close, random, run, sbuf


def aggr_ref(t):
    t = t.astype(np.float64).reshape(t.shape[0], -1, 3)
    n = t[:, :, 0].sum(axis=1)
    mean = (t[:, :, 0] * t[:, :, 1]).sum(axis=1) / n
    m2 = (t[:, :, 2] + t[:, :, 0] * (t[:, :, 1] - mean[:, None]) ** 2).sum(axis=1)
    return np.stack([mean, m2 / n], axis=1)


@pytest.mark.parametrize("k,parts", [(1, 128), (4, 37), (7, 3)])
def test_combines_triples(rng, k, parts):
    t = np.empty((parts, k, 3), np.float32)
    t[:, :, 0] = rng.integers(1, 50, size=(parts, k))
    t[:, :, 1] = random(rng, (parts, k), F32, -2, 2)
    t[:, :, 2] = random(rng, (parts, k), F32, 0, 5) * t[:, :, 0]
    t = t.reshape(parts, 3 * k)

    def body(a):
        o = sbuf((parts, 2), nl.float32)
        nisa.bn_aggr(o, a)
        return o
    assert_close(run(body, t), aggr_ref(t), rtol=1e-5, atol=1e-5)


def test_bn_stats_then_aggr_equals_numpy_var(rng):
    x = random(rng, (64, 301), F32, -4, 4)

    def body(a):
        s = sbuf((64, 6), nl.float32)
        nisa.bn_stats(s, a)
        o = sbuf((64, 2), nl.float32)
        nisa.bn_aggr(o, s)
        return o
    out = run(body, x)
    assert_close(out[:, 0], x.astype(np.float64).mean(1), rtol=1e-5, atol=1e-6)
    assert_close(out[:, 1], x.astype(np.float64).var(1), rtol=1e-5, atol=1e-6)


def t(shape, dtype=nl.float32):
    x = sbuf(shape, dtype)
    nisa.memset(x, 1.0)
    return x


def test_rejects_non_multiple_of_three():
    fails(lambda: nisa.bn_aggr(t((16, 2)), t((16, 7))),
          r"nki\.isa\.bn_aggr: data: elements per partition must be a multiple of 3")


def test_rejects_dst_size():
    fails(lambda: nisa.bn_aggr(t((16, 3)), t((16, 6))),
          r"nki\.isa\.bn_aggr: dst: must hold 2 elements per partition")
