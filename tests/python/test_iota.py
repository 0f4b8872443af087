"""nisa.iota: value = offset + c*channel_multiplier + w*step_w + z*step_z + y*step_y + x*step_x,
computed in int32 and cast to dst.dtype; pattern [[step, num], ...] outermost first; GpSimd, so
dst is in SBUF."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from conftest import BF16, F16, F32, NL, assert_equal, cast, dtype_id, run, sbuf
from conftest import check_partial_write


def iota_ref(partitions, pattern, offset=0, channel_multiplier=0):
    """int64 values wrapped to int32, shape (partitions, prod(nums))."""
    steps = np.array([s for s, _ in pattern], dtype=np.int64)
    nums = [n for _, n in pattern]
    idx = np.indices(nums).reshape(len(nums), -1)  # row-major, outermost first
    free = offset + (steps[:, None] * idx).sum(axis=0)
    vals = np.arange(partitions, dtype=np.int64)[:, None] * channel_multiplier + free[None, :]
    return ((vals + 2 ** 31) % 2 ** 32 - 2 ** 31).astype(np.int32)


def do_iota(shape, dtype, pattern, offset=0, channel_multiplier=0, positional=False):
    def body():
        t = sbuf(shape, dtype)
        if positional:
            nisa.iota(t, pattern, offset, channel_multiplier)
        else:
            nisa.iota(t, pattern, offset=offset, channel_multiplier=channel_multiplier)
        return t
    return run(body)


def test_simple_ramp_default_offset():
    def body():
        t = sbuf((128, 16), nl.int32)
        nisa.iota(t, [[1, 16]])  # offset defaults to 0 in 0.3.0
        return t
    assert_equal(run(body), np.tile(np.arange(16, dtype=np.int32), (128, 1)))


@pytest.mark.parametrize("pattern,offset,cm", [
    ([[1, 16]], 0, 16),           # global flat index p*16 + i
    ([[1, 8]], 5, 0),
    ([[2, 8]], -3, 1),
    ([[-1, 8]], 100, -7),         # negative step and multiplier
    ([[0, 4]], 9, 3),             # step 0 broadcasts
    ([[4, 3], [1, 4]], 0, 12),    # 2-D pattern
    ([[100, 2], [10, 3], [1, 4]], 7, 1000),
    ([[1000, 2], [100, 2], [10, 3], [1, 2]], -50, 5),  # 4-D pattern
])
@pytest.mark.parametrize("partitions", [1, 32, 128])
def test_patterns(pattern, offset, cm, partitions):
    n = int(np.prod([num for _, num in pattern]))
    out = do_iota((partitions, n), nl.int32, pattern, offset, cm)
    assert_equal(out, iota_ref(partitions, pattern, offset, cm))


def test_multi_dim_dst_takes_pattern_in_row_major_order():
    pattern = [[100, 2], [10, 3], [1, 4]]
    out = do_iota((16, 2, 3, 4), nl.int32, pattern, 1, 1000)
    assert_equal(out, iota_ref(16, pattern, 1, 1000).reshape(16, 2, 3, 4))
    # The dst free shape need not mirror the pattern, only the element count.
    out2 = do_iota((16, 6, 4), nl.int32, pattern, 1, 1000)
    assert_equal(out2, iota_ref(16, pattern, 1, 1000).reshape(16, 6, 4))


def test_positional_arguments():
    out = do_iota((8, 4), nl.int32, [[3, 4]], 2, 10, positional=True)
    assert_equal(out, iota_ref(8, [[3, 4]], 2, 10))


@pytest.mark.parametrize("dtype", [F32, BF16, F16, np.dtype(np.int16), np.dtype(np.uint8),
                                   np.dtype(np.uint32)], ids=dtype_id)
def test_cast_to_dst_dtype(dtype):
    pattern = [[3, 40]]
    out = do_iota((64, 40), NL[dtype], pattern, 1, 2)
    ref = iota_ref(64, pattern, 1, 2)
    if np.dtype(dtype).kind == "f":
        assert_equal(out, ref.astype(np.float32).astype(dtype))
    else:
        assert_equal(out, cast(ref, dtype))


def test_float32_dst_rounds_large_ints():
    out = do_iota((2, 4), nl.float32, [[1, 4]], 2 ** 24, 2 ** 25 + 1)
    assert_equal(out, iota_ref(2, [[1, 4]], 2 ** 24, 2 ** 25 + 1).astype(np.float32))


def test_int32_arithmetic_wraps():
    out = do_iota((4, 4), nl.int32, [[1, 4]], 2 ** 31 - 2, 1)
    assert_equal(out, iota_ref(4, [[1, 4]], 2 ** 31 - 2, 1))


def test_partition_offset_view_counts_partitions_of_the_view():
    # The channel index c is the partition index within dst (the view), starting at 0.
    def body():
        t = sbuf((128, 4), nl.int32)
        nisa.memset(t, -1)
        nisa.iota(t[32:64, :], [[1, 4]], offset=0, channel_multiplier=4)
        return t
    out = run(body)
    expected = np.full((128, 4), -1, np.int32)
    expected[32:64] = iota_ref(32, [[1, 4]], 0, 4)
    assert_equal(out, expected)


def test_strided_free_view():
    def body():
        t = sbuf((8, 8), nl.int32)
        nisa.memset(t, 0)
        nisa.iota(t[:, 1::2], [[1, 4]], offset=1, channel_multiplier=10)
        return t
    expected = np.zeros((8, 8), np.int32)
    expected[:, 1::2] = iota_ref(8, [[1, 4]], 1, 10)
    assert_equal(run(body), expected)


def test_partial_write_keeps_sentinels():
    out = check_partial_write(lambda v: nisa.iota(v, [[1, 8]], channel_multiplier=8),
                              dtype=nl.int32)
    assert_equal(out, iota_ref(128, [[1, 8]], 0, 8))
    outf = check_partial_write(lambda v: nisa.iota(v, [[1, 8]]), dtype=nl.float32)
    assert_equal(outf, iota_ref(128, [[1, 8]]).astype(np.float32))
