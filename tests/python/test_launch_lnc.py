"""The C++ launch object under kernel[2]: shared HBM matching, failure propagation, no hangs."""
import threading

import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl



def run_with_deadline(fn, seconds=30):
    """Run fn() on a thread; fail (instead of hanging the suite) if it does not return in time."""
    out = {}

    def body():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001
            out["error"] = e

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "the launch hung"
    if "error" in out:
        raise out["error"]
    return out.get("value")


def test_shared_hbm_is_one_tensor_and_both_halves_are_written():
    @nki.jit
    def k(a):
        out = nl.ndarray((128, 64), dtype=nl.float32, buffer=nl.shared_hbm)
        pid = nl.program_id(0)
        t = nl.ndarray((64, 64), dtype=nl.float32, buffer=nl.sbuf)
        nisa.dma_copy(t, a[pid * 64:(pid + 1) * 64, :])
        nisa.tensor_scalar(t, t, nl.add, float(pid))
        nisa.dma_copy(out[pid * 64:(pid + 1) * 64, :], t)
        return out

    a = np.random.default_rng(0).random((128, 64), dtype=np.float32)
    got = run_with_deadline(lambda: nki.simulate(k[2])(a))
    exp = a.copy()
    exp[64:] += 1
    np.testing.assert_array_equal(got, exp)


def test_shared_hbm_mismatch_names_both_shapes():
    @nki.jit
    def k(a):
        n = 4 if nl.program_id() == 0 else 8
        out = nl.ndarray((n, 4), dtype=nl.float32, buffer=nl.shared_hbm)
        return out

    with pytest.raises(nisa.NkiValidationError, match=r"shared_hbm allocation #0.*same order"):
        run_with_deadline(lambda: nki.simulate(k[2])(np.zeros((4, 4), np.float32)))


def test_error_in_one_program_releases_the_other_waiting_in_a_barrier():
    @nki.jit
    def k(a):
        out = nl.ndarray((4, 4), dtype=nl.float32, buffer=nl.shared_hbm)
        if nl.program_id() == 1:
            raise ValueError("boom in program 1")
        nisa.core_barrier(out, (0, 1))  # program 0 waits here for program 1, which failed
        return out

    with pytest.raises(ValueError, match="boom in program 1") as ei:
        run_with_deadline(lambda: nki.simulate(k[2])(np.zeros((4, 4), np.float32)))
    notes = "\n".join(getattr(ei.value, "__notes__", []))
    assert "program 0 of k[2] also failed: NkiLaunchAbortedError" in notes
    assert "program 1 failed" in notes


def test_error_in_one_program_stops_the_other_at_its_next_instruction():
    started = threading.Event()

    @nki.jit
    def k(a):
        t = nl.ndarray((4, 4), dtype=nl.float32, buffer=nl.sbuf)
        if nl.program_id() == 0:
            started.wait(10)
            nisa.memset(t, 1.0, engine=nisa.engine.tensor)  # invalid engine: program 0 fails
        else:
            started.set()
            for _ in range(1000000):  # would run for minutes unless stopped
                nisa.memset(t, 1.0)
        return a

    with pytest.raises(nisa.NkiValidationError, match="memset: engine") as ei:
        run_with_deadline(lambda: nki.simulate(k[2])(np.zeros((4, 4), np.float32)))
    assert any("program 1 of k[2] also failed: NkiLaunchAbortedError" in n for n in ei.value.__notes__)


def test_kernel2_on_trn1_is_refused(set_target):
    set_target("trn1")

    @nki.jit
    def k(a):
        return a

    with pytest.raises(nisa.NkiValidationError, match=r"LNC degree up to 1"):
        nki.simulate(k[2])(np.zeros((2, 2), np.float32))


def test_interpreters_are_reused_across_launches():
    @nki.jit
    def k(a):
        t = nl.ndarray((128, 512), dtype=nl.float32, buffer=nl.sbuf)
        nisa.dma_copy(t, a)
        out = nl.ndarray((128, 512), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, t)
        return out

    a = np.ones((128, 512), np.float32)
    for _ in range(5):
        np.testing.assert_array_equal(nki.simulate(k[2])(a), a)


@pytest.mark.parametrize("grid", [None, 1, 2])
def test_program_id_and_num_programs_forms(grid):
    seen = []

    @nki.jit
    def k(a):
        seen.append((nl.program_id(), nl.program_id(0), nl.program_id(axis=0), nl.num_programs(),
                     nl.num_programs(0), nl.num_programs((0,)), nl.num_programs([0]),
                     nl.num_programs(None), nl.program_ndim()))
        return a

    kern = k if grid is None else k[grid]
    nki.simulate(kern)(np.zeros((2, 2), np.float32))
    n = grid or 1
    ndim = 0 if grid is None else 1
    assert sorted(seen) == sorted((i, i, i, n, n, n, n, n, ndim) for i in range(n))


def test_program_id_of_a_missing_axis_is_refused():
    @nki.jit
    def k(a):
        nl.program_id(1)

    with pytest.raises(nisa.NkiValidationError, match=r"program_id\(axis=1\).*1 dimension"):
        nki.simulate(k[2])(np.zeros((2, 2), np.float32))
    with pytest.raises(nisa.NkiValidationError, match=r"num_programs\(axes=2\)"):
        nki.simulate(lambda a: nl.num_programs(axes=(0, 2)))(np.zeros((2, 2), np.float32))
