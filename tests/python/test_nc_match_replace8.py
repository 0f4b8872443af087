"""nisa.nc_match_replace8: dst = data with the first occurrence of each of the 8 vals[p]
replaced by the float imm (rounded once to dst's dtype); dst_idx (optional, [P, 8] uint32 or
uint16) receives the replaced positions. dst has data's layout; in place (dst is data) is the
common use (rotational top-k: rounds of max8 + nc_match_replace8 with imm=-inf).

Choices (later docs describe the hardware; 0.3.0 is silent): slots are processed 7..0, so among
repeated vals the highest slot takes the first occurrence; a value with no (further) occurrence
replaces nothing and its dst_idx is all ones; NaN in vals matches NaN in data."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from conftest import BF16, F32, I32, NL, assert_equal, cast, kernel_raises, run, sbuf
from test_max8 import distinct
from test_nc_find_index8 import as_index, pick, ref_find

V = nisa.NkiValidationError
U32 = np.dtype(np.uint32)


def ref_replace(data, vals, imm, dst_dtype=None):
    pos = ref_find(data, vals, ascending=False)
    out = data.reshape(data.shape[0], -1).astype(np.float32).copy()
    for p in range(out.shape[0]):
        for k in range(8):
            if pos[p, k] >= 0:
                out[p, pos[p, k]] = imm
    return cast(out.reshape(data.shape), dst_dtype or data.dtype), as_index(pos, U32)


def replace_body(imm, dst_dtype=None, with_idx=True):
    def body(data, vals):
        d = sbuf(data.shape, dst_dtype or data.dtype)
        idx = sbuf((data.shape[0], 8), nl.uint32)
        nisa.nc_match_replace8(d, data, vals, imm, dst_idx=idx if with_idx else None)
        return (d, idx) if with_idx else d
    return body


@pytest.mark.parametrize("shape", [(128, 512), (9, 8), (40, 4, 4), (3, 16384)])
def test_random_distinct(rng, shape):
    x = distinct(rng, shape)
    vals, pos = pick(rng, x)
    out, idx = run(replace_body(-np.inf), x, vals)
    ref, ref_idx = ref_replace(x, vals, -np.inf)
    assert_equal(out, ref)
    assert_equal(idx, pos.astype(U32))
    assert_equal(idx, ref_idx)


def test_rotational_topk_rounds_in_place(rng):
    """k = 32 by 4 rounds of max8 + in-place nc_match_replace8, as nki-library's topk_core."""
    x = distinct(rng, (128, 2048))

    def body(t):
        vals = sbuf((128, 32), nl.float32)
        inds = sbuf((128, 32), nl.uint32)
        for r in range(4):
            nisa.max8(dst=vals[0:128, r * 8:(r + 1) * 8], src=t[:, :2048])
            nisa.nc_match_replace8(dst=t[:, :2048], dst_idx=inds[0:128, r * 8:(r + 1) * 8],
                                   data=t[:, :2048], vals=vals[0:128, r * 8:(r + 1) * 8],
                                   imm=float("-inf"))
        return vals, inds, t
    vals, inds, rest = run(body, x)
    order = np.argsort(-x, axis=1)[:, :32]
    assert_equal(inds, order.astype(U32))
    assert_equal(vals, np.take_along_axis(x, order, axis=1))
    expect = x.copy()
    np.put_along_axis(expect, order, -np.inf, axis=1)
    assert_equal(rest, expect)


@pytest.mark.parametrize("dst_dtype", [F32, BF16, I32], ids=str)
@pytest.mark.parametrize("imm", [0.0, -1e30, 2.5, float("inf")])
def test_separate_dst_casts_once(rng, dst_dtype, imm):
    x = distinct(rng, (16, 64))
    vals, _ = pick(rng, x)
    out = run(replace_body(imm, NL[dst_dtype], with_idx=False), x, vals)
    assert_equal(out, ref_replace(x, vals, imm, dst_dtype)[0])


def test_int32_data_is_copied_exactly(rng):
    x = (distinct(rng, (8, 64), I32).astype(np.int64) * 1000003 + 2**30).astype(np.int32)
    vals, pos = pick(rng, x)
    vals = vals.astype(np.float32)  # large ints are not exact in fp32: compare what the engine sees
    out, idx = run(replace_body(-1.0), x, vals)
    ref, ref_idx = ref_replace(x, vals, -1.0)
    exp = x.copy()
    for p in range(8):
        for k in range(8):
            if ref_idx[p, k] != 0xFFFFFFFF:
                exp[p, ref_idx[p, k]] = -1
    assert_equal(out, exp)
    assert_equal(idx, ref_idx)


def test_duplicates_highest_slot_takes_first_occurrence_missing_replaces_nothing():
    x = np.arange(20, dtype=np.float32).reshape(1, 20)
    x[0, [2, 7, 11]] = 50.0
    vals = np.array([[50, 50, 3, 50, 50, 99, 4, 0]], np.float32)
    out, idx = run(replace_body(-1.0), x, vals)
    # slots 7..0: slot 4 -> 2, slot 3 -> 7, slot 1 -> 11, slot 0 -> none left; 99 missing
    np.testing.assert_array_equal(idx[0], [0xFFFFFFFF, 11, 3, 7, 2, 0xFFFFFFFF, 4, 0])
    exp = x.copy()
    exp[0, [2, 7, 11, 3, 4, 0]] = -1
    assert_equal(out, exp)
    assert_equal(idx, ref_replace(x, vals, -1.0)[1])


def test_nan_values_are_matched_and_replaced():
    x = np.arange(16, dtype=np.float32).reshape(1, 16)
    x[0, [3, 8]] = np.nan

    def body(t):
        v = sbuf((1, 8), nl.float32)
        nisa.max8(v, t)
        nisa.nc_match_replace8(t, t, v, float("-inf"))
        return v, t
    v, rest = run(body, x)
    assert np.isnan(v[0, :2]).all()
    np.testing.assert_array_equal(v[0, 2:], [15, 14, 13, 12, 11, 10])
    assert not np.isnan(rest).any()
    assert (rest[0, [3, 8, 15, 14, 13, 12, 11, 10]] == -np.inf).all()


def test_without_dst_idx_positional(rng):
    x = distinct(rng, (4, 32))
    vals, _ = pick(rng, x)

    def body(t, v):
        d = sbuf((4, 32), nl.float32)
        nisa.nc_match_replace8(d, t, v, 0.0)
        return d
    assert_equal(run(body, x, vals), ref_replace(x, vals, 0.0)[0])


# ---------------------------------------------------------------- rules
X = np.arange(64, dtype=np.float32).reshape(4, 16)
VALS = np.arange(32, dtype=np.float32).reshape(4, 8)


def bad(body, match):
    with kernel_raises(V, match=match):
        run(body, X, VALS)


def test_dst_layout_equals_data():
    def body(t, v):
        nisa.nc_match_replace8(sbuf((4, 15), nl.float32), t, v, 0.0)
        return t
    bad(body, r"nki\.isa\.nc_match_replace8: dst: 15 elements per partition .* must equal those "
        r"of data, 16")


@pytest.mark.parametrize("shape,dtype,match", [
    ((4, 8), nl.int32, r"dst_idx: index dtype must be uint32 or uint16, found int32"),
    ((4, 7), nl.uint32, r"dst_idx: must have shape \[4, 8\]"),
    ((2, 8), nl.uint32, r"dst_idx: must have shape \[4, 8\]"),
])
def test_dst_idx_shape_and_dtype(shape, dtype, match):
    def body(t, v):
        nisa.nc_match_replace8(t, t, v, 0.0, dst_idx=sbuf(shape, dtype))
        return t
    bad(body, r"nki\.isa\.nc_match_replace8: " + match)


def test_vals_8_per_partition_and_imm_a_number():
    def body(t, v):
        nisa.nc_match_replace8(t, t, v[:, 0:4], 0.0)
        return t
    bad(body, r"nc_match_replace8: vals: must hold exactly 8 values per partition")

    def body2(t, v):
        nisa.nc_match_replace8(t, t, v, v)
        return t
    bad(body2, r"nc_match_replace8: imm")


@pytest.mark.parametrize("f", [8, 33, 64, 65, 500, 4096])
def test_many_ties_against_reference(rng, f):
    x = rng.integers(0, 6, size=(16, f)).astype(np.float32)
    x[rng.random((16, f)) < 0.02] = np.nan
    vals = rng.integers(0, 8, size=(16, 8)).astype(np.float32)
    vals[rng.random((16, 8)) < 0.1] = np.nan
    out, idx = run(replace_body(-9.0), x, vals)
    ref, ref_idx = ref_replace(x, vals, -9.0)
    assert_equal(out, ref)
    assert_equal(idx, ref_idx)
