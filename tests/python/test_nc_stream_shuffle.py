"""nisa.nc_stream_shuffle: within each 32-partition quadrant q,
dst[q*32 + i] = src[q*32 + shuffle_mask[i]] (partitions counted from each operand's first), the
same 32-entry mask for every quadrant; 255 leaves dst partition i unchanged; in place allowed;
bit-exact (dst.dtype == src.dtype, same elements per partition); SBUF or PSUM.
Start partitions: with active = ceil(max(src, dst partitions) / 32) * 32, 96/128 -> start 0,
64 -> 0 or 64, 32 -> 0, 32, 64 or 96.

Choice: a mask entry that makes a dst partition read past src's partitions is an error (the
broadcast use has a 1-partition src and a mask of zeros)."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import BF16, F32, I32, assert_equal, dtype_id, kernel_raises, random, run, sbuf

V = nisa.NkiValidationError


def ref_shuffle(src, dst, mask):
    out = dst.copy()
    for p in range(dst.shape[0]):
        m = mask[p % 32]
        if m != 255:
            out[p] = src[p // 32 * 32 + m]
    return out


@pytest.mark.parametrize("dtype", [F32, BF16, I32, np.dtype(np.uint8)], ids=dtype_id)
def test_rotate_in_place_32(rng, dtype):
    a = random(rng, (32, 128), dtype)
    mask = [(i - 1) % 32 for i in range(32)]

    def body(t):
        nisa.nc_stream_shuffle(src=t, dst=t, shuffle_mask=mask)
        return t
    assert_equal(run(body, a), ref_shuffle(a, a, mask))


def test_each_quadrant_same_mask_128(rng):
    a = random(rng, (128, 64), F32)
    mask = list(rng.permutation(32))

    def body(t):
        b = sbuf((128, 64), nl.float32)
        nisa.nc_stream_shuffle(b, t, mask)
        return b
    assert_equal(run(body, a), ref_shuffle(a, a, mask))


def test_broadcast_one_partition_per_quadrant_like_rmsnorm(rng):
    """nkipy's RMSNorm / nki-library's stream_shuffle_broadcast: src[0:1] to each dst quadrant."""
    w = random(rng, (1, 96), F32)

    def body(t):
        b = sbuf((128, 96), nl.float32)
        for i in range(4):
            nisa.nc_stream_shuffle(src=t[0:1, :], dst=b[i * 32:(i + 1) * 32, 0:96],
                                   shuffle_mask=[0] * 32)
        return b
    assert_equal(run(body, w), np.repeat(w, 128, axis=0))


def test_broadcast_in_place_partial_last_quadrant(rng):
    a = random(rng, (40, 16), BF16)

    def body(t):
        for i in range(2):
            n = min(32, 40 - i * 32)
            nisa.nc_stream_shuffle(src=t[0:1, 0:16], dst=t[i * 32:i * 32 + n, 0:16],
                                   shuffle_mask=[0] * 32)
        return t
    assert_equal(run(body, a), np.repeat(a[0:1], 40, axis=0))


def test_255_leaves_dst_unchanged_find_nonzero_mask(rng):
    """find_nonzero_indices moves partition 16 of each quadrant to partition 0 in place."""
    a = random(rng, (128, 9), I32, lo=-100, hi=100)
    mask = [16] + [255] * 31

    def body(t):
        nisa.nc_stream_shuffle(dst=t, src=t, shuffle_mask=mask)
        return t
    out = run(body, a)
    assert_equal(out, ref_shuffle(a, a, mask))
    np.testing.assert_array_equal(out[[0, 32, 64, 96]], a[[16, 48, 80, 112]])


def test_255_into_a_different_dst(rng):
    a = random(rng, (32, 8), F32)
    b = random(rng, (32, 8), F32)
    mask = [255 if i % 3 == 0 else 31 - i for i in range(32)]

    def body(s, d):
        nisa.nc_stream_shuffle(d, s, mask)
        return d
    assert_equal(run(body, a, b), ref_shuffle(a, b, mask))


def test_psum_and_cross_quadrant_starts(rng):
    a = random(rng, (32, 8), F32)

    def body(t):
        p = nl.ndarray((128, 8), dtype=nl.float32, buffer=nl.psum)
        nisa.memset(p, 0.0)
        nisa.nc_stream_shuffle(p[64:96, :], t, list(range(31, -1, -1)))  # src 0, dst 64: ok
        return p
    out = run(body, a)
    np.testing.assert_array_equal(out[64:96], a[::-1])
    assert (out[:64] == 0).all() and (out[96:] == 0).all()


def test_multi_dim_free_and_affine_mask_values(rng):
    a = random(rng, (32, 2, 3, 4), F32)
    mask = [np.int64(31 - i) for i in range(32)]

    def body(t):
        b = sbuf((32, 24), nl.float32)
        nisa.nc_stream_shuffle(b, t, mask)
        return b
    assert_equal(run(body, a), a.reshape(32, 24)[::-1])


# ---------------------------------------------------------------- rules
def bad(body, match, *arrays):
    with kernel_raises(V, match=match):
        run(body, *arrays)


A = np.zeros((128, 8), np.float32)


@pytest.mark.parametrize("src,dst,match", [
    ((16, 48), (16, 48), r"src: starts at partition 16, but with 32 active partitions .* must start "
                         r"at partition 0, 32, 64 or 96"),
    ((0, 32), (40, 72), r"dst: starts at partition 40"),
    ((32, 96), (32, 96), r"src: starts at partition 32, but with 64 active partitions .* partition "
                         r"0 or 64"),
    ((0, 64), (64, 128), r"ok"),
    ((32, 128), (32, 128), r"src: starts at partition 32, but with 96 active partitions .* must "
                           r"start at partition 0"),
    ((0, 1), (96, 128), r"ok"),
])
def test_quadrant_start_rule(src, dst, match):
    def body(t):
        nisa.nc_stream_shuffle(t[dst[0]:dst[1]], t[src[0]:src[1]], [0] * 32)
        return t
    if match == "ok":
        run(body, A)
    else:
        bad(body, r"nki\.isa\.nc_stream_shuffle: " + match, A)


@pytest.mark.parametrize("mask,match", [
    ([0] * 31, r"shuffle_mask: must have exactly 32 entries .* found 31"),
    ([0] * 33, r"shuffle_mask: must have exactly 32 entries .* found 33"),
    ([0] * 31 + [32], r"shuffle_mask: entry 31 must be a source partition in \[0, 32\) or 255"),
    ([-1] + [0] * 31, r"shuffle_mask: entry 0 must be a source partition"),
    ([0] * 31 + [254], r"shuffle_mask: entry 31 must be"),
])
def test_mask_entries(mask, match):
    def body(t):
        nisa.nc_stream_shuffle(t[0:32], t[0:32], mask)
        return t
    bad(body, r"nki\.isa\.nc_stream_shuffle: " + match, A)


def test_mask_is_required():
    def body(t):
        nisa.nc_stream_shuffle(t, t)
        return t
    with kernel_raises(TypeError, match=r"missing required argument: 'shuffle_mask'"):
        run(body, A)


def test_mask_reading_past_src_partitions():
    def body(t):
        nisa.nc_stream_shuffle(t[0:32], t[0:4], [i % 8 for i in range(32)])
        return t
    bad(body, r"nc_stream_shuffle: shuffle_mask: entry 4 = 4 makes dst partition 4 read src "
        r"partition 4, but src has 4 partitions", A)

    def body2(t):  # a 1-partition src cannot feed the second quadrant of a 64-partition dst
        nisa.nc_stream_shuffle(t[0:64], t[0:1], [0] * 32)
        return t
    bad(body2, r"makes dst partition 32 read src partition 32, but src has 1 partitions", A)


def test_dtype_and_free_size_must_match():
    def body(t):
        nisa.nc_stream_shuffle(sbuf((32, 8), nl.bfloat16), t[0:32], [0] * 32)
        return t
    bad(body, r"nc_stream_shuffle: dst: dtype must equal src dtype float32, found bfloat16", A)

    def body2(t):
        nisa.nc_stream_shuffle(sbuf((32, 4), nl.float32), t[0:32], [0] * 32)
        return t
    bad(body2, r"nc_stream_shuffle: dst: must have as many elements per partition as src \(8", A)


def test_no_hbm():
    def k(a):
        nisa.nc_stream_shuffle(sbuf((32, 8), nl.float32), a, [0] * 32)
        return a
    with kernel_raises(V, match=r"nc_stream_shuffle: src: must be in sbuf or psum"):
        nki.simulate(k)(np.zeros((32, 8), np.float32))
