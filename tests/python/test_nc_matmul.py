"""nisa.nc_matmul: dst[M, N] (+)= stationary[K, M].T @ moving[K, N] on the tensor engine; inputs in
SBUF, dst in PSUM; float32 products and accumulation. accumulate=None: the first write to a PSUM
location overwrites, later writes accumulate; True: add; False: overwrite."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import (BF16, F16, F32, FP8_E4M3, FP8_E5M2, NL, assert_close, assert_equal,
                      dtype_id, psum, random, run, sbuf)
from conftest import all_nan, check_fresh_read, check_partial_write


def ref(s, m):
    return s.astype(np.float64).T @ m.astype(np.float64)


def close(out, expected):
    assert out.dtype == np.float32
    assert_close(out, expected, rtol=1e-5, atol=1e-4)


def mm_body(**kwargs):
    def body(s, m):
        d = psum((s.size // s.shape[0], m.size // m.shape[0]))
        nisa.nc_matmul(d, s, m, **kwargs)
        return d
    return body


@pytest.mark.parametrize("ds,dm", [(F32, F32), (BF16, BF16), (F16, F16), (FP8_E4M3, FP8_E4M3),
                                   (FP8_E5M2, FP8_E5M2), (BF16, F16), (FP8_E4M3, BF16),
                                   (F16, FP8_E5M2), (FP8_E4M3, FP8_E5M2)],
                         ids=lambda d: dtype_id(d))
def test_dtypes(rng, ds, dm):
    s = random(rng, (128, 64), ds, lo=-2, hi=2)
    m = random(rng, (128, 48), dm, lo=-2, hi=2)
    close(run(mm_body(), s, m), ref(s, m))


@pytest.mark.parametrize("K,M,N", [(1, 1, 1), (1, 128, 512), (7, 3, 5), (32, 128, 64),
                                   (128, 1, 512), (128, 128, 128), (64, 17, 200)])
def test_shapes(rng, K, M, N):
    s = random(rng, (K, M), BF16)
    m = random(rng, (K, N), BF16)
    close(run(mm_body(), s, m), ref(s, m))


def test_multi_dim_free_dims_are_flattened(rng):
    s = random(rng, (32, 4, 8), BF16)    # M = 32
    m = random(rng, (32, 2, 3, 5), BF16)  # N = 30

    def body(st, mv):
        d = psum((32, 2, 15))
        nisa.nc_matmul(d, st, mv)
        return d
    out = run(body, s, m)
    close(out, ref(s.reshape(32, 32), m.reshape(32, 30)).reshape(32, 2, 15))


def test_partition_offset_and_strided_operands(rng):
    big_s = random(rng, (128, 64), F32)
    big_m = random(rng, (128, 64), F32)

    def body(st, mv):
        d = psum((128, 512))
        nisa.nc_matmul(d[0:16, 0:32], st[32:64, 0:16], mv[32:64, ::2])
        return d[0:16, 0:32]
    close(run(body, big_s, big_m), ref(big_s[32:64, 0:16], big_m[32:64, ::2]))


def test_accumulate_none_first_write_overwrites_then_accumulates(rng):
    # The fresh PSUM tile holds NaN sentinels: a first accumulating write would give NaN.
    s1, s2 = random(rng, (64, 32), BF16), random(rng, (128, 32), BF16)
    m1, m2 = random(rng, (64, 16), BF16), random(rng, (128, 16), BF16)

    def body(a, b, c, e):
        d = psum((32, 16))
        nisa.nc_matmul(d, a, b)
        nisa.nc_matmul(d, c, e)
        nisa.nc_matmul(d, c, e, accumulate=None)
        return d
    close(run(body, s1, m1, s2, m2), ref(s1, m1) + 2 * ref(s2, m2))


def test_accumulate_none_decides_per_element(rng):
    s1, m1 = random(rng, (16, 32), F32), random(rng, (16, 8), F32)
    s2, m2 = random(rng, (16, 64), F32), random(rng, (16, 24), F32)

    def body(a, b, c, e):
        d = psum((64, 24))
        nisa.nc_matmul(d[0:32, 0:8], a, b)   # writes a corner first
        nisa.nc_matmul(d, c, e)              # corner accumulates, the rest is overwritten
        return d
    expected = ref(s2, m2)
    expected[0:32, 0:8] += ref(s1, m1)
    close(run(body, s1, m1, s2, m2), expected)


def test_accumulate_false_overwrites(rng):
    s1, m1 = random(rng, (32, 16), F32), random(rng, (32, 8), F32)
    s2, m2 = random(rng, (32, 16), F32), random(rng, (32, 8), F32)

    def body(a, b, c, e):
        d = psum((16, 8))
        nisa.nc_matmul(d, a, b, accumulate=False)
        nisa.nc_matmul(d, c, e, accumulate=False)
        return d
    close(run(body, s1, m1, s2, m2), ref(s2, m2))


def test_accumulate_true_adds(rng):
    s1, m1 = random(rng, (32, 16), F32), random(rng, (32, 8), F32)
    s2, m2 = random(rng, (32, 16), F32), random(rng, (32, 8), F32)

    def body(a, b, c, e):
        d = psum((16, 8))
        nisa.nc_matmul(d, a, b)                       # first write
        nisa.nc_matmul(d, c, e, accumulate=True)
        nisa.nc_matmul(d, a, b, accumulate=True)
        return d
    close(run(body, s1, m1, s2, m2), 2 * ref(s1, m1) + ref(s2, m2))


def test_new_group_after_eviction_with_accumulate_false(rng):
    s, m = random(rng, (32, 16), F32), random(rng, (32, 8), F32)

    def body(a, b):
        d = psum((16, 8))
        nisa.nc_matmul(d, a, b)
        nisa.nc_matmul(d, a, b)
        first = sbuf((16, 8), nl.float32)
        nisa.tensor_copy(first, d)
        nisa.nc_matmul(d, a, b, accumulate=False)  # start a new accumulation group
        return first, d
    first, second = run(body, s, m)
    close(first, 2 * ref(s, m))
    close(second, ref(s, m))


def test_k_tiled_accumulation_loop(rng):
    # The usual kernel pattern: contraction over 256 = 2 x 128 accumulated in one PSUM tile.
    a = random(rng, (256, 64), BF16)
    b = random(rng, (256, 96), BF16)

    def kernel(x, y):
        d = nl.ndarray((64, 96), dtype=nl.float32, buffer=nl.psum)
        for k in range(2):
            st = nl.ndarray((128, 64), dtype=nl.bfloat16, buffer=nl.sbuf)
            mv = nl.ndarray((128, 96), dtype=nl.bfloat16, buffer=nl.sbuf)
            nisa.dma_copy(st, x[k * 128:(k + 1) * 128, :])
            nisa.dma_copy(mv, y[nl.ds(k * 128, 128), :])
            nisa.nc_matmul(d, st, mv)
        o = nl.ndarray((64, 96), dtype=nl.float32, buffer=nl.sbuf)
        nisa.tensor_copy(o, d)
        out = nl.ndarray((64, 96), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, o)
        return out
    close(nki.simulate(kernel)(a, b), ref(a, b))


def test_separate_banks_accumulate_independently(rng):
    s, m = random(rng, (32, 16), F32), random(rng, (32, 512), F32)

    def body(a, b):
        d0 = nl.ndarray((16, 512), dtype=nl.float32, buffer=nl.psum, address=(0, 0))
        d1 = nl.ndarray((16, 512), dtype=nl.float32, buffer=nl.psum, address=(0, 2048))
        nisa.nc_matmul(d0, a, b)
        nisa.nc_matmul(d1, a, b)
        nisa.nc_matmul(d0, a, b)
        return d0, d1
    d0, d1 = run(body, s, m)
    close(d0, 2 * ref(s, m))
    close(d1, ref(s, m))


@pytest.mark.parametrize("target", ["trn1", "trn2", "trn3"])
def test_moving_free_512_on_every_target(rng, set_target, target):
    set_target(target)
    s, m = random(rng, (16, 4), F32), random(rng, (16, 512), F32)
    close(run(mm_body(), s, m), ref(s, m))


def test_trn3_moving_free_above_512(rng):
    s, m = random(rng, (16, 4), BF16), random(rng, (16, 1024), BF16)
    close(run(mm_body(), s, m), ref(s, m))


def test_trn3_bf16_psum_destination(rng):
    s, m = random(rng, (64, 32), BF16), random(rng, (64, 16), BF16)
    s2, m2 = random(rng, (64, 32), BF16), random(rng, (64, 16), BF16)

    def body(a, b, c, e):
        d = psum((32, 16), nl.bfloat16)
        nisa.nc_matmul(d, a, b)
        first = sbuf((32, 16), nl.bfloat16)
        nisa.tensor_copy(first, d)
        nisa.nc_matmul(d, c, e)  # accumulates: upcast, add in fp32, round back
        return first, d
    first, second = run(body, s, m, s2, m2)
    r1 = ref(s, m).astype(np.float32)
    assert first.dtype == BF16
    assert_close(first, r1.astype(BF16), rtol=2 ** -8, atol=1e-3)
    r2 = (first.astype(np.float32) + ref(s2, m2).astype(np.float32))
    assert_close(second, r2.astype(BF16), rtol=2 ** -8, atol=1e-3)


def test_onezero_hints_have_no_effect(rng):
    s = rng.integers(0, 2, size=(32, 16)).astype(np.float32)
    m = rng.integers(0, 2, size=(32, 8)).astype(np.float32)
    out = run(mm_body(is_stationary_onezero=True, is_moving_onezero=True), s, m)
    assert_equal(out, ref(s, m).astype(np.float32))


@pytest.mark.parametrize("size,pos", [((64, 128), (64, 0)), ((64, 128), (0, 0)),
                                      ((32, 32), (96, 32)), ((128, 64), (0, 64))])
def test_tiling_gives_the_same_result(rng, size, pos):
    K = min(size[0], 32)
    M = min(size[1], 32)
    s, m = random(rng, (K, M), BF16), random(rng, (K, 40), BF16)
    close(run(mm_body(tile_position=pos, tile_size=size), s, m), ref(s, m))


@pytest.mark.parametrize("ds,dm", [(FP8_E4M3, FP8_E4M3), (FP8_E5M2, FP8_E4M3)],
                         ids=lambda d: dtype_id(d))
@pytest.mark.parametrize("target", ["trn2", "trn3"])
def test_double_row_fp8(rng, set_target, ds, dm, target):
    set_target(target)
    s = random(rng, (64, 2, 32), ds, lo=-2, hi=2)
    m = random(rng, (64, 2, 48), dm, lo=-2, hi=2)

    def body(a, b):
        d = psum((32, 48))
        nisa.nc_matmul(d, a, b, perf_mode=nisa.matmul_perf_mode.double_row)
        return d
    expected = np.einsum("pjm,pjn->mn", s.astype(np.float64), m.astype(np.float64))
    close(run(body, s, m), expected)


@pytest.mark.parametrize("dtype", [BF16, F16, F32], ids=dtype_id)
@pytest.mark.parametrize("target", ["trn2", "trn3"])
def test_transpose_mode_is_bit_exact(rng, set_target, dtype, target):
    set_target(target)
    s = random(rng, (32, 48), dtype, lo=-1000, hi=1000)
    s.flat[:3] = np.array([np.inf, -np.inf, np.nan], np.float32).astype(dtype)
    ident = np.eye(32, dtype=np.float32).astype(dtype)

    def body(a, i):
        d = psum((48, 32), NL[np.dtype(dtype)])
        nisa.nc_matmul(d, a, i, is_transpose=True)
        return d
    out = run(body, s, ident)
    assert out.dtype == dtype
    assert_equal(out, s.T.copy())


def test_transpose_flag_on_trn1_is_a_plain_matmul(rng, set_target):
    set_target("trn1")
    s = random(rng, (32, 48), BF16)
    ident = np.eye(32, dtype=BF16)

    def body(a, i):
        d = psum((48, 32))
        nisa.nc_matmul(d, a, i, is_transpose=True)
        return d
    close(run(body, s, ident), s.astype(np.float64).T)


def test_positional_arguments_and_name(rng):
    s, m = random(rng, (32, 16), F32), random(rng, (32, 8), F32)

    def body(a, b):
        d = psum((16, 8))
        nisa.nc_matmul(d, a, b, False, False, False, None, (), (),
                       nisa.matmul_perf_mode.none, "mm0")
        return d
    close(run(body, s, m), ref(s, m))


def test_nl_matmul_transpose_x(rng):
    s, m = random(rng, (32, 16), BF16), random(rng, (32, 8), BF16)

    def body(a, b):
        return nl.matmul(a, b, transpose_x=True)
    close(run(body, s, m), ref(s, m))


def test_tfloat32_inputs(rng):
    s, m = random(rng, (32, 16), F32), random(rng, (32, 8), F32)

    def body(a, b):
        ts = sbuf(a.shape, nl.tfloat32)
        nisa.tensor_copy(ts, a)
        d = psum((16, 8))
        nisa.nc_matmul(d, ts, b)  # tfloat32 with float32 is allowed
        return d, ts
    out, ts = run(body, s, m)
    close(out, ref(ts, m))


def test_partial_write_keeps_sentinels(rng):
    s, m = random(rng, (32, 16), F32), random(rng, (32, 8), F32)
    out = check_partial_write(lambda v, a, b: nisa.nc_matmul(v, a, b), s, m, buffer=nl.psum,
                              shape=(16, 16))
    close(out, ref(s, m))


def test_reads_sentinels_of_a_fresh_tile():

    def reader(t):
        m = sbuf((t.shape[0], 8), nl.float32)
        nisa.memset(m, 1.0)
        d = psum((t.shape[1], 8))
        nisa.nc_matmul(d, t, m)
        return d
    for out in check_fresh_read(reader, shape=(32, 16)):
        assert all_nan(out)
