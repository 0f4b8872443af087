"""nisa.rand_set_state: load per-lane XORWOW states; get_state + set_state replays (issue 10)."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import sbuf, store, load
from rng_ref import vector_draw, gpsimd_draw


def test_set_state_then_rng_is_xorwow_of_that_state():
    st = np.random.default_rng(1).integers(0, 2 ** 32, size=(128, 24), dtype=np.uint64).astype(np.uint32)

    def kernel(s):
        t = load(s)
        nisa.rand_set_state(t, engine=nisa.engine.vector)
        o = sbuf((128, 50), nl.uint32)
        nisa.rng(o)
        back = sbuf((128, 24), nl.uint32)
        nisa.rand_get_state(back)
        return store(o), store(back)
    out, back = nki.simulate(kernel)(st)
    ref, new = vector_draw(st, 50)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(back, new)


def test_gpsimd_partial_lanes():
    st = np.random.default_rng(2).integers(0, 2 ** 32, size=(16, 6), dtype=np.uint64).astype(np.uint32)

    def kernel(s):
        big = sbuf((128, 6), nl.uint32)
        nisa.dma_copy(big[16:32, :], s)
        nisa.rand_set_state(big[16:32, :])   # unknown engine, 6 words: GpSimd
        o = sbuf((128, 7), nl.uint32)
        nisa.rng(o, engine=nisa.engine.gpsimd)
        return store(o)
    out = nki.simulate(kernel)(st)
    ref, _ = gpsimd_draw(st, 7)
    np.testing.assert_array_equal(out[16:32], ref)


@pytest.mark.parametrize("instr", ["rng", "rand2", "dropout", "gpsimd"])
def test_get_then_set_replays_a_stream(instr):
    def kernel():
        words = 6 if instr == "gpsimd" else 24
        st = sbuf((128, words), nl.uint32)
        nisa.rand_get_state(st)
        outs = []
        for _ in range(2):
            nisa.rand_set_state(st)
            if instr in ("rng", "gpsimd"):
                t = sbuf((128, 33), nl.uint32)
                nisa.rng(t, engine=nisa.engine.gpsimd if instr == "gpsimd" else nisa.engine.vector)
            elif instr == "rand2":
                t = sbuf((128, 33), nl.float32)
                nisa.rand2(t, -1.0, 3.0)
            else:
                x = sbuf((128, 33), nl.float32)
                nisa.memset(x, 2.0)
                t = sbuf((128, 33), nl.float32)
                nisa.dropout(t, x, 0.5)
            outs.append(store(t))
        return tuple(outs)
    a, b = nki.simulate(kernel)()
    np.testing.assert_array_equal(a, b)


def test_errors(set_target):
    def run_with(shape, dtype=nl.uint32, buffer=nl.sbuf, engine=nisa.engine.unknown):
        def kernel():
            t = nl.ndarray(shape, dtype=dtype, buffer=buffer)
            nisa.memset(t, 1)
            nisa.rand_set_state(t, engine=engine)
        nki.simulate(kernel)()
    with pytest.raises(nisa.NkiValidationError, match=r"rand_set_state: src_seeds: must be uint32, found int32"):
        run_with((128, 24), dtype=nl.int32)
    with pytest.raises(nisa.NkiValidationError,
                       match=r"rand_set_state: src_seeds: XORWOW state of the gpsimd engine needs 6 uint32 per partition, found shape \[128, 24\]"):
        run_with((128, 24), engine=nisa.engine.gpsimd)
    with pytest.raises(nisa.NkiValidationError, match=r"rand_set_state: src_seeds: XORWOW state needs 6"):
        run_with((128, 5))
    with pytest.raises(nisa.NkiValidationError, match=r"rand_set_state: src_seeds: must be in sbuf"):
        run_with((128, 24), buffer=nl.psum)
    set_target("trn2")
    with pytest.raises(nisa.NkiValidationError, match=r"rand_set_state: engine: runs on"):
        run_with((128, 24), engine=nisa.engine.vector)
