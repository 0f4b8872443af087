"""nisa.tensor_copy_dynamic_src (deprecated in 0.3.0): tensor_copy from a dynamic-offset src."""
import numpy as np

import nki
import nki.isa as nisa
import nki.language as nl


def test_copy_from_a_register_offset(rng):
    a = rng.random((8, 64), dtype=np.float32)

    def k(a):
        t = nl.ndarray((8, 64), dtype=nl.float32, buffer=nl.sbuf)
        nisa.dma_copy(t, a)
        r = nisa.register_alloc(2)
        u = nl.ndarray((8, 16), dtype=nl.float32, buffer=nl.sbuf)
        nisa.tensor_copy_dynamic_src(u, t.ap([[64, 8], [1, 16]], offset=0, scalar_offset=r,
                                             indirect_dim=1))
        out = nl.ndarray((8, 16), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, u)
        return out

    np.testing.assert_array_equal(nki.simulate(k)(a), a[:, 2:18])
