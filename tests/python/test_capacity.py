"""SBUF/PSUM capacity is checked by live ranges, as the compiler's allocator needs it: a tile
occupies memory from the instruction that writes it to the last instruction that reads it, and a
tile overwritten whole starts a new range. Kernels that keep Python references to tiles they no
longer use (lists of per-iteration tiles, tiles allocated once and reused) fit; kernels whose
tiles are truly needed at the same time still fail, naming the instruction and every live tile.
"""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import tiles_held_at_once

ALLOC = nisa.NkiAllocationError


@pytest.fixture
def trn2(set_target):
    set_target("trn2")  # 212984 SBUF bytes / partition


# ---------------------------------------------------------------- patterns that fit
@nki.jit
def per_iteration_tiles_kept_in_a_list(x):
    # Each iteration stages a 96 KiB (per partition) tile and keeps it in a list; only the
    # current one is ever read again, so at most one is live.
    out = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
    staged = []
    for i in range(4):
        t = nl.ndarray((128, 24576), dtype=nl.float32, buffer=nl.sbuf)
        nisa.dma_copy(t[:, 0:x.shape[1]], x)
        nisa.tensor_scalar(t[:, 0:x.shape[1]], t[:, 0:x.shape[1]], nl.add, float(i))
        nisa.dma_copy(out, t[:, 0:x.shape[1]])
        staged.append(t)
    return out


def test_tiles_referenced_after_their_last_use_do_not_count(trn2):
    x = np.arange(128 * 64, dtype=np.float32).reshape(128, 64)
    out = nki.simulate(per_iteration_tiles_kept_in_a_list)(x)
    np.testing.assert_array_equal(out, x + 3)


@nki.jit
def two_large_tiles_in_alternation(x):
    # Two 120 KiB tiles allocated once and reused every iteration: `a` dies where `b` is born
    # (tensor_scalar reads a, writes b), and the next load overwrites `a` whole. Together they
    # are larger than a partition, but never live at once.
    n = 30720
    out = nl.ndarray((128, 1), dtype=nl.float32, buffer=nl.shared_hbm)
    a = nl.ndarray((128, n), dtype=nl.float32, buffer=nl.sbuf)
    b = nl.ndarray((128, n), dtype=nl.float32, buffer=nl.sbuf)
    acc = nl.ndarray((128, 1), dtype=nl.float32, buffer=nl.sbuf)
    part = nl.ndarray((128, 1), dtype=nl.float32, buffer=nl.sbuf)
    nisa.memset(acc, 0.0)
    for c in range(x.shape[1] // n):
        nisa.dma_copy(a, x[:, c * n:(c + 1) * n])
        nisa.tensor_scalar(b, a, nl.multiply, 2.0)
        nisa.tensor_reduce(part, nl.add, b, axis=1)
        nisa.tensor_tensor(acc, acc, part, nl.add)
    nisa.dma_copy(out, acc)
    return out


def test_tiles_reused_in_alternation_fit(trn2):
    x = np.ones((128, 2 * 30720), dtype=np.float32)
    out = nki.simulate(two_large_tiles_in_alternation)(x)
    np.testing.assert_allclose(out[:, 0], 2 * 2 * 30720)


@nki.jit
def psum_accumulators_kept_in_a_list(a, b):
    # Twelve 2 KiB accumulators (more than the 8 banks) kept in a list; each is evacuated
    # before the next one is written.
    out = nl.ndarray((128, 12 * 512), dtype=nl.float32, buffer=nl.shared_hbm)
    at = nl.ndarray(a.shape, dtype=a.dtype, buffer=nl.sbuf)
    bt = nl.ndarray(b.shape, dtype=b.dtype, buffer=nl.sbuf)
    nisa.dma_copy(at, a)
    nisa.dma_copy(bt, b)
    accs = []
    for j in range(12):
        ps = nl.ndarray((128, 512), dtype=nl.float32, buffer=nl.psum)
        nisa.nc_matmul(ps, at, bt)
        sb = nl.ndarray((128, 512), dtype=nl.float32, buffer=nl.sbuf)
        nisa.tensor_copy(sb, ps)
        nisa.dma_copy(out[:, j * 512:(j + 1) * 512], sb)
        accs.append(ps)
    return out


def test_psum_accumulators_referenced_after_their_last_use_fit(trn2):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((128, 128)).astype(np.float32)
    b = rng.standard_normal((128, 512)).astype(np.float32)
    out = nki.simulate(psum_accumulators_kept_in_a_list)(a, b)
    ref = a.T.astype(np.float64) @ b
    for j in range(12):
        np.testing.assert_allclose(out[:, j * 512:(j + 1) * 512], ref, rtol=1e-4, atol=1e-3)


# ---------------------------------------------------------------- true overflow still fails
@nki.jit
def all_tiles_needed_at_once(x):
    # Three 96 KiB tiles loaded first and all read at the end: 288 KiB live at once.
    out = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
    tiles = []
    for i in range(3):
        t = nl.ndarray((128, 24576), dtype=nl.float32, buffer=nl.sbuf, name=f"w{i}")
        nisa.dma_copy(t[:, 0:x.shape[1]], x)
        nisa.memset(t[:, x.shape[1]:], 0.0)
        tiles.append(t)
    acc = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.sbuf, name="acc")
    nisa.memset(acc, 0.0)
    for t in tiles:
        nisa.tensor_tensor(acc, acc, t[:, 0:x.shape[1]], nl.add)
    nisa.dma_copy(out, acc)
    return out


def test_tiles_live_at_once_beyond_capacity_fail_with_a_clear_message(trn2):
    x = np.ones((128, 64), dtype=np.float32)
    with pytest.raises(ALLOC) as ei:
        nki.simulate(all_tiles_needed_at_once)(x)
    msg = str(ei.value)
    assert "sbuf capacity exceeded on core 0" in msg
    # three 96 KiB tiles + acc (256 bytes), from acc's memset on
    assert "need 295168 bytes per partition, more than the 212984 bytes" in msg
    assert "(memset)" in msg  # the instruction where the peak starts
    for name in ("'w0'", "'w1'", "'w2'"):
        assert name in msg
    assert "test_capacity.py" in msg  # allocation lines, and the kernel line last
    assert msg.rstrip().splitlines()[-1].lstrip().startswith("at ")
    assert "w0" in msg.splitlines()[1]  # largest first, then by start


def test_psum_beyond_eight_banks_live_at_once_fails(trn2):
    @nki.jit
    def k(x):
        out = nl.ndarray((128, 512), dtype=nl.float32, buffer=nl.shared_hbm)
        accs = []
        for i in range(9):
            ps = nl.ndarray((128, 512), dtype=nl.float32, buffer=nl.psum, name=f"acc{i}")
            nisa.memset(ps, float(i))
            accs.append(ps)
        sb = nl.ndarray((128, 512), dtype=nl.float32, buffer=nl.sbuf)
        nisa.memset(sb, 0.0)
        for ps in accs:
            nisa.tensor_tensor(sb, sb, ps, nl.add)
        nisa.dma_copy(out, sb)
        return out

    with pytest.raises(ALLOC, match=r"psum capacity exceeded on core 0: .* need 18432 bytes per "
                                    r"partition, more than the 16384 bytes"):
        nki.simulate(k)(np.zeros((1, 1), np.float32))


def test_strict_mode_fails_at_allocation(trn2, monkeypatch):
    monkeypatch.setenv("NKI_SIM_CAPACITY", "strict")
    x = np.arange(128 * 64, dtype=np.float32).reshape(128, 64)
    with pytest.raises(ALLOC, match=r"sbuf is full .* Live tensors by address:\n  '<unnamed>' "
                                    r"partitions \[0, 128\) bytes \[0, 98304\) = 98304"):
        nki.simulate(per_iteration_tiles_kept_in_a_list)(x)


def test_a_tile_larger_than_a_partition_fails_at_allocation(trn2):
    @nki.jit
    def k():
        nl.ndarray((128, 65536), dtype=nl.float32, buffer=nl.sbuf, name="huge")

    with pytest.raises(ALLOC, match=r"262144 bytes per partition exceed the sbuf partition size"):
        nki.simulate(k)()


def test_tiles_in_the_map_and_outside_hold_their_data(trn2):
    # Three 96 KiB tiles referenced at once: the third lives outside the map (the first two
    # fill it) and is used after the first is dead; data stays separate.
    k = tiles_held_at_once(3, 24576, nl.add, float)

    x = np.arange(128 * 64, dtype=np.float32).reshape(128, 64)
    out = nki.simulate(k)(x)
    for i in range(3):
        np.testing.assert_array_equal(out[i], x + i)
