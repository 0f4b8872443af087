"""nisa.register_load: a single integer element of an SBUF or HBM tensor into a register."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from test_register_move import stored


@pytest.mark.parametrize("dtype", [np.int32, np.uint32, np.int16, np.uint8, np.int8])
@pytest.mark.parametrize("where", ["sbuf", "hbm"])
def test_load_from_sbuf_and_hbm(dtype, where):
    value = {np.int8: -5, np.int16: -300, np.uint8: 200, np.uint32: 70000, np.int32: -123456}[dtype]

    def k(a):
        r = nisa.register_alloc()
        if where == "sbuf":
            t = nl.ndarray((1, 1), dtype=a.dtype, buffer=nl.sbuf)
            nisa.dma_copy(t, a)
            nisa.register_load(r, t)
        else:
            nisa.register_load(r, a)
        return stored(r)

    got = nki.simulate(k)(np.array([[value]], dtype=dtype))
    assert int(got[0, 0]) == value


def test_load_from_a_view_of_a_bigger_tensor():
    def k(a):
        r = nisa.register_alloc()
        nisa.register_load(r, a[3:4, 2:3])
        return stored(r)

    a = np.arange(40, dtype=np.int32).reshape(5, 8)
    assert int(nki.simulate(k)(a)[0, 0]) == 26


def test_bad_sources():
    with pytest.raises(nisa.NkiValidationError, match=r"register_load: src: must hold exactly one"):
        nki.simulate(lambda a: nisa.register_load(nisa.register_alloc(), a))(np.zeros((2, 2), np.int32))
    with pytest.raises(nisa.NkiValidationError, match=r"register_load: src: must have an integer"):
        nki.simulate(lambda a: nisa.register_load(nisa.register_alloc(), a))(np.zeros((1, 1), np.float32))

    def psum(a):
        t = nl.ndarray((1, 1), dtype=nl.int32, buffer=nl.psum)
        nisa.register_load(nisa.register_alloc(), t)

    with pytest.raises(nisa.NkiValidationError, match=r"register_load: src: must be in sbuf or hbm"):
        nki.simulate(psum)(np.zeros(1, np.float32))
