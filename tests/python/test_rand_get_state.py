"""nisa.rand_get_state: store the per-lane XORWOW states (issue 10)."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import sbuf, store
from rng_ref import vector_states, gpsimd_states, vector_draw, gpsimd_draw


def get_state(words, engine=nisa.engine.unknown, buffer=nl.sbuf, dtype=nl.uint32, shape=None,
              draw=0, seed=None):
    def kernel():
        if seed is not None:
            s = sbuf((1, 1), nl.int32)
            nisa.memset(s, seed)
            nisa.set_rng_seed(s)
        if draw:
            t = sbuf((128, draw), nl.uint32)
            nisa.rng(t, engine=nisa.engine.gpsimd if words == 6 else nisa.engine.vector)
        st = nl.ndarray(shape or (128, words), dtype=dtype, buffer=buffer)
        nisa.rand_get_state(st, engine=engine)
        return store(st)
    return nki.simulate(kernel)()


def test_vector_state_after_seed_and_draws():
    st = get_state(24, seed=13)
    np.testing.assert_array_equal(st, vector_states(13))
    st = get_state(24, seed=13, draw=9, engine=nisa.engine.vector)
    _, ref = vector_draw(vector_states(13), 9)  # 3 rounds of 4
    np.testing.assert_array_equal(st, ref)


def test_gpsimd_state_after_draws():
    st = get_state(6, draw=5, engine=nisa.engine.gpsimd)
    _, ref = gpsimd_draw(gpsimd_states(0), 5)
    np.testing.assert_array_equal(st, ref)


def test_engine_unknown_picks_by_size_and_psum_on_trn3():
    np.testing.assert_array_equal(get_state(24, buffer=nl.psum), vector_states(0))
    np.testing.assert_array_equal(get_state(6), gpsimd_states(0))


def test_partial_partitions_are_those_lanes():
    def kernel():
        st = sbuf((128, 24), nl.uint32)
        nisa.rand_get_state(st[64:96, :])
        s = sbuf((32, 24), nl.uint32)
        nisa.tensor_copy(s, st[64:96, :])
        return store(s)
    np.testing.assert_array_equal(nki.simulate(kernel)(), vector_states(0)[64:96])


def test_trn2_gpsimd_only(set_target):
    set_target("trn2")
    np.testing.assert_array_equal(get_state(6), gpsimd_states(0))
    with pytest.raises(nisa.NkiValidationError, match=r"nki\.isa\.rand_get_state: engine: runs on"):
        get_state(24, engine=nisa.engine.vector)
    with pytest.raises(nisa.NkiValidationError,
                       match=r"nki\.isa\.rand_get_state: dst: XORWOW state needs 6 uint32 per partition \(GpSimd\), found"):
        get_state(24)
    with pytest.raises(nisa.NkiValidationError, match=r"nki\.isa\.rand_get_state: dst: must be in SBUF on trn2"):
        get_state(6, buffer=nl.psum)


def test_errors(set_target):
    with pytest.raises(nisa.NkiValidationError, match=r"nki\.isa\.rand_get_state: dst: must be uint32, found int32"):
        get_state(24, dtype=nl.int32)
    with pytest.raises(nisa.NkiValidationError,
                       match=r"rand_get_state: dst: XORWOW state of the vector engine needs 24 uint32 per partition, found shape \[128, 6\]"):
        get_state(6, engine=nisa.engine.vector)
    with pytest.raises(nisa.NkiValidationError, match=r"rand_get_state: dst: XORWOW state needs 6 uint32"):
        get_state(12)
    with pytest.raises(nisa.NkiValidationError, match=r"rand_get_state: dst: must be a 2D tensor"):
        get_state(24, shape=(128, 4, 6))
    with pytest.raises(nisa.NkiValidationError, match=r"rand_get_state: dst: must be in SBUF on the gpsimd engine"):
        get_state(6, buffer=nl.psum, engine=nisa.engine.gpsimd)
    set_target("trn1")
    with pytest.raises(nisa.NkiValidationError, match=r"rand_get_state.*not available on trn1"):
        get_state(6)
