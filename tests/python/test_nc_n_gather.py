"""nisa.nc_n_gather: dst[p, k] = data[p].flatten()[indices[p, k]] on GpSimd (all in SBUF);
indices uint32, dst.dtype == data.dtype, dst's elements per partition == indices', equal
partitions <= 128. Bit-exact. nl.gather_flattened is built on it.

Choice: an index outside [0, data elements per partition) is an NkiValidationError raised before
anything is read or written (the docs only state the valid range)."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import BF16, F32, I32, FP8_E4M3, NL, assert_equal, dtype_id, kernel_raises, random, run, sbuf

V = nisa.NkiValidationError
U32 = np.dtype(np.uint32)


def ref_gather(data, idx):
    d = data.reshape(data.shape[0], -1)
    return np.take_along_axis(d, idx.reshape(idx.shape[0], -1).astype(np.int64), axis=1).reshape(idx.shape)


def gather_body(data, idx):
    d = sbuf(idx.shape, data.dtype)
    nisa.nc_n_gather(d, data, idx)
    return d


@pytest.mark.parametrize("dtype", [F32, BF16, I32, FP8_E4M3, np.dtype(np.uint8)], ids=dtype_id)
@pytest.mark.parametrize("dshape,ishape", [((128, 512), (128, 700)), ((3, 4, 5), (3, 2, 9)),
                                           ((64, 1), (64, 3)), ((1, 2, 3, 4), (1, 30))])
def test_random(rng, dtype, dshape, ishape):
    data = random(rng, dshape, dtype, lo=-100, hi=100)
    if np.dtype(dtype).kind == "f":
        data.flat[0] = np.nan  # bits move unchanged
    f = int(np.prod(dshape[1:]))
    idx = rng.integers(0, f, size=ishape).astype(U32)
    assert_equal(run(gather_body, data, idx), ref_gather(data, idx))


def test_keywords_and_strided_views(rng):
    data = random(rng, (16, 64), F32)
    idx = rng.integers(0, 32, size=(16, 10)).astype(U32)

    def body(d, i):
        out = sbuf((16, 5), nl.float32)
        nisa.nc_n_gather(dst=out, data=d[:, 0:64:2], indices=i[:, 0:10:2])
        return out
    assert_equal(run(body, data, idx), ref_gather(data[:, ::2].copy(), idx[:, ::2].copy()))


def test_gather_flattened_example(rng):
    """The 0.3.0 example: every 5th element of a [32, 64] tile."""
    data = random(rng, (32, 64), F32)
    idx = np.tile(np.arange(10, dtype=U32) * 5, (32, 1))

    def body(d, i):
        return nl.gather_flattened(data=d, indices=i)
    assert_equal(run(body, data, idx), np.take_along_axis(data, idx.astype(np.int64), axis=-1))


def test_gather_flattened_dtype_and_psum_data(rng):
    data = random(rng, (8, 4, 6), F32)
    idx = rng.integers(0, 24, size=(8, 7)).astype(U32)

    def body(d, i):
        p = nl.ndarray(d.shape, dtype=nl.float32, buffer=nl.psum)
        nisa.tensor_copy(p, d)
        return nl.gather_flattened(p, i, dtype=nl.bfloat16)
    assert_equal(run(body, data, idx), ref_gather(data, idx).astype(BF16))


def test_gather_flattened_needs_uint32_indices(rng):
    def body(d, i):
        return nl.gather_flattened(d, i)
    with kernel_raises(V, match=r"nl\.gather_flattened: indices: dtype must be uint32"):
        run(body, np.zeros((2, 8), np.float32), np.zeros((2, 3), np.int32))


# ---------------------------------------------------------------- rules
def bad(body, match, *arrays):
    with kernel_raises(V, match=match):
        run(body, *arrays)


D = np.arange(40, dtype=np.float32).reshape(4, 10)


@pytest.mark.parametrize("where,value", [((0, 0), 10), ((3, 2), 4294967295), ((2, 1), 11)])
def test_out_of_range_index_never_reads_outside(where, value):
    idx = np.zeros((4, 3), U32)
    idx[where] = value

    def body(d, i):
        out = sbuf((4, 3), nl.float32)
        nisa.memset(out, -5.0)
        try:
            nisa.nc_n_gather(out, d, i)
        except V:
            return out   # dst untouched
        raise AssertionError("no error")
    out = run(body, D, idx)
    assert (out == -5.0).all()
    bad(lambda d, i: gather_body(d, i),
        r"nki\.isa\.nc_n_gather: indices: index %d at \[%d, %d\] is out of range \[0, 10\)"
        % (value, where[0], where[1]), D, idx)


@pytest.mark.parametrize("dtype", [nl.int32, nl.uint16, nl.float32])
def test_indices_must_be_uint32(dtype):
    def body(d):
        i = sbuf((4, 3), dtype)
        nisa.memset(i, 0)
        nisa.nc_n_gather(sbuf((4, 3), nl.float32), d, i)
        return d
    bad(body, r"nc_n_gather: indices: dtype must be uint32, found " + str(dtype), D)


def test_dst_rules():
    idx = np.zeros((4, 3), U32)
    bad(lambda d, i: nisa.nc_n_gather(sbuf((4, 3), nl.bfloat16), d, i),
        r"nc_n_gather: dst: dtype must equal data dtype float32, found bfloat16", D, idx)
    bad(lambda d, i: nisa.nc_n_gather(sbuf((4, 4), nl.float32), d, i),
        r"nc_n_gather: dst: 4 elements per partition .* must equal those of indices, 3", D, idx)
    bad(lambda d, i: nisa.nc_n_gather(sbuf((4, 3), nl.float32), d, i[0:2]),
        r"nc_n_gather: indices: partition dimension 2 must equal that of data, 4", D, idx)


def test_sbuf_only():
    idx = np.zeros((4, 3), U32)

    def body(d, i):
        p = nl.ndarray((4, 10), dtype=nl.float32, buffer=nl.psum)
        nisa.tensor_copy(p, d)
        nisa.nc_n_gather(sbuf((4, 3), nl.float32), p, i)
        return d
    bad(body, r"nc_n_gather: data: must be in sbuf, found a tensor in psum", D, idx)
