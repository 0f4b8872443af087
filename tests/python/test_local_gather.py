"""nisa.local_gather: each GpSimd core (16 partitions) flattens its 16-partition slice of `index`
partition-first (element (p, k) is position k*16 + p), keeps the first num_valid_indices, and each
of its partitions copies num_elem_per_idx contiguous elements starting at every index (an element
offset into the partition's flattened src_buffer) to dst, in order. Rules: src_buffer and index
have the same partitions, a multiple of 16; index uint16; num_elem_per_idx in {1, 2, 4, 8, 16,
32}; num_valid_indices in [1, indices per core] and <= 4096; dst.dtype == src_buffer.dtype;
dst elements per partition = num_valid_indices * num_elem_per_idx.

Choice: an index whose elements reach past the partition of src_buffer is an NkiValidationError
(the docs call it undefined); nothing is read or written then."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from conftest import BF16, F32, I32, assert_equal, dtype_id, kernel_raises, random, run, sbuf

V = nisa.NkiValidationError
U16 = np.dtype(np.uint16)


def ref_local_gather(src, index, n, nv=None):
    """Written from the 0.3.0 example's numpy semantics (take along the flattened free dim)."""
    P = src.shape[0]
    flat = src.reshape(P, -1)
    per_core = index.size // (P // 16)
    nv = nv or per_core
    out = np.empty((P, nv * n), src.dtype)
    for c in range(P // 16):
        idx1d = index[c * 16:(c + 1) * 16].reshape(16, -1).flatten(order="F")[:nv].astype(np.int64)
        cols = (idx1d[:, None] + np.arange(n)[None, :]).reshape(-1)
        out[c * 16:(c + 1) * 16] = flat[c * 16:(c + 1) * 16][:, cols]
    return out


def lg_body(n=1, nv=None, dst_shape=None):
    def body(src, index):
        count = nv if nv is not None else (index.shape[1] * 16 if index.ndim == 2 else None)
        d = sbuf(dst_shape or (src.shape[0], count * n), src.dtype)
        if nv is None:
            nisa.local_gather(d, src, index, n)
        else:
            nisa.local_gather(d, src, index, num_elem_per_idx=n, num_valid_indices=nv)
        return d
    return body


def test_the_030_example(rng):
    """src (128, 512, 4), 16x4 indices replicated to 8 cores, n=4, 64 valid indices."""
    src = (rng.random((128, 512, 4)) * 100).astype(np.float32)
    per_core = rng.integers(0, 512, size=(16, 4)).astype(U16)
    index = np.tile(per_core, (8, 1))
    hw = (index * 4).astype(U16)

    def body(s, i):
        d = sbuf((128, 4, 16, 4), nl.float32)
        nisa.local_gather(d, s, i, 4, 64)
        return d
    out = run(body, src, hw)
    ref = np.empty((128, 64, 4), np.float32)
    for c in range(8):
        idx1d = index[c * 16:(c + 1) * 16].flatten(order="F")[:64]
        ref[c * 16:(c + 1) * 16] = np.take(src[c * 16:(c + 1) * 16], idx1d, axis=1)
    assert_equal(out, ref.reshape(128, 4, 16, 4))


@pytest.mark.parametrize("dtype", [F32, BF16, I32, np.dtype(np.uint8)], ids=dtype_id)
@pytest.mark.parametrize("n", [1, 2, 8, 32])
def test_each_core_its_own_indices(rng, dtype, n):
    P, F, K = 64, 200, 3
    src = random(rng, (P, F), dtype, lo=-50, hi=50)
    index = rng.integers(0, F - n + 1, size=(P, K)).astype(U16)
    out = run(lg_body(n), src, index)
    assert_equal(out, ref_local_gather(src, index, n))


@pytest.mark.parametrize("nv", [1, 5, 17, 48])
def test_num_valid_indices(rng, nv):
    src = random(rng, (32, 3, 40), F32)
    index = rng.integers(0, 119, size=(32, 3)).astype(U16)
    out = run(lg_body(2, nv), src, index)
    assert_equal(out, ref_local_gather(src, index, 2, nv))


# ---------------------------------------------------------------- rules
S = np.zeros((32, 64), np.float32)
I = np.zeros((32, 2), U16)


def bad(body, match, src=S, index=I):
    with kernel_raises(V, match=r"nki\.isa\.local_gather: " + match):
        run(body, src, index)


def test_partitions_multiple_of_16_and_equal():
    bad(lg_body(1, dst_shape=(8, 16)), r"src_buffer: partition dimension must be a multiple of 16 .*"
        r"found 8", S[:8], I[:8])
    bad(lambda s, i: nisa.local_gather(sbuf((32, 32), nl.float32), s, i[:16]),
        r"index: partition dimension 16 must equal that of src_buffer, 32")


def test_index_uint16():
    bad(lg_body(1), r"index: dtype must be uint16, found int32", S, I.astype(np.int32))
    bad(lg_body(1), r"index: dtype must be uint16, found uint32", S, I.astype(np.uint32))


@pytest.mark.parametrize("n", [0, 3, 64])
def test_num_elem_per_idx_values(n):
    bad(lambda s, i: nisa.local_gather(sbuf((32, 32), nl.float32), s, i, n),
        r"num_elem_per_idx: must be one of 1, 2, 4, 8, 16, 32, found %d" % n)


def test_num_valid_indices_range_and_4096():
    bad(lambda s, i: nisa.local_gather(sbuf((32, 33), nl.float32), s, i, 1, 33),
        r"num_valid_indices: must be in \[1, 32\]")
    bad(lambda s, i: nisa.local_gather(sbuf((32, 1), nl.float32), s, i, 1, 0),
        r"num_valid_indices: must be in \[1, 32\]")
    big_i = np.zeros((16, 257), U16)
    bad(lambda s, i: nisa.local_gather(sbuf((16, 4112), nl.float32), s, i),
        r"num_valid_indices: a GpSimd core gathers at most 4096 indices, found 4112",
        np.zeros((16, 8), np.float32), big_i)


def test_dst_dtype_and_size():
    bad(lambda s, i: nisa.local_gather(sbuf((32, 32), nl.bfloat16), s, i),
        r"dst: dtype must equal src_buffer dtype float32 \(local_gather does not cast\)")
    bad(lambda s, i: nisa.local_gather(sbuf((32, 31), nl.float32), s, i),
        r"dst: must have 32 partitions of 32 elements")


@pytest.mark.parametrize("value,n", [(64, 1), (63, 2), (65535, 1)])
def test_out_of_range_index_never_reads_outside(value, n):
    index = np.zeros((32, 2), U16)
    index[17, 1] = value

    def body(s, i):
        d = sbuf((32, 32 * n), nl.float32)
        nisa.memset(d, 3.0)
        try:
            nisa.local_gather(d, s, i, n)
        except V as e:
            assert "index %d at [17, 1]" % value in str(e), str(e)
            return d
        raise AssertionError("no error")
    out = run(body, S, index)
    assert (out == 3.0).all()


def test_issue8_instructions_record_and_replay_bit_exact(tmp_path, rng):
    """The op graph carries every issue 8 parameter kind (optional int, required int list,
    float immediate, optional tensor) and replays bit-exactly."""
    from test_opgraph import record_and_replay
    src = random(rng, (32, 64), F32)
    index = rng.integers(0, 60, size=(32, 2)).astype(U16)

    def kernel(s, i):
        t, ix = sbuf((32, 64), nl.float32), sbuf((32, 2), nl.uint16)
        nisa.dma_copy(t, s)
        nisa.dma_copy(ix, i)
        g1, g2 = sbuf((32, 32), nl.float32), sbuf((32, 10), nl.float32)
        nisa.local_gather(g1, t, ix)
        nisa.local_gather(g2, t, ix, num_elem_per_idx=2, num_valid_indices=5)
        v, k = sbuf((32, 8), nl.float32), sbuf((32, 8), nl.uint32)
        nisa.max8(v, t)
        nisa.nc_match_replace8(t, t, v, -1.5, dst_idx=k)
        nisa.nc_stream_shuffle(t, t, [31 - j for j in range(32)])
        outs = []
        for x in (g1, g2, t, k):
            o = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
            nisa.dma_copy(o, x)
            outs.append(o)
        return tuple(outs)
    record_and_replay(tmp_path, kernel, src, index, instructions=11)
