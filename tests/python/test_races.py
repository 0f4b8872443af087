"""Race detection between the two cores of kernel[2] on shared HBM (NKI_SIM_RACE)."""
import warnings

import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from test_launch_lnc import run_with_deadline


def exchange(sync):
    """Each core writes its half of `mid`, then reads the other core's half."""
    import threading
    order = threading.Event()
    @nki.jit
    def k(a):
        mid = nl.ndarray((128, 32), dtype=nl.float32, buffer=nl.shared_hbm, name="mid")
        out = nl.ndarray((128, 32), dtype=nl.float32, buffer=nl.shared_hbm)
        pid = nl.program_id(0)
        t = nl.ndarray((64, 32), dtype=nl.float32, buffer=nl.sbuf)
        nisa.dma_copy(t, a[pid * 64:(pid + 1) * 64, :])
        nisa.dma_copy(mid[pid * 64:(pid + 1) * 64, :], t)
        if sync == "barrier":
            nisa.core_barrier(mid, (0, 1))
        elif sync == "sendrecv":
            s = nl.ndarray((1, 1), dtype=nl.float32, buffer=nl.sbuf)
            nisa.memset(s, 0.0)
            r = nl.ndarray((1, 1), dtype=nl.float32, buffer=nl.sbuf)
            nisa.sendrecv(s, r, send_to_rank=1 - pid, recv_from_rank=1 - pid, pipe_id=0)
        else:  # no synchronisation (host-side ordering only: program 1 reads after 0 wrote)
            if pid == 0:
                order.set()
            else:
                order.wait(20)
        u = nl.ndarray((64, 32), dtype=nl.float32, buffer=nl.sbuf)
        nisa.dma_copy(u, mid[(1 - pid) * 64:(2 - pid) * 64, :])
        nisa.dma_copy(out[pid * 64:(pid + 1) * 64, :], u)
        return out
    return k


def run(kernel, monkeypatch, policy=None):
    if policy:
        monkeypatch.setenv("NKI_SIM_RACE", policy)
    a = np.arange(128 * 32, dtype=np.float32).reshape(128, 32)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        run_with_deadline(lambda: nki.simulate(kernel[2])(a))
    return [x for x in w if issubclass(x.category, nisa.NkiRaceWarning)]


@pytest.mark.parametrize("sync", ["barrier", "sendrecv"])
def test_synchronised_exchange_is_not_reported(monkeypatch, sync):
    assert run(exchange(sync), monkeypatch) == []


def test_unsynchronised_exchange_is_reported(monkeypatch):
    # Program 1 reads program 0's half after program 0 wrote it, with no synchronisation.
    found = run(exchange("none"), monkeypatch)
    assert found, "an unsynchronised cross-core read was not reported"
    m = str(found[0].message)
    assert "cross-core race on shared_hbm float32" in m and "'mid'" in m
    assert "nki.isa.dma_copy (dst)" in m and "test_races.py" in m
    assert "core_barrier(mid, (0, 1))" in m and "this access:" in m


def test_deterministic_race_under_error_policy(monkeypatch):
    import threading
    written = threading.Event()

    # Program 0 writes, a barrier, program 1 writes again, program 0 reads without a second barrier.
    @nki.jit
    def k(a):
        buf = nl.ndarray((4, 8), dtype=nl.float32, buffer=nl.shared_hbm, name="buf")
        pid = nl.program_id(0)
        t = nl.ndarray((4, 8), dtype=nl.float32, buffer=nl.sbuf)
        nisa.memset(t, float(pid))
        if pid == 1:
            nisa.dma_copy(buf, t)
        s = nl.ndarray((1, 1), dtype=nl.float32, buffer=nl.sbuf)
        nisa.memset(s, 0.0)
        r = nl.ndarray((1, 1), dtype=nl.float32, buffer=nl.sbuf)
        # program 1 writes buf before this exchange and again after it; program 0 reads after it
        nisa.sendrecv(s, r, send_to_rank=1 - pid, recv_from_rank=1 - pid, pipe_id=0)
        if pid == 1:
            nisa.dma_copy(buf, t)
            written.set()
        if pid == 0:
            written.wait(20)  # host-side ordering only: the simulator sees no synchronisation
            nisa.dma_copy(t, buf)
        return a

    monkeypatch.setenv("NKI_SIM_RACE", "error")
    with pytest.raises(nisa.NkiRaceError, match=r"dma_copy: src: cross-core race.*program 0 reads.*program 1 wrote"):
        run_with_deadline(lambda: nki.simulate(k[2])(np.zeros(1, np.float32)))
    monkeypatch.setenv("NKI_SIM_RACE", "off")
    run_with_deadline(lambda: nki.simulate(k[2])(np.zeros(1, np.float32)))


def test_disjoint_writes_are_not_races(monkeypatch):
    @nki.jit
    def k(a):
        out = nl.ndarray((128, 16), dtype=nl.float32, buffer=nl.shared_hbm)
        pid = nl.program_id(0)
        t = nl.ndarray((64, 16), dtype=nl.float32, buffer=nl.sbuf)
        for i in range(3):
            nisa.memset(t, float(i + pid))
            nisa.dma_copy(out[pid * 64:(pid + 1) * 64, :], t)
        return out

    assert run(k, monkeypatch) == []
