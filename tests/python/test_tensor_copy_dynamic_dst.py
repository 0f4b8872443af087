"""nisa.tensor_copy_dynamic_dst (deprecated in 0.3.0): tensor_copy into a dynamic-offset dst."""
import numpy as np

import nki
import nki.isa as nisa
import nki.language as nl


def test_copy_to_a_register_offset(rng):
    a = rng.random((8, 16), dtype=np.float32)

    def k(a):
        t = nl.ndarray((8, 16), dtype=nl.float32, buffer=nl.sbuf)
        nisa.dma_copy(t, a)
        big = nl.ndarray((8, 64), dtype=nl.float32, buffer=nl.sbuf)
        nisa.memset(big, 0.0)
        r = nisa.register_alloc(40)
        nisa.tensor_copy_dynamic_dst(big[:, nl.ds(r, 16)], t)
        out = nl.ndarray((8, 64), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, big)
        return out

    exp = np.zeros((8, 64), np.float32)
    exp[:, 40:56] = a
    np.testing.assert_array_equal(nki.simulate(k)(a), exp)
