"""nisa.max8: the 8 largest values of each partition (all free dims flattened, compared in
float32) in descending order, written to dst [P, 8] with one rounding to dst's dtype. src has
8..16384 elements per partition and at most 5 dims.

Choices where 0.3.0 is silent (also in the ops.def summary and docs/notes): equal values each
take a slot; NaN ranks above +inf (so max8 -> nc_match_replace8 rounds also consume NaNs)."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from conftest import BF16, F16, F32, I32, NL, assert_equal, cast, dtype_id, kernel_raises, run, sbuf

V = nisa.NkiValidationError


def distinct(rng, shape, dtype=F32):
    """Random values without repeats within a partition (exact in `dtype`)."""
    p, f = shape[0], int(np.prod(shape[1:]))
    if np.dtype(dtype).kind in "iu":
        v = np.stack([rng.permutation(f) - f // 2 for _ in range(p)])
    elif np.dtype(dtype) in (BF16,):
        v = np.stack([rng.permutation(f) for _ in range(p)]) - f // 2  # ints are exact in bf16
        v = v.astype(np.float32) / 4
    else:
        v = np.stack([rng.permutation(f) for _ in range(p)]).astype(np.float32) - f // 2
        v = v * np.float32(0.37)
    return v.reshape(shape).astype(dtype)


def ref_max8(x):
    """Sort each partition descending, NaN first; keep 8."""
    f = x.reshape(x.shape[0], -1).astype(np.float32)
    key = np.where(f == np.inf, 1e300, f.astype(np.float64))
    key = np.where(np.isnan(f), np.inf, key)       # NaN above +inf
    order = np.argsort(-key, axis=1, kind="stable")[:, :8]
    out = np.take_along_axis(f, order, axis=1)
    return out


def max8_body(dst_dtype=nl.float32):
    def body(x):
        d = sbuf((x.shape[0], 8), dst_dtype)
        nisa.max8(d, x)
        return d
    return body


@pytest.mark.parametrize("shape", [(128, 4096), (5, 8), (37, 3, 100), (1, 16384), (64, 2, 3, 4, 5)])
def test_random_distinct_f32(rng, shape):
    x = distinct(rng, shape)
    assert_equal(run(max8_body(), x), ref_max8(x))


@pytest.mark.parametrize("src_dtype", [F32, BF16, F16, I32], ids=dtype_id)
@pytest.mark.parametrize("dst_dtype", [F32, BF16, I32], ids=dtype_id)
def test_dtypes_cast_once(rng, src_dtype, dst_dtype):
    x = distinct(rng, (32, 300), src_dtype)
    out = run(max8_body(NL[dst_dtype]), x)
    assert_equal(out, cast(ref_max8(x), dst_dtype))


def test_keyword_call_and_psum_operands(rng):
    x = distinct(rng, (16, 64))

    def body(t):
        p = nl.ndarray(t.shape, dtype=nl.float32, buffer=nl.psum)
        nisa.tensor_copy(p, t)
        d = nl.ndarray((16, 8), dtype=nl.float32, buffer=nl.psum)
        nisa.max8(dst=d, src=p)
        return d
    assert_equal(run(body, x), ref_max8(x))


def test_ties_take_a_slot_each(rng):
    x = np.zeros((4, 20), np.float32)
    x[0, [3, 9, 15]] = 7.0                  # a value three times, then the rest
    x[1, :] = 1.0                           # all equal
    x[2, :] = np.arange(20) % 3             # 2.0 six times, then 1.0
    x[3, [0, 5]] = -0.0                     # -0.0 and 0.0 compare equal
    x[3, 1:5] = -1.0
    out = run(max8_body(), x)
    np.testing.assert_array_equal(out[0], [7, 7, 7, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(out[1], np.ones(8))
    np.testing.assert_array_equal(out[2], [2, 2, 2, 2, 2, 2, 1, 1])
    assert (out[3] == 0).all()


def test_infinities_and_nan_rank_first(rng):
    x = distinct(rng, (3, 40))
    x[0, 5] = np.inf
    x[0, 7] = -np.inf
    x[1, [2, 30]] = np.nan
    x[1, 10] = np.inf
    x[2, :] = -np.inf
    out = run(max8_body(), x)
    assert out[0, 0] == np.inf and (np.diff(out[0]) < 0).all()
    assert np.isnan(out[1, :2]).all() and out[1, 2] == np.inf
    np.testing.assert_array_equal(out[1, 3:], ref_max8(x[1:2, np.r_[0:2, 3:10, 11:30, 31:40]])[0, :5])
    assert (out[2] == -np.inf).all()


def test_strided_source_view(rng):
    x = distinct(rng, (8, 64))

    def body(t):
        d = sbuf((8, 8), nl.float32)
        nisa.max8(d, t[:, 1:64:2])
        return d
    assert_equal(run(body, x), ref_max8(x[:, 1::2].copy()))


# ---------------------------------------------------------------- rules
def bad(body, x, match):
    with kernel_raises(V, match=match):
        run(body, x)


@pytest.mark.parametrize("dshape,match", [
    ((16, 7), r"nki\.isa\.max8: dst: must have shape \[16, 8\].*found \[16, 7\]"),
    ((8, 8), r"nki\.isa\.max8: dst: must have shape \[16, 8\].*found \[8, 8\]"),
    ((16, 16), r"nki\.isa\.max8: dst: must have shape \[16, 8\]"),
])
def test_dst_must_be_p_by_8(rng, dshape, match):
    def body(t):
        nisa.max8(sbuf(dshape, nl.float32), t)
        return t
    bad(body, distinct(rng, (16, 32)), match)


@pytest.mark.parametrize("f", [7, 16385])
def test_elements_per_partition_8_to_16384(rng, f):
    def body(t):
        nisa.max8(sbuf((2, 8), nl.float32), t)
        return t
    bad(body, np.ones((2, f), np.float32),
        r"nki\.isa\.max8: src: must have between 8 and 16384 elements per partition, found " + str(f))


def test_src_at_most_5_dims():
    def body(t):
        nisa.max8(sbuf((2, 8), nl.float32), t.reshape((2, 2, 2, 2, 2, 2)))
        return t
    bad(body, np.ones((2, 32), np.float32), r"nki\.isa\.max8: src: may have at most 5 dimensions")


def test_src_may_not_be_in_hbm():
    import nki

    def k(a):
        d = sbuf((2, 8), nl.float32)
        nisa.max8(d, a)
        return a
    with kernel_raises(V, match=r"nki\.isa\.max8: src: must be in sbuf or psum"):
        nki.simulate(k)(np.ones((2, 16), np.float32))


@pytest.mark.parametrize("f", [8, 9, 31, 32, 33, 63, 64, 65, 200, 255, 511, 1000, 16384])
def test_many_ties_nans_and_infinities_across_chunk_boundaries(rng, f):
    """Few distinct values (so ties everywhere), some NaN and +-inf, at every size class."""
    x = rng.integers(-3, 4, size=(16, f)).astype(np.float32)
    x[rng.random((16, f)) < 0.01] = np.nan
    x[rng.random((16, f)) < 0.01] = np.inf
    x[rng.random((16, f)) < 0.01] = -np.inf
    x[3] = -np.inf
    x[4, :] = 1.0
    x[4, f - 1] = 2.0           # the largest value last
    assert_equal(run(max8_body(), x), ref_max8(x))
