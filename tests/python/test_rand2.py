"""nisa.rand2: uniform values in [min, max] from the trn3 Vector engine's XORWOW (issue 10)."""
import ml_dtypes
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import sbuf, store, load, cast
from rng_ref import vector_states, vector_draw, unit


def rand2(shape, lo, hi, dtype=nl.float32, seed=3, buffer=nl.sbuf, args=()):
    def kernel(*arrs):
        s = sbuf((1, 1), nl.int32)
        nisa.memset(s, seed)
        nisa.set_rng_seed(s)
        t = nl.ndarray(shape, dtype=dtype, buffer=buffer)
        mn = load(arrs[0]) if isinstance(lo, np.ndarray) else lo
        mx = load(arrs[-1]) if isinstance(hi, np.ndarray) else hi
        nisa.rand2(t, mn, mx)
        return store(t)
    arrays = [a for a in (lo, hi) if isinstance(a, np.ndarray)]
    return nki.simulate(kernel)(*arrays)


def reference(P, n, lo, hi, seed=3):
    u = unit(vector_draw(vector_states(seed)[:P], n)[0])
    lo = np.float32(lo) if np.isscalar(lo) else lo.astype(np.float32)
    hi = np.float32(hi) if np.isscalar(hi) else hi.astype(np.float32)
    return (lo + u * (hi - lo)).astype(np.float32)


def test_float32_bit_exact_and_in_range():
    out = rand2((128, 300), -2.0, 5.0)
    ref = reference(128, 300, -2.0, 5.0)
    np.testing.assert_array_equal(out, ref)
    assert out.min() >= -2.0 and out.max() <= 5.0
    assert abs(out.mean() - 1.5) < 0.02
    assert abs(out.var() - 49 / 12) < 0.05


def test_vector_min_max_per_partition():
    P = 64
    lo = np.linspace(-10, 0, P, dtype=np.float32).reshape(P, 1)
    hi = lo + np.linspace(0.5, 20, P, dtype=np.float32).reshape(P, 1)
    out = rand2((P, 100), lo, hi)
    np.testing.assert_array_equal(out, reference(P, 100, lo, hi))
    assert (out >= lo).all() and (out <= hi).all()


@pytest.mark.parametrize("nl_dt,np_dt", [(nl.bfloat16, ml_dtypes.bfloat16), (nl.float16, np.float16),
                                         (nl.float8_e4m3, ml_dtypes.float8_e4m3),
                                         (nl.float8_e5m2, ml_dtypes.float8_e5m2),
                                         (nl.int32, np.int32), (nl.uint8, np.uint8),
                                         (nl.int16, np.int16)], ids=str)
def test_cast_once_to_dst(nl_dt, np_dt):
    out = rand2((32, 64), 0.0, 200.0, dtype=nl_dt)
    np.testing.assert_array_equal(out, cast(reference(32, 64, 0.0, 200.0), np_dt))


def test_psum_dst_and_tfloat32():
    out = rand2((16, 20), 1.0, 2.0, buffer=nl.psum)
    np.testing.assert_array_equal(out, reference(16, 20, 1.0, 2.0))


def test_errors(set_target):
    with pytest.raises(nisa.NkiValidationError, match=r"nki\.isa\.rand2: max: the range needs min < max"):
        rand2((8, 8), 1.0, 1.0)
    lo = np.zeros((8, 1), np.float32)
    hi = np.ones((8, 1), np.float32)
    hi[3] = -1
    with pytest.raises(nisa.NkiValidationError, match=r"rand2: max: the range needs min < max.*partition 3"):
        rand2((8, 8), lo, hi)
    with pytest.raises(nisa.NkiValidationError, match=r"rand2: min: a vector operand must have shape \(8, 1\)"):
        rand2((8, 8), np.zeros((4, 1), np.float32), 1.0)
    with pytest.raises(nisa.NkiValidationError, match=r"rand2: dst: dtype must be one of .*found float8_e4m3fn"):
        rand2((8, 8), 0.0, 1.0, dtype=nl.float8_e4m3fn)
    with pytest.raises(nisa.NkiValidationError, match=r"rand2: dst: dtype must be one of .*found bool"):
        rand2((8, 8), 0.0, 1.0, dtype=nl.bool_)
    set_target("trn2")
    with pytest.raises(nisa.NkiValidationError, match=r"nki\.isa\.rand2.*not available on trn2"):
        rand2((8, 8), 0.0, 1.0)
