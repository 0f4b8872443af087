"""nisa.register_store: a register's value into a single-element SBUF or HBM tensor."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl


@pytest.mark.parametrize("dtype", ["int32", "uint16", "int8", "float32", "bfloat16"])
def test_store_to_sbuf_and_hbm(dtype):
    def k(a):
        r = nisa.register_alloc(100)
        t = nl.ndarray((1, 1), dtype=dtype, buffer=nl.sbuf)
        nisa.register_store(t, r)
        out = nl.ndarray((1, 2), dtype=dtype, buffer=nl.shared_hbm)
        nisa.dma_copy(out[:, 0:1], t)
        nisa.register_store(out[:, 1:2], r)  # straight into HBM
        return out

    got = nki.simulate(k)(np.zeros(1, np.float32))
    assert [float(v) for v in got[0].astype(np.float64)] == [100.0, 100.0]


def test_bad_destinations():
    def many(a):
        t = nl.ndarray((1, 2), dtype=nl.int32, buffer=nl.sbuf)
        nisa.register_store(t, nisa.register_alloc(1))

    with pytest.raises(nisa.NkiValidationError, match=r"register_store: dst: must hold exactly one"):
        nki.simulate(many)(np.zeros(1, np.float32))
    ro = np.zeros((1, 1), np.int32)
    ro.flags.writeable = False
    with pytest.raises(nisa.NkiValidationError, match=r"register_store: dst: .*read-only"):
        nki.simulate(lambda a: nisa.register_store(a, nisa.register_alloc(1)))(ro)
    with pytest.raises(nisa.NkiValidationError, match=r"register_store: src: reads register"):
        nki.simulate(lambda a: nisa.register_store(a, nisa.register_alloc()))(np.zeros((1, 1), np.int32))
