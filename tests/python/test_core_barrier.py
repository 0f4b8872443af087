"""nisa.core_barrier under kernel[2]: both cores write halves of a shared tensor, meet, and read
the whole; bad uses raise clearly (and never hang)."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from test_launch_lnc import run_with_deadline


def exchange_kernel(a):
    # Each core writes its half of `mid`, then (after the barrier) reads the other core's half.
    mid = nl.ndarray((128, 32), dtype=nl.float32, buffer=nl.shared_hbm)
    out = nl.ndarray((128, 32), dtype=nl.float32, buffer=nl.shared_hbm)
    pid = nl.program_id(0)
    t = nl.ndarray((64, 32), dtype=nl.float32, buffer=nl.sbuf)
    nisa.dma_copy(t, a[pid * 64:(pid + 1) * 64, :])
    nisa.tensor_scalar(t, t, nl.multiply, 2.0)
    nisa.dma_copy(mid[pid * 64:(pid + 1) * 64, :], t)
    nisa.core_barrier(mid, (0, 1))
    other = 1 - pid
    u = nl.ndarray((64, 32), dtype=nl.float32, buffer=nl.sbuf)
    nisa.dma_copy(u, mid[other * 64:(other + 1) * 64, :])
    nisa.dma_copy(out[pid * 64:(pid + 1) * 64, :], u)
    return out


def test_barrier_makes_the_other_half_visible(rng):
    a = rng.random((128, 32), dtype=np.float32)
    got = run_with_deadline(lambda: nki.simulate(nki.jit(exchange_kernel)[2])(a))
    exp = np.concatenate([a[64:] * 2, a[:64] * 2])
    np.testing.assert_array_equal(got, exp)


def test_many_barriers_in_a_loop(rng):
    @nki.jit
    def k(a):
        acc = nl.ndarray((2, 8), dtype=nl.float32, buffer=nl.shared_hbm)
        pid = nl.program_id(0)
        t = nl.ndarray((1, 8), dtype=nl.float32, buffer=nl.sbuf)
        nisa.memset(t, 0.0)
        nisa.dma_copy(acc[pid:pid + 1, :], t)
        for _ in range(50):
            nisa.core_barrier(acc, (0, 1))
            u = nl.ndarray((1, 8), dtype=nl.float32, buffer=nl.sbuf)
            nisa.dma_copy(u, acc[1 - pid:2 - pid, :])
            nisa.tensor_scalar(u, u, nl.add, 1.0)
            nisa.core_barrier(acc, (0, 1))
            nisa.dma_copy(acc[pid:pid + 1, :], u)
        return acc

    got = run_with_deadline(lambda: nki.simulate(k[2])(np.zeros(1, np.float32)))
    np.testing.assert_array_equal(got, np.full((2, 8), 50, np.float32))


def test_barrier_whose_peer_never_arrives_is_an_error_not_a_hang():
    @nki.jit
    def k(a):
        out = nl.ndarray((4, 4), dtype=nl.float32, buffer=nl.shared_hbm)
        if nl.program_id() == 0:
            nisa.core_barrier(out, (0, 1))
        return out

    with pytest.raises(nisa.NkiValidationError, match=r"core_barrier.*program 1 has ended"):
        run_with_deadline(lambda: nki.simulate(k[2])(np.zeros((4, 4), np.float32)))


def test_barrier_against_a_sendrecv_is_a_deadlock_error():
    @nki.jit
    def k(a):
        out = nl.ndarray((4, 4), dtype=nl.float32, buffer=nl.shared_hbm)
        t = nl.ndarray((4, 4), dtype=nl.float32, buffer=nl.sbuf)
        nisa.memset(t, 0.0)
        if nl.program_id() == 0:
            nisa.core_barrier(out, (0, 1))
        else:
            r = nl.ndarray((4, 4), dtype=nl.float32, buffer=nl.sbuf)
            nisa.sendrecv(t, r, send_to_rank=0, recv_from_rank=0, pipe_id=0)
        return out

    with pytest.raises(nisa.NkiValidationError, match=r"would wait forever.*is waiting in"):
        run_with_deadline(lambda: nki.simulate(k[2])(np.zeros((4, 4), np.float32)))


def test_bad_uses(set_target):
    def body(cores=(0, 1), buffer=nl.shared_hbm):
        def k(a):
            d = nl.ndarray((4, 4), dtype=nl.float32, buffer=buffer)
            nisa.core_barrier(d, cores)
            return a
        return k

    a = np.zeros((4, 4), np.float32)
    with pytest.raises(nisa.NkiValidationError, match=r"core_barrier.*needs an LNC=2 launch"):
        nki.simulate(body())(a)
    with pytest.raises(nisa.NkiValidationError, match=r"core_barrier: cores: only cores=\(0, 1\)"):
        run_with_deadline(lambda: nki.simulate(nki.jit(body(cores=(0,)))[2])(a))
    with pytest.raises(nisa.NkiValidationError, match=r"core_barrier: data: must be in sbuf or hbm, found a tensor in psum"):
        run_with_deadline(lambda: nki.simulate(nki.jit(body(buffer=nl.psum))[2])(a))
    with pytest.raises(nisa.NkiValidationError, match=r"core_barrier: data: must be a shared_hbm"):
        run_with_deadline(lambda: nki.simulate(nki.jit(body(buffer=nl.private_hbm))[2])(a))
    set_target("trn1")
    with pytest.raises(nisa.NkiValidationError, match=r"core_barrier: is not available on trn1"):
        nki.simulate(body())(a)


def test_barrier_on_an_sbuf_tile():
    """Each core steps its own SBUF block counter and synchronises on it (nki-library's shard-on-I
    MoE dynamic loop: `core_barrier(block_idx, (0, 1))` with block_idx a (1, 1) SBUF tile)."""
    @nki.jit
    def k(a):
        out = nl.ndarray((2, 4), dtype=nl.int32, buffer=nl.shared_hbm)
        pid = nl.program_id(0)
        idx = nl.ndarray((1, 1), dtype=nl.int32, buffer=nl.sbuf)
        nisa.memset(idx, value=3)
        for _ in range(5):
            nisa.tensor_scalar(dst=idx, data=idx, op0=nl.add, operand0=1)
            nisa.core_barrier(idx, (0, 1))
        row = nl.ndarray((1, 4), dtype=nl.int32, buffer=nl.sbuf)
        nisa.tensor_copy(row, idx.ap(pattern=[[1, 1], [0, 4]], offset=0))
        nisa.dma_copy(out[pid:pid + 1, :], row)
        return out

    got = run_with_deadline(lambda: nki.simulate(k[2])(np.zeros((1, 1), np.float32)))
    np.testing.assert_array_equal(got, np.full((2, 4), 8, np.int32))
