"""nisa.nonzero_with_count (trn2+): on partitions 0, 16, ..., 112 of the tiles only (the first
partition of each GpSimd core), dst[p] = [i + index_offset for each nonzero src[p, i]], then
padding_val up to T entries, then the count at position T. dst's other partitions keep their
contents. src float32 or int32, dst int32, both SBUF, same partitions, dst has T + 1 elements
per partition; index_offset and padding_val are int32.

Choices: partitions are counted from the tile's first partition (the docs' "partitions [0, 16,
..., 112] of the input tile"); for float32 src, NaN is nonzero and -0.0 is zero."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from conftest import F32, I32, assert_equal, dtype_id, kernel_raises, run, sbuf

V = nisa.NkiValidationError


def ref_nonzero(src, dst_before, offset=0, pad=-1):
    out = dst_before.copy()
    T = src.shape[1]
    for p in range(0, src.shape[0], 16):
        (nz,) = np.nonzero(src[p])
        row = np.full(T + 1, pad, np.int64)
        row[:len(nz)] = nz + offset
        row[T] = len(nz)
        out[p] = row.astype(np.int32)
    return out


def nz_body(offset=0, pad=-1, keywords=True):
    def body(src, before):
        d = sbuf(before.shape, nl.int32)
        nisa.tensor_copy(d, before)
        if keywords:
            nisa.nonzero_with_count(dst=d, src=src, index_offset=offset, padding_val=pad)
        else:
            nisa.nonzero_with_count(d, src)
        return d
    return body


def test_doc_example():
    src = np.zeros((1, 8), np.float32)
    src[0, [1, 2, 5]] = 1
    before = np.zeros((1, 9), np.int32)
    out = run(nz_body(16, -1), src, before)
    np.testing.assert_array_equal(out[0], [17, 18, 21, -1, -1, -1, -1, -1, 3])


@pytest.mark.parametrize("dtype", [F32, I32], ids=dtype_id)
@pytest.mark.parametrize("P,T", [(128, 256), (17, 5), (128, 1), (40, 1000)])
def test_random_only_core_partitions_change(rng, dtype, P, T):
    src = (rng.random((P, T)) < 0.3) * rng.integers(-3, 4, size=(P, T))
    src = src.astype(dtype)
    before = rng.integers(-1000, 1000, size=(P, T + 1)).astype(np.int32)
    out = run(nz_body(7, -9), src, before)
    assert_equal(out, ref_nonzero(src, before, 7, -9))


def test_defaults_and_all_zero_all_nonzero_rows():
    src = np.zeros((32, 4), np.float32)
    src[16] = [1, -1, 2, 0.5]
    before = np.full((32, 5), 77, np.int32)
    out = run(nz_body(keywords=False), src, before)
    np.testing.assert_array_equal(out[0], [-1, -1, -1, -1, 0])
    np.testing.assert_array_equal(out[16], [0, 1, 2, 3, 4])
    assert (np.delete(out, [0, 16], axis=0) == 77).all()


def test_nan_is_nonzero_negative_zero_is_zero():
    src = np.array([[0.0, np.nan, -0.0, 3.0]], np.float32)
    out = run(nz_body(), src, np.zeros((1, 5), np.int32))
    np.testing.assert_array_equal(out[0], [1, 3, -1, -1, 2])


def test_multi_dim_free_as_find_nonzero_indices(rng):
    src = (rng.random((128, 1, 64)) < 0.5).astype(np.float32)
    before = np.zeros((128, 1, 65), np.int32)

    def body(s, b):
        d = sbuf((128, 1, 65), nl.int32)
        nisa.tensor_copy(d, b)
        nisa.nonzero_with_count(dst=d, src=s, index_offset=128, padding_val=-1)
        return d
    out = run(body, src, before)
    assert_equal(out.reshape(128, 65), ref_nonzero(src.reshape(128, 64), before.reshape(128, 65), 128))


def test_needs_trn2(set_target):
    set_target("trn1")
    with kernel_raises(V, match=r"nki\.isa\.nonzero_with_count: is not available on trn1 "
                                r"\(it needs trn2 or newer\)"):
        run(nz_body(), np.zeros((1, 4), np.float32), np.zeros((1, 5), np.int32))
    set_target("trn2")
    out = run(nz_body(), np.ones((1, 4), np.float32), np.zeros((1, 5), np.int32))
    np.testing.assert_array_equal(out[0], [0, 1, 2, 3, 4])


# ---------------------------------------------------------------- rules
def bad(body, match, src=np.zeros((16, 4), np.float32)):
    with kernel_raises(V, match=r"nki\.isa\.nonzero_with_count: " + match):
        run(body, src)


@pytest.mark.parametrize("dtype", [np.dtype(np.int16), np.dtype(np.uint32), np.dtype(np.float16)],
                         ids=dtype_id)
def test_src_dtype(dtype):
    bad(lambda s: nisa.nonzero_with_count(sbuf((16, 5), nl.int32), s),
        r"src: dtype must be float32 or int32, found " + dtype.name, np.zeros((16, 4), dtype))


@pytest.mark.parametrize("dtype", [nl.float32, nl.uint32, nl.int16])
def test_dst_dtype(dtype):
    bad(lambda s: nisa.nonzero_with_count(sbuf((16, 5), dtype), s),
        r"dst: dtype must be int32, found " + str(dtype))


def test_dst_shape():
    bad(lambda s: nisa.nonzero_with_count(sbuf((16, 4), nl.int32), s),
        r"dst: must have one more element per partition than src \(5: the indices, then the count\), "
        r"found 4")
    bad(lambda s: nisa.nonzero_with_count(sbuf((8, 5), nl.int32), s),
        r"dst: partition dimension 8 must equal that of src, 16")


@pytest.mark.parametrize("name,value", [("index_offset", 2**31), ("padding_val", -2**31 - 1)])
def test_immediates_int32(name, value):
    bad(lambda s: nisa.nonzero_with_count(sbuf((16, 5), nl.int32), s, **{name: value}),
        name + r": must be an int32, found " + str(value))


def test_sbuf_only():
    def body(s):
        p = nl.ndarray((16, 4), dtype=nl.float32, buffer=nl.psum)
        nisa.tensor_copy(p, s)
        nisa.nonzero_with_count(sbuf((16, 5), nl.int32), p)
        return s
    bad(body, r"src: must be in sbuf, found a tensor in psum")
