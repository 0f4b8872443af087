"""nisa.nc_find_index8: dst[p, k] = index (in data[p]'s flattened free dims) of the first
occurrence of vals[p, k], compared in float32. data: 8..16384 elements per partition, <= 5 dims;
vals: exactly 8 per partition, <= 3 dims; dst: [P, 8] uint32 or uint16.

Choices (0.3.0 calls a missing value undefined; later docs describe the hardware, which we
follow): a value repeated in vals takes successive occurrences in ascending order; a value with
no (further) occurrence gives all ones (0xFFFFFFFF / 0xFFFF); NaN in vals matches NaN in data."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from conftest import BF16, F32, I32, assert_equal, kernel_raises, run, sbuf
from test_max8 import distinct

V = nisa.NkiValidationError
U32 = np.dtype(np.uint32)
U16 = np.dtype(np.uint16)


def ref_find(data, vals, ascending=True):
    """Independent reference: the k-th repeat of a value takes its k-th occurrence."""
    d = data.reshape(data.shape[0], -1).astype(np.float32)
    v = vals.reshape(vals.shape[0], -1).astype(np.float32)
    out = np.full(v.shape, -1, np.int64)
    for p in range(d.shape[0]):
        order = range(8) if ascending else range(7, -1, -1)
        taken = set()
        for k in order:
            eq = (d[p] == v[p, k]) | (np.isnan(d[p]) & np.isnan(v[p, k]))
            for i in np.flatnonzero(eq):
                if i not in taken:
                    taken.add(i)
                    out[p, k] = i
                    break
    return out


def as_index(x, dtype):
    return np.where(x < 0, np.iinfo(dtype).max, x).astype(dtype)


def find_body(dst_dtype=nl.uint32):
    def body(data, vals):
        d = sbuf((data.shape[0], 8), dst_dtype)
        nisa.nc_find_index8(d, data, vals)
        return d
    return body


def pick(rng, x, k=8):
    """8 values per partition picked at random positions of x (distinct positions)."""
    f = x.reshape(x.shape[0], -1)
    pos = np.stack([rng.choice(f.shape[1], k, replace=False) for _ in range(f.shape[0])])
    return np.take_along_axis(f, pos, axis=1).copy(), pos


@pytest.mark.parametrize("shape", [(128, 4096), (7, 8), (33, 4, 50), (2, 16384), (4, 2, 2, 2, 9)])
@pytest.mark.parametrize("dst_dtype", [U32, U16], ids=str)
def test_random_distinct(rng, shape, dst_dtype):
    x = distinct(rng, shape)
    vals, pos = pick(rng, x)
    out = run(find_body(nl.uint32 if dst_dtype == U32 else nl.uint16), x, vals)
    assert_equal(out, pos.astype(dst_dtype))


def test_after_max8_indices_of_the_top_8(rng):
    x = distinct(rng, (64, 1000))

    def body(t):
        v = sbuf((64, 8), nl.float32)
        nisa.max8(v, t)
        d = sbuf((64, 8), nl.uint32)
        nisa.nc_find_index8(dst=d, data=t, vals=v)
        return d
    assert_equal(run(body, x), np.argsort(-x, axis=1)[:, :8].astype(U32))


def test_bf16_data_float32_vals_compare_in_float32(rng):
    x = distinct(rng, (16, 200), BF16)
    vals, pos = pick(rng, x)
    assert_equal(run(find_body(), x, vals.astype(np.float32)), pos.astype(U32))


def test_int32_data(rng):
    x = distinct(rng, (16, 200), I32)
    vals, pos = pick(rng, x)
    assert_equal(run(find_body(), x, vals), pos.astype(U32))


def test_duplicates_take_successive_occurrences_and_missing_is_all_ones():
    x = np.zeros((3, 16), np.float32)
    x[0] = np.arange(16)
    x[0, [4, 9, 12]] = 100.0
    vals = np.zeros((3, 8), np.float32)
    vals[0] = [100, 3, 100, 5, 100, 100, 0, -7]   # 100 four times: 3 occurrences, then missing
    x[1] = np.arange(16) % 4                        # 0..3 repeated four times
    vals[1] = [0, 0, 0, 0, 0, 1, 1, 3]
    x[2] = 1.0
    vals[2] = 2.0                                   # never found
    out = run(find_body(), x, vals)
    assert_equal(out, as_index(ref_find(x, vals), U32))
    np.testing.assert_array_equal(out[0], [4, 3, 9, 5, 12, 0xFFFFFFFF, 0, 0xFFFFFFFF])
    np.testing.assert_array_equal(out[1], [0, 4, 8, 12, 0xFFFFFFFF, 1, 5, 3])
    assert (out[2] == 0xFFFFFFFF).all()
    out16 = run(find_body(nl.uint16), x, vals)
    assert (out16[2] == 0xFFFF).all()


def test_nan_matches_nan_and_signed_zeros_match():
    x = np.arange(24, dtype=np.float32).reshape(2, 12)
    x[0, 5] = np.nan
    x[1, 3] = -0.0
    x[1, 0] = 7.0
    vals = np.array([[np.nan, 1, 2, 3, 4, 6, 7, 8], [0.0, 13, 14, 16, 17, 18, 19, 7]], np.float32)
    out = run(find_body(), x, vals)
    np.testing.assert_array_equal(out[0], [5, 1, 2, 3, 4, 6, 7, 8])
    np.testing.assert_array_equal(out[1], [3, 1, 2, 4, 5, 6, 7, 0])


def test_broadcast_vals_access_pattern_as_cascaded_max(rng):
    """nki-library's cascaded_max passes the row max broadcast to 8 slots with .ap()."""
    x = distinct(rng, (96, 130))

    def body(t):
        m = sbuf((96, 1), nl.float32)
        nisa.tensor_reduce(m, nl.maximum, t, axis=1)
        d = sbuf((96, 8), nl.uint32)
        nisa.nc_find_index8(data=t[:, :], vals=m.ap([[1, 96], [0, 8]]), dst=d[...])
        return d
    out = run(body, x)
    np.testing.assert_array_equal(out[:, 0], np.argmax(x, axis=1))
    assert (out[:, 1:] == 0xFFFFFFFF).all()   # the max occurs once: later repeats find nothing


def test_vals_3d(rng):
    x = distinct(rng, (8, 40))
    vals, pos = pick(rng, x)

    def body(t, v):
        d = sbuf((8, 8), nl.uint32)
        nisa.nc_find_index8(d, t, v.reshape((8, 2, 4)))
        return d
    assert_equal(run(body, x, vals), pos.astype(U32))


# ---------------------------------------------------------------- rules
def bad(body, match, *arrays):
    with kernel_raises(V, match=match):
        run(body, *arrays)


X = np.arange(64, dtype=np.float32).reshape(4, 16)
VALS = np.arange(32, dtype=np.float32).reshape(4, 8)


@pytest.mark.parametrize("dtype", [nl.int32, nl.float32, nl.uint8])
def test_dst_dtype_uint32_or_uint16(dtype):
    def body(t, v):
        nisa.nc_find_index8(sbuf((4, 8), dtype), t, v)
        return t
    bad(body, r"nki\.isa\.nc_find_index8: dst: index dtype must be uint32 or uint16, found "
        + str(dtype), X, VALS)


@pytest.mark.parametrize("shape", [(4, 4), (4, 9), (2, 8)])
def test_dst_shape_p_by_8(shape):
    def body(t, v):
        nisa.nc_find_index8(sbuf(shape, nl.uint32), t, v)
        return t
    bad(body, r"nc_find_index8: dst: must have shape \[4, 8\]", X, VALS)


def test_vals_exactly_8_per_partition():
    def body(t, v):
        nisa.nc_find_index8(sbuf((4, 8), nl.uint32), t, v[:, 0:7])
        return t
    bad(body, r"nc_find_index8: vals: must hold exactly 8 values per partition", X, VALS)


def test_vals_at_most_3_dims():
    def body(t, v):
        nisa.nc_find_index8(sbuf((4, 8), nl.uint32), t, v.reshape((4, 2, 2, 2)))
        return t
    bad(body, r"nc_find_index8: vals: may have at most 3 dimensions", X, VALS)


def test_data_element_limits():
    def body(t, v):
        nisa.nc_find_index8(sbuf((4, 8), nl.uint32), t[:, 0:7], v)
        return t
    bad(body, r"nc_find_index8: data: must have between 8 and 16384 elements per partition, "
        r"found 7", X, VALS)


@pytest.mark.parametrize("f", [8, 33, 64, 65, 500, 4096])
def test_many_ties_against_reference(rng, f):
    """Low-cardinality data and vals (repeats, absent values, NaN) against the reference."""
    x = rng.integers(0, 6, size=(16, f)).astype(np.float32)
    x[rng.random((16, f)) < 0.02] = np.nan
    vals = rng.integers(0, 8, size=(16, 8)).astype(np.float32)   # 6, 7 never occur
    vals[rng.random((16, 8)) < 0.1] = np.nan
    out = run(find_body(), x, vals)
    assert_equal(out, as_index(ref_find(x, vals), U32))
