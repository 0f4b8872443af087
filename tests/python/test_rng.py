"""nisa.rng: 32 random bits per element from the engine's per-lane generator (issue 10)."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import sbuf, psum, store, run
from rng_ref import (vector_states, gpsimd_states, vector_draw, gpsimd_draw, counter_draw)

INT_DTYPES = [(nl.uint32, np.uint32), (nl.int32, np.int32), (nl.uint16, np.uint16),
              (nl.int16, np.int16), (nl.uint8, np.uint8), (nl.int8, np.int8)]


def seed_tile(v):
    t = sbuf((1, 1), nl.int32)
    nisa.memset(t, v)
    return t


def draw(shape, dtype=nl.uint32, seed=None, engine=nisa.engine.unknown, buffer=nl.sbuf, times=1):
    def kernel():
        if seed is not None:
            nisa.set_rng_seed(seed_tile(seed))
        outs = []
        for _ in range(times):
            t = nl.ndarray(shape, dtype=dtype, buffer=buffer)
            nisa.rng(t, engine=engine)
            outs.append(store(t))
        return tuple(outs)
    return nki.simulate(kernel)()


@pytest.mark.parametrize("seed", [0, 1, 42, 0x7FFFFFFF])
def test_vector_trn3_is_xorwow_bit_exact(seed):
    a, b = draw((128, 37), seed=seed, times=2)
    st = vector_states(seed)
    ref_a, st = vector_draw(st, 37)
    ref_b, _ = vector_draw(st, 37)
    np.testing.assert_array_equal(a, ref_a)
    np.testing.assert_array_equal(b, ref_b)


def test_fresh_core_starts_as_seed_0_and_relaunch_repeats():
    a, = draw((128, 64))
    ref, _ = vector_draw(vector_states(0), 64)
    np.testing.assert_array_equal(a, ref)
    b, = draw((128, 64))
    np.testing.assert_array_equal(a, b)


def test_gpsimd_is_one_xorwow_per_lane():
    a, b = draw((128, 10), engine=nisa.engine.gpsimd, times=2)
    ref_a, st = gpsimd_draw(gpsimd_states(0), 10)
    ref_b, _ = gpsimd_draw(st, 10)
    np.testing.assert_array_equal(a, ref_a)
    np.testing.assert_array_equal(b, ref_b)


def test_vector_and_gpsimd_streams_are_independent():
    def kernel():
        t = sbuf((128, 8), nl.uint32)
        g = sbuf((128, 8), nl.uint32)
        nisa.rng(g, engine=nisa.engine.gpsimd)   # does not advance the Vector states
        nisa.rng(t, engine=nisa.engine.vector)
        return store(t)
    ref, _ = vector_draw(vector_states(0), 8)
    np.testing.assert_array_equal(nki.simulate(kernel)(), ref)


@pytest.mark.parametrize("nl_dt,np_dt", INT_DTYPES, ids=lambda x: str(x))
def test_narrow_dtypes_take_the_low_bits(nl_dt, np_dt):
    out, = draw((64, 33), dtype=nl_dt, seed=7)
    ref, _ = vector_draw(vector_states(7)[:64], 33)
    assert out.dtype == np.dtype(np_dt)
    np.testing.assert_array_equal(out, ref.astype(np_dt))  # numpy astype truncates to low bits


def test_lanes_are_absolute_partitions_and_psum_works():
    def kernel():
        nisa.set_rng_seed(seed_tile(3))
        t = nl.ndarray((128, 16), dtype=nl.uint32, buffer=nl.psum)
        nisa.rng(t[32:64, :])
        s = sbuf((32, 16), nl.uint32)
        nisa.tensor_copy(s, t[32:64, :])
        return store(s)
    ref, _ = vector_draw(vector_states(3)[32:64], 16)
    np.testing.assert_array_equal(nki.simulate(kernel)(), ref)


def test_3d_tile_free_dims_in_row_major_order():
    out, = draw((16, 3, 5), seed=9)
    ref, _ = vector_draw(vector_states(9)[:16], 15)
    np.testing.assert_array_equal(out.reshape(16, 15), ref)


def test_large_tile_rows_split_across_threads_is_deterministic():
    a, = draw((128, 4099), seed=11)
    ref, _ = vector_draw(vector_states(11), 4099)
    np.testing.assert_array_equal(a, ref)


def test_statistics_uniform_bits():
    out, = draw((128, 2048), seed=5)
    u = out.astype(np.float64) / 2 ** 32
    assert abs(u.mean() - 0.5) < 0.005
    assert abs(u.var() - 1 / 12) < 0.002
    bits = np.unpackbits(out.view(np.uint8)).mean()
    assert abs(bits - 0.5) < 0.002
    hist = np.bincount((out & 0xFF).ravel(), minlength=256)
    expected = out.size / 256
    chi2 = ((hist - expected) ** 2 / expected).sum()
    assert chi2 < 400  # 255 degrees of freedom: p ~ 1e-8 at 400


@pytest.mark.parametrize("target", ["trn1", "trn2"])
def test_trn1_trn2_vector_counter_based_generator(set_target, target):
    set_target(target)
    a, b = draw((8, 12), seed=21, times=2)
    lanes = list(range(8))
    np.testing.assert_array_equal(a, counter_draw(21, lanes, 0, 12))
    np.testing.assert_array_equal(b, counter_draw(21, lanes, 12, 12))
    c, = draw((8, 12))  # fresh core: seed 0
    np.testing.assert_array_equal(c, counter_draw(0, lanes, 0, 12))


def test_trn2_gpsimd_is_xorwow(set_target):
    set_target("trn2")
    a, = draw((16, 9), engine=nisa.engine.gpsimd)
    ref, _ = gpsimd_draw(gpsimd_states(0)[:16], 9)
    np.testing.assert_array_equal(a, ref)


def test_errors(set_target):
    with pytest.raises(nisa.NkiValidationError, match=r"nki\.isa\.rng: dst: dtype must be an integer type"):
        draw((8, 8), dtype=nl.float32)
    with pytest.raises(nisa.NkiValidationError, match=r"nki\.isa\.rng: dst: must be in SBUF on the gpsimd engine"):
        draw((8, 8), engine=nisa.engine.gpsimd, buffer=nl.psum)
    set_target("trn1")
    with pytest.raises(nisa.NkiValidationError, match=r"nki\.isa\.rng: engine: runs on"):
        draw((8, 8), engine=nisa.engine.gpsimd)


@pytest.mark.parametrize("seeded", [False, True])
def test_each_core_of_an_lnc2_launch_has_its_own_state(seeded):
    out = np.zeros((2, 128, 8), np.uint32)

    @nki.jit
    def k(y):
        pid = nl.program_id()
        if seeded:
            nisa.set_rng_seed(seed_tile(17))
        t = sbuf((128, 8), nl.uint32)
        nisa.rng(t)
        nisa.dma_copy(y[pid], t)
    nki.simulate(k[2])(out)
    for core in range(2):
        ref, _ = vector_draw(vector_states(17 if seeded else core), 8)
        np.testing.assert_array_equal(out[core], ref)
