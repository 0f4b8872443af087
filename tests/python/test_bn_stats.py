"""nisa.bn_stats: per partition [count, mean, var*count] of the even-indexed free elements, then
of the odd-indexed ones (float32, cast to dst); at most 512 elements per partition.
Followed by nisa.bn_aggr the result is the mean and population variance (np.var)."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from _issue7 import fails
from conftest import BF16, F32, NL, assert_close, cast, random, run, sbuf


def stats_ref(x):
    x = x.astype(np.float64).reshape(x.shape[0], -1)
    out = []
    for half in (x[:, 0::2], x[:, 1::2]):
        n = half.shape[1]
        mean = half.mean(axis=1) if n else np.zeros(x.shape[0])
        m2 = ((half - mean[:, None]) ** 2).sum(axis=1) if n else np.zeros(x.shape[0])
        out += [np.full(x.shape[0], n), mean, m2]
    return np.stack(out, axis=1)


@pytest.mark.parametrize("shape", [(128, 512), (37, 5), (3, 1), (8, 4, 9)])
def test_even_and_odd_statistics(rng, shape):
    x = random(rng, shape, F32, -3, 3)

    def body(a):
        o = sbuf((shape[0], 6), nl.float32)
        nisa.bn_stats(o, a)
        return o
    assert_close(run(body, x), stats_ref(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("din,dout", [(BF16, F32), (F32, BF16)])
def test_dtypes(rng, din, dout):
    x = random(rng, (16, 100), din, -2, 2)

    def body(a):
        o = sbuf((16, 6), NL[dout])
        nisa.bn_stats(o, a)
        return o
    assert_close(run(body, x), cast(stats_ref(x), dout), rtol=1e-2 if dout == BF16 else 1e-5,
                 atol=1e-5)


def test_with_bn_aggr_over_several_tiles_gives_mean_and_variance(rng):
    x = random(rng, (96, 1300), F32, -3, 5)

    def body(a):
        st = sbuf((96, 6 * 3), nl.float32)
        for i, k in enumerate(range(0, 1300, 512)):
            n = min(512, 1300 - k)
            nisa.bn_stats(st[:, 6 * i:6 * i + 6], a[:, k:k + n])
        o = sbuf((96, 2), nl.float32)
        nisa.bn_aggr(o, st)
        return o
    out = run(body, x)
    assert_close(out[:, 0], x.astype(np.float64).mean(axis=1), rtol=1e-5, atol=1e-5)
    assert_close(out[:, 1], x.astype(np.float64).var(axis=1), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- bad input
def t(shape, dtype=nl.float32, buf=nl.sbuf):
    x = nl.ndarray(shape, dtype=dtype, buffer=buf)
    nisa.memset(x, 0)
    return x


def test_rejects_more_than_512_elements():
    fails(lambda: nisa.bn_stats(t((16, 6)), t((16, 513))),
          r"nki\.isa\.bn_stats: data: at most 512 elements per partition .* found 513")


def test_rejects_dst_size():
    fails(lambda: nisa.bn_stats(t((16, 4)), t((16, 64))),
          r"nki\.isa\.bn_stats: dst: must hold 6 elements per partition")


def test_rejects_partition_mismatch_and_hbm():
    fails(lambda: nisa.bn_stats(t((8, 6)), t((16, 64))),
          r"bn_stats: dst: partition dimension 8 must equal that of data, 16")

    def k():
        h = nl.ndarray((16, 64), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.bn_stats(t((16, 6)), h)
    fails(k, r"bn_stats: data: must be in sbuf or psum")
