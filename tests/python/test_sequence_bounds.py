"""nisa.sequence_bounds: segment_ids (1, n) -> dst (1, 2, n): dst[0, 0, i] = start index of the
run of equal ids containing i, dst[0, 1, i] = its end (exclusive); id 0 is padding with start n
and end -1. float32 or int32 for both; partition dimension 1.

Choice: ids must be non-negative integers (the docs say so); other values are an
NkiValidationError naming the first offending element."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from conftest import F32, I32, assert_equal, dtype_id, kernel_raises, run, sbuf

V = nisa.NkiValidationError


def ref_bounds(ids):
    """Runs of equal nonzero ids, from a different angle than the instruction: np.diff edges."""
    ids = ids.reshape(-1)
    n = len(ids)
    start = np.full(n, n, np.int64)
    end = np.full(n, -1, np.int64)
    edges = np.flatnonzero(np.diff(ids) != 0) + 1
    for a, b in zip(np.r_[0, edges], np.r_[edges, n]):
        if ids[a] != 0:
            start[a:b] = a
            end[a:b] = b
    return np.stack([start, end])[None]


def sb_body(out_dtype=None):
    def body(ids):
        d = sbuf((1, 2, ids.size), out_dtype or ids.dtype)
        nisa.sequence_bounds(d, ids)
        return d
    return body


def test_doc_example():
    ids = np.array([[0, 1, 1, 2, 2, 2, 0, 3, 3]], np.int32)
    out = run(sb_body(), ids)
    np.testing.assert_array_equal(out[0, 0], [9, 1, 1, 3, 3, 3, 9, 7, 7])
    np.testing.assert_array_equal(out[0, 1], [-1, 3, 3, 6, 6, 6, -1, 9, 9])


@pytest.mark.parametrize("dtype", [F32, I32], ids=dtype_id)
@pytest.mark.parametrize("out_dtype", [F32, I32], ids=dtype_id)
@pytest.mark.parametrize("n", [1, 32, 512, 4099])
def test_random_sorted_and_unsorted(rng, dtype, out_dtype, n):
    ids = np.sort(rng.integers(0, max(2, n // 8), size=n)).astype(dtype).reshape(1, n)
    nl_out = nl.float32 if out_dtype == F32 else nl.int32
    assert_equal(run(sb_body(nl_out), ids), ref_bounds(ids).astype(out_dtype))
    shuffled = rng.integers(0, 4, size=n).astype(dtype).reshape(1, n)  # runs need not be sorted
    assert_equal(run(sb_body(nl_out), shuffled), ref_bounds(shuffled).astype(out_dtype))


def test_all_padding_and_no_padding():
    z = np.zeros((1, 6), np.float32)
    out = run(sb_body(), z)
    assert (out[0, 0] == 6).all() and (out[0, 1] == -1).all()
    o = np.full((1, 6), 5.0, np.float32)
    out = run(sb_body(), o)
    assert (out[0, 0] == 0).all() and (out[0, 1] == 6).all()


def test_multi_dim_ids_are_flattened(rng):
    ids = np.sort(rng.integers(0, 5, size=24)).astype(np.int32).reshape(1, 4, 6)

    def body(t):
        d = sbuf((1, 48), nl.int32)
        nisa.sequence_bounds(dst=d, segment_ids=t)
        return d
    assert_equal(run(body, ids), ref_bounds(ids).reshape(1, 48).astype(np.int32))


# ---------------------------------------------------------------- rules
def bad(body, match, ids):
    with kernel_raises(V, match=r"nki\.isa\.sequence_bounds: " + match):
        run(body, ids)


def test_partition_dim_1():
    bad(lambda t: nisa.sequence_bounds(sbuf((2, 2, 4), nl.int32), t),
        r"segment_ids: partition dimension must be 1, found shape \[2, 4\]",
        np.ones((2, 4), np.int32))
    bad(lambda t: nisa.sequence_bounds(sbuf((2, 2, 2), nl.int32), t),
        r"dst: partition dimension must be 1", np.ones((1, 4), np.int32))


def test_dst_shape():
    bad(lambda t: nisa.sequence_bounds(sbuf((1, 4), nl.int32), t),
        r"dst: must have shape \[1, 2, 4\] .*found \[1, 4\]", np.ones((1, 4), np.int32))


@pytest.mark.parametrize("which", ["segment_ids", "dst"])
@pytest.mark.parametrize("dtype", [np.dtype(np.int16), np.dtype(np.uint32)], ids=dtype_id)
def test_dtypes_float32_or_int32(which, dtype):
    from conftest import NL
    if which == "dst":
        bad(lambda t: nisa.sequence_bounds(sbuf((1, 2, 4), NL[dtype]), t),
            r"dst: dtype must be float32 or int32, found " + dtype.name, np.ones((1, 4), np.int32))
    else:
        bad(lambda t: nisa.sequence_bounds(sbuf((1, 2, 4), nl.int32), t),
            r"segment_ids: dtype must be float32 or int32, found " + dtype.name,
            np.ones((1, 4), dtype))


@pytest.mark.parametrize("value", [-1.0, 1.5, np.nan])
def test_ids_non_negative_integers(value):
    ids = np.ones((1, 5), np.float32)
    ids[0, 3] = value
    bad(sb_body(), r"segment_ids: segment ids must be non-negative integers, found .* at \[0, 3\]",
        ids)
