"""Reads of on-chip tensors that no instruction has written (NKI_SIM_UNINIT)."""
import warnings

import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl


def _reads_fresh_tile(a):
    out = nl.ndarray(a.shape, dtype=a.dtype, buffer=nl.shared_hbm)
    t = nl.ndarray(a.shape, dtype=a.dtype)
    u = nl.ndarray(a.shape, dtype=a.dtype)
    nisa.tensor_copy(u, t)          # t was never written
    nisa.dma_copy(out, u)
    return out


def _writes_before_reading(a):
    out = nl.ndarray(a.shape, dtype=a.dtype, buffer=nl.shared_hbm)
    t = nl.ndarray(a.shape, dtype=a.dtype)
    nisa.dma_copy(t, a)
    u = nl.ndarray(a.shape, dtype=a.dtype)
    nisa.tensor_copy(u, t)
    nisa.dma_copy(out, u)
    return out


A = np.ones((4, 8), np.float32)


def test_warns_by_default_naming_instruction_operand_and_line(monkeypatch):
    monkeypatch.delenv("NKI_SIM_UNINIT", raising=False)
    with pytest.warns(nisa.NkiUninitializedReadWarning) as rec:
        out = nki.simulate(_reads_fresh_tile)(A)
    assert np.isnan(out).all()  # the read still happens and sees the sentinels
    msg = str(rec[0].message)
    assert "nki.isa.tensor_copy: src" in msg and "no instruction has written" in msg
    assert "test_uninitialized.py" in msg and "nisa.tensor_copy(u, t)" in msg
    assert rec[0].filename.endswith("test_uninitialized.py")


def test_error_policy_raises(monkeypatch):
    monkeypatch.setenv("NKI_SIM_UNINIT", "error")
    with pytest.raises(nisa.NkiUninitializedReadError, match=r"tensor_copy: src: reads sbuf"):
        nki.simulate(_reads_fresh_tile)(A)
    assert issubclass(nisa.NkiUninitializedReadError, nisa.NkiValidationError)


def test_off_policy_is_silent(monkeypatch):
    monkeypatch.setenv("NKI_SIM_UNINIT", "off")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nki.simulate(_reads_fresh_tile)(A)


def test_written_tiles_do_not_warn(monkeypatch):
    monkeypatch.setenv("NKI_SIM_UNINIT", "error")
    np.testing.assert_array_equal(nki.simulate(_writes_before_reading)(A), A)


def test_psum_accumulation_target_is_not_a_read(monkeypatch):
    monkeypatch.setenv("NKI_SIM_UNINIT", "error")

    def k(x):
        out = nl.ndarray((8, 8), dtype=nl.float32, buffer=nl.shared_hbm)
        s = nl.load(x)
        p = nl.ndarray((8, 8), dtype=nl.float32, buffer=nl.psum)
        nisa.nc_matmul(p, s, s)     # first write to fresh PSUM: overwrites, no uninit read
        r = nl.ndarray((8, 8), dtype=nl.float32)
        nisa.tensor_copy(r, p)
        nl.store(out, r)
        return out

    x = np.arange(64, dtype=np.float32).reshape(8, 8) / 64
    np.testing.assert_allclose(nki.simulate(k)(x), x.T @ x, rtol=1e-6)
