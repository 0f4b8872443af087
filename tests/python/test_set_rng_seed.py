"""nisa.set_rng_seed and nl.random_seed / nl.rand (issue 10)."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import sbuf, store
from rng_ref import vector_states, vector_draw, counter_draw, unit


def kernel_seeded(seed, dtype=nl.int32, shape=(1, 1), buffer=nl.sbuf, n=24):
    def kernel():
        s = nl.ndarray(shape, dtype=dtype, buffer=buffer)
        nisa.memset(s, seed)
        nisa.set_rng_seed(s)
        t = sbuf((128, n), nl.uint32)
        nisa.rng(t)
        return store(t)
    return nki.simulate(kernel)()


@pytest.mark.parametrize("dtype", [nl.int32, nl.uint32])
@pytest.mark.parametrize("buffer", [nl.sbuf, nl.psum])
def test_seed_expands_to_documented_states(dtype, buffer):
    out = kernel_seeded(1234, dtype=dtype, buffer=buffer)
    ref, _ = vector_draw(vector_states(1234), 24)
    np.testing.assert_array_equal(out, ref)


def test_float32_seed_uses_its_bits():
    out = kernel_seeded(1.5, dtype=nl.float32)
    seed = int(np.array(1.5, np.float32).view(np.uint32))
    np.testing.assert_array_equal(out, vector_draw(vector_states(seed), 24)[0])


def test_same_seed_same_stream_different_seed_different_stream():
    a = kernel_seeded(5)
    b = kernel_seeded(5)
    c = kernel_seeded(6)
    np.testing.assert_array_equal(a, b)
    assert (a != c).mean() > 0.99


def test_negative_int32_seed_is_its_32_bits():
    out = kernel_seeded(-1)
    np.testing.assert_array_equal(out, vector_draw(vector_states(0xFFFFFFFF), 24)[0])


def test_reseeding_restarts_the_stream():
    def kernel():
        s = sbuf((1, 1), nl.int32)
        nisa.memset(s, 77)
        outs = []
        for _ in range(2):
            nisa.set_rng_seed(s)
            t = sbuf((128, 10), nl.uint32)
            nisa.rng(t)
            outs.append(store(t))
        return tuple(outs)
    a, b = nki.simulate(kernel)()
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("target", ["trn1", "trn2"])
def test_seed_on_trn1_trn2(set_target, target):
    set_target(target)
    out = kernel_seeded(99, n=6)
    np.testing.assert_array_equal(out, counter_draw(99, range(128), 0, 6))


def test_nl_random_seed_and_rand_doc_example():
    def kernel():
        seed = nl.full((1, 1), 42, dtype=nl.int32, buffer=nl.sbuf)
        nl.random_seed(seed)
        a = nl.rand((128, 512), dtype=nl.float32)
        nl.random_seed(seed)
        b = nl.rand((128, 512), dtype=nl.float32)
        return store(a), store(b)
    a, b = nki.simulate(kernel)()
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0.0 and a.max() < 1.0
    assert abs(a.mean() - 0.5) < 0.01
    np.testing.assert_array_equal(a, unit(vector_draw(vector_states(42), 512)[0]))


@pytest.mark.parametrize("target", ["trn1", "trn2"])
def test_nl_rand_before_trn3_uses_rng_16_bits(set_target, target):
    set_target(target)

    def kernel():
        seed = nl.full((1, 1), 8, dtype=nl.int32, buffer=nl.sbuf)
        nl.random_seed(seed)
        return store(nl.rand((4, 16), dtype=nl.float32))
    out = nki.simulate(kernel)()
    ref = (counter_draw(8, range(4), 0, 16) & 0xFFFF).astype(np.float32) / 65536
    np.testing.assert_array_equal(out, ref)


def test_nl_rand_bf16_and_hbm():
    def kernel():
        a = nl.rand((64, 32), dtype=nl.bfloat16)
        h = nl.rand((16, 8), dtype=nl.float32, buffer=nl.shared_hbm)
        return store(a), h
    a, h = nki.simulate(kernel)()
    assert a.dtype == np.dtype("bfloat16")
    af = a.astype(np.float32)
    assert af.min() >= 0 and af.max() <= 1.0
    assert h.shape == (16, 8) and h.min() >= 0 and h.max() < 1


def test_errors():
    with pytest.raises(nisa.NkiValidationError,
                       match=r"nki\.isa\.set_rng_seed: src_seeds: must hold a 32-bit value .*found bfloat16"):
        kernel_seeded(1, dtype=nl.bfloat16)
    with pytest.raises(nisa.NkiValidationError,
                       match=r"nki\.isa\.set_rng_seed: src_seeds: must hold a 32-bit value .*found uint16"):
        kernel_seeded(1, dtype=nl.uint16)
    with pytest.raises(nisa.NkiValidationError,
                       match=r"nki\.isa\.set_rng_seed: src_seeds: must be a \[1, 1\] tensor, found shape \[1, 2\]"):
        kernel_seeded(1, shape=(1, 2))
    with pytest.raises(nisa.NkiValidationError,
                       match=r"nki\.isa\.set_rng_seed: src_seeds: must be a \[1, 1\] tensor, found shape \[2, 1\]"):
        kernel_seeded(1, shape=(2, 1))
