"""nisa.sendrecv under kernel[2]: both directions, pipes, dtypes; mismatches and missing peers."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import BF16
from test_launch_lnc import run_with_deadline


def swap_kernel(dtype, shape, engine=None, pipe=0):
    @nki.jit
    def k(a):
        out = nl.ndarray((2,) + shape, dtype=dtype, buffer=nl.shared_hbm)
        pid = nl.program_id(0)
        mine = nl.ndarray(shape, dtype=dtype, buffer=nl.sbuf)
        nisa.dma_copy(mine, a[pid])
        got = nl.ndarray(shape, dtype=dtype, buffer=nl.sbuf)
        kw = {} if engine is None else {"dma_engine": engine}
        nisa.sendrecv(src=mine, dst=got, send_to_rank=1 - pid, recv_from_rank=1 - pid,
                      pipe_id=pipe, **kw)
        nisa.dma_copy(out[pid], got)
        return out
    return k


@pytest.mark.parametrize("dtype", [np.float32, BF16, np.int32, np.uint8], ids=str)
def test_swap_between_the_cores(rng, dtype):
    shape = (128, 40)
    a = (rng.random((2,) + shape) * 100).astype(dtype)
    got = run_with_deadline(lambda: nki.simulate(swap_kernel(np.dtype(dtype).name if dtype is not BF16
                                                             else nl.bfloat16, shape)[2])(a))
    np.testing.assert_array_equal(got.view(np.uint8), a[::-1].view(np.uint8))


def test_gpsimd_dma_and_pipes(rng):
    a = rng.random((2, 16, 64), dtype=np.float32)
    got = run_with_deadline(lambda: nki.simulate(
        swap_kernel(nl.float32, (16, 64), engine=nisa.dma_engine.gpsimd_dma, pipe=3)[2])(a))
    np.testing.assert_array_equal(got, a[::-1])


def test_gpsimd_dma_limits():
    a = np.zeros((2, 16, 512), np.float32)
    with pytest.raises(nisa.NkiValidationError, match=r"dma_engine: gpsimd_dma moves at most 1024"):
        run_with_deadline(lambda: nki.simulate(
            swap_kernel(nl.float32, (16, 512), engine=nisa.dma_engine.gpsimd_dma)[2])(a))


def test_one_direction_and_loopback(rng):
    # Program 0 sends to 1 and receives from itself; program 1 receives from 0 and sends to 0.
    @nki.jit
    def k(a):
        out = nl.ndarray((2, 8, 8), dtype=nl.float32, buffer=nl.shared_hbm)
        pid = nl.program_id(0)
        mine = nl.ndarray((8, 8), dtype=nl.float32, buffer=nl.sbuf)
        nisa.dma_copy(mine, a[pid])
        got = nl.ndarray((8, 8), dtype=nl.float32, buffer=nl.sbuf)
        # ring over two cores on pipe 0, then a pass-to-self on pipe 1
        nisa.sendrecv(mine, got, send_to_rank=(pid + 1) % 2, recv_from_rank=(pid - 1) % 2,
                      pipe_id=0)
        back = nl.ndarray((8, 8), dtype=nl.float32, buffer=nl.sbuf)
        nisa.sendrecv(got, back, send_to_rank=pid, recv_from_rank=pid, pipe_id=1)
        nisa.dma_copy(out[pid], back)
        return out

    a = rng.random((2, 8, 8), dtype=np.float32)
    got = run_with_deadline(lambda: nki.simulate(k[2])(a))
    np.testing.assert_array_equal(got, a[::-1])


def test_mismatched_shapes_and_dtypes():
    @nki.jit
    def k(a):
        pid = nl.program_id(0)
        n = 8 if pid == 0 else 16
        mine = nl.ndarray((4, n), dtype=nl.float32, buffer=nl.sbuf)
        nisa.memset(mine, 1.0)
        got = nl.ndarray((4, n), dtype=nl.float32, buffer=nl.sbuf)
        nisa.sendrecv(mine, got, send_to_rank=1 - pid, recv_from_rank=1 - pid, pipe_id=0)
        return a

    with pytest.raises(nisa.NkiValidationError, match=r"sendrecv.*receives into.*but program . sends"):
        run_with_deadline(lambda: nki.simulate(k[2])(np.zeros(1, np.float32)))

    def body(a):
        mine = nl.ndarray((4, 8), dtype=nl.float32, buffer=nl.sbuf)
        got = nl.ndarray((4, 8), dtype=nl.int32, buffer=nl.sbuf)
        nisa.sendrecv(mine, got, send_to_rank=0, recv_from_rank=1, pipe_id=0)

    with pytest.raises(nisa.NkiValidationError, match=r"sendrecv: dst: must have src's dtype"):
        run_with_deadline(lambda: nki.simulate(nki.jit(body)[2])(np.zeros(1, np.float32)))


def test_peer_that_never_arrives_is_an_error_after_it_ends():
    @nki.jit
    def k(a):
        if nl.program_id() == 0:
            mine = nl.ndarray((4, 8), dtype=nl.float32, buffer=nl.sbuf)
            nisa.memset(mine, 1.0)
            got = nl.ndarray((4, 8), dtype=nl.float32, buffer=nl.sbuf)
            nisa.sendrecv(mine, got, send_to_rank=1, recv_from_rank=1, pipe_id=0)
        return a

    with pytest.raises(nisa.NkiValidationError,
                       match=r"sendrecv\(send_to_rank=1, recv_from_rank=1, pipe_id=0\).*program 1 has ended"):
        run_with_deadline(lambda: nki.simulate(k[2])(np.zeros(1, np.float32)))


def test_bad_ranks_buffers_and_launches(set_target):
    def body(send=1, dst_buf=nl.sbuf):
        def k(a):
            mine = nl.ndarray((4, 8), dtype=nl.float32, buffer=nl.sbuf)
            nisa.memset(mine, 1.0)
            got = nl.ndarray((4, 8), dtype=nl.float32, buffer=dst_buf)
            nisa.sendrecv(mine, got, send_to_rank=send, recv_from_rank=0, pipe_id=0)
            return a
        return k

    a = np.zeros(1, np.float32)
    with pytest.raises(nisa.NkiValidationError, match=r"sendrecv: send_to_rank: must be a rank"):
        run_with_deadline(lambda: nki.simulate(nki.jit(body(send=2))[2])(a))
    with pytest.raises(nisa.NkiValidationError, match=r"sendrecv: dst: must be in sbuf"):
        run_with_deadline(lambda: nki.simulate(nki.jit(body(dst_buf=nl.psum))[2])(a))
    with pytest.raises(nisa.NkiValidationError, match=r"sendrecv.*needs an LNC=2 launch"):
        nki.simulate(body())(a)
    with pytest.raises(nisa.NkiTypeError, match=r"sendrecv: pipe_id: expected an int"):
        def k(a):
            t = nl.ndarray((4, 8), dtype=nl.float32, buffer=nl.sbuf)
            nisa.sendrecv(t, t, 0, 0, "x")
        run_with_deadline(lambda: nki.simulate(nki.jit(k)[2])(a))
    set_target("trn1")
    with pytest.raises(nisa.NkiValidationError, match=r"sendrecv: is not available on trn1"):
        nki.simulate(body())(a)


def test_back_to_back_transfers_each_take_the_peers_next_tile():
    """Many sendrecv calls in a row on one pipe (nki-library's LNC all-reduce of each gate / up
    tile): every call must receive the peer's tile of the same call, never the previous one again
    (a program that finishes first and posts its next transfer used to find the peer's old,
    already received transfer still posted and take it twice; the peer then waited forever)."""
    n = 300

    @nki.jit
    def k(a):
        out = nl.ndarray((2, n, 4, 8), dtype=nl.float32, buffer=nl.shared_hbm)
        pid = nl.program_id(0)
        mine = nl.ndarray((4, 8), dtype=nl.float32, buffer=nl.sbuf)
        nisa.dma_copy(mine, a[pid])
        for i in range(n):
            nxt = nl.ndarray((4, 8), dtype=nl.float32, buffer=nl.sbuf)
            nisa.tensor_scalar(nxt, mine, nl.add, 1.0)
            got = nl.ndarray((4, 8), dtype=nl.float32, buffer=nl.sbuf)
            nisa.sendrecv(src=nxt, dst=got, send_to_rank=1 - pid, recv_from_rank=1 - pid,
                          pipe_id=0)
            nisa.dma_copy(out[pid, i], got)
            mine = nxt
        return out

    a = np.stack([np.zeros((4, 8), np.float32), np.full((4, 8), 1000, np.float32)])
    for _ in range(3):
        got = run_with_deadline(lambda: nki.simulate(k[2])(a))
        steps = np.arange(1, n + 1, dtype=np.float32)[:, None, None]
        np.testing.assert_array_equal(got[0], a[1] + steps)
        np.testing.assert_array_equal(got[1], a[0] + steps)
