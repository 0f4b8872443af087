"""NKI_PRECISE_FP: AWS's simulator holds bfloat16/fp8 tensors in float32 unless NKI_PRECISE_FP=1.
nkisim always stores a tensor in its own dtype (NKI_PRECISE_FP=1 behaviour, as on hardware);
asking for NKI_PRECISE_FP=0 gives a warning that says so, and the results are unchanged."""
import warnings

import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import BF16


@nki.jit
def add_third_bf16(x):
    out = nl.ndarray(x.shape, dtype=nl.bfloat16, buffer=nl.shared_hbm)
    t = nl.ndarray(x.shape, dtype=nl.bfloat16, buffer=nl.sbuf)
    nisa.dma_copy(t, x)
    nisa.tensor_scalar(t, t, nl.add, 1.0 / 3.0)  # rounded to bfloat16 on store
    nisa.tensor_scalar(t, t, nl.multiply, 3.0)
    nisa.dma_copy(out, t)
    return out


def _ref(x):
    t = (x.astype(np.float32) + np.float32(1.0 / 3.0)).astype(BF16)
    return (t.astype(np.float32) * 3).astype(BF16)


@pytest.mark.parametrize("value", [None, "1", "0"])
def test_tensors_are_stored_in_their_dtype_whatever_nki_precise_fp_says(monkeypatch, value):
    if value is not None:
        monkeypatch.setenv("NKI_PRECISE_FP", value)
    x = np.linspace(-4, 4, 128 * 8, dtype=np.float32).reshape(128, 8).astype(BF16)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        out = nki.simulate(add_third_bf16)(x)
    np.testing.assert_array_equal(out.astype(np.float32), _ref(x).astype(np.float32))
    notes = [w for w in got if issubclass(w.category, nki.NkiPreciseFpWarning)]
    if value == "0":
        assert len(notes) == 1
        msg = str(notes[0].message)
        assert "NKI_PRECISE_FP=0 is not supported by nkisim" in msg
        assert "stored in their own dtype" in msg
        assert notes[0].filename == __file__  # points at the caller
    else:
        assert notes == []
