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


# ---------------------------------------------------------------- per element (issue 6)
def _partly_written(a, write_rows, write_cols, read):
    """Write a[:write_rows, :write_cols] of a fresh [P, F] tile, then tensor_copy the `read` view."""
    out = nl.ndarray(a.shape, dtype=a.dtype, buffer=nl.shared_hbm)
    t = nl.ndarray(a.shape, dtype=a.dtype, name="part")
    nisa.dma_copy(t[0:write_rows, 0:write_cols], a[0:write_rows, 0:write_cols])
    u = nl.ndarray(a.shape, dtype=a.dtype)
    nisa.memset(u, 0.0)
    r0, r1, c0, c1 = read
    nisa.tensor_copy(u[r0:r1, c0:c1], t[r0:r1, c0:c1])
    nisa.dma_copy(out, u)
    return out


@pytest.mark.parametrize("write, read, first", [
    ((3, 8), (0, 4, 0, 8), "[3, 0]"),       # rows 0-2 written: row 3 is the first gap
    ((4, 5), (0, 4, 0, 8), "[0, 5]"),       # columns 5.. of row 0
    ((4, 5), (2, 4, 3, 7), "[0, 2]"),       # in the view's own index space
    ((2, 8), (1, 4, 0, 8), "[1, 0]"),
])
def test_reports_the_first_unwritten_element_exactly(monkeypatch, write, read, first):
    monkeypatch.setenv("NKI_SIM_UNINIT", "error")
    a = np.arange(32, dtype=np.float32).reshape(4, 8)
    with pytest.raises(nisa.NkiUninitializedReadError) as ei:
        nki.simulate(lambda x: _partly_written(x, *write, read))(a)
    msg = str(ei.value)
    assert "nki.isa.tensor_copy: src: reads sbuf float32" in msg and "'part'" in msg
    assert f"at index {first}, an element no instruction has written" in msg
    assert "test_uninitialized.py" in msg and "nisa.tensor_copy(u[r0:r1, c0:c1], t[r0:r1, c0:c1])" in msg


@pytest.mark.parametrize("write, read", [
    ((4, 8), (0, 4, 0, 8)),   # everything written, in one DMA
    ((3, 8), (0, 3, 0, 8)),   # only the written rows are read
    ((4, 5), (1, 4, 0, 5)),   # only the written columns are read
])
def test_reads_of_written_elements_are_not_reported(monkeypatch, write, read):
    monkeypatch.setenv("NKI_SIM_UNINIT", "error")
    a = np.arange(32, dtype=np.float32).reshape(4, 8)
    out = nki.simulate(lambda x: _partly_written(x, *write, read))(a)
    r0, r1, c0, c1 = read
    assert (out[r0:r1, c0:c1] == a[r0:r1, c0:c1]).all()


def test_tile_written_in_pieces_is_fully_written(monkeypatch):
    monkeypatch.setenv("NKI_SIM_UNINIT", "error")
    a = np.arange(128 * 6, dtype=np.float32).reshape(128, 6)

    def k(x):
        out = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
        t = nl.ndarray(x.shape, dtype=x.dtype)
        for i in range(4):                          # four 32-partition DMAs
            nisa.dma_copy(t[i * 32:(i + 1) * 32, :], x[i * 32:(i + 1) * 32, :])
        u = nl.ndarray(x.shape, dtype=x.dtype)
        nisa.tensor_scalar(u, t, nl.add, 1.0)       # reads all of t
        nisa.dma_copy(out, u)
        return out
    assert (nki.simulate(k)(a) == a + 1).all()


def test_operand_tiles_and_psum_are_checked_too(monkeypatch):
    monkeypatch.setenv("NKI_SIM_UNINIT", "error")

    def k(x):
        t = nl.ndarray((4, 8), dtype=nl.float32)
        nisa.dma_copy(t, x)
        s = nl.ndarray((4, 1), dtype=nl.float32)    # the scalar operand tile: never written
        nisa.tensor_scalar(t, t, nl.multiply, s)
        return t
    with pytest.raises(nisa.NkiUninitializedReadError, match=r"tensor_scalar: operand0: reads"):
        nki.simulate(k)(np.ones((4, 8), np.float32))

    def p(x):
        acc = nl.ndarray((4, 8), dtype=nl.float32, buffer=nl.psum)
        t = nl.ndarray((4, 8), dtype=nl.float32)
        nisa.tensor_copy(t[:, 0:4], acc[:, 0:4])    # PSUM never written
        return t
    with pytest.raises(nisa.NkiUninitializedReadError, match=r"tensor_copy: src: reads psum"):
        nki.simulate(p)(np.ones((4, 8), np.float32))
