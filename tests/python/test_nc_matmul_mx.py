"""nisa.nc_matmul_mx: MXFP8/MXFP4 matmul with per-group dequantization on trn3 (issue 10)."""
import ml_dtypes
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import sbuf, psum, store
from mx_ref import (ELEM, HOST, pack, to_hw_scale, matmul_mx, scale_rows_needed, quantize,
                    dequantize)

X4 = ["float8_e5m2_x4", "float8_e4m3fn_x4", "float4_e2m1fn_x4"]


def mx_operand(rng, P, C, x4, scale_lo=118, scale_hi=128):
    """Random representable element values, group scales, and the scale tile (other rows random)."""
    el = ELEM[x4]
    maxv = float(ml_dtypes.finfo(el).max)
    v = (rng.uniform(-1, 1, size=(P, C, 4)) * maxv).astype(el).astype(np.float32)
    data = pack(v, x4)
    scale = rng.integers(scale_lo, scale_hi, size=(P // 8, C)).astype(np.uint8)
    return data, scale, to_hw_scale(scale, rng=rng)


def load_x4(hbm, x4):
    t = sbuf(hbm.shape, x4)
    nisa.dma_copy(t, hbm.view(x4))
    return t


def load_u8(hbm):
    t = sbuf(hbm.shape, nl.uint8)
    nisa.dma_copy(t, hbm)
    return t


def run_mm(st, sts, mv, mvs, xs, xm, dst_dtype=nl.float32, accumulate=None, pre=None,
           tile_position=None, tile_size=None, twice=False):
    M, N = st.shape[1], mv.shape[1]

    def kernel(a, asc, b, bsc, *p):
        d = psum((M, N), dst_dtype)
        if pre is not None:
            init = sbuf((M, N), dst_dtype)
            nisa.dma_copy(init, p[0])
            nisa.tensor_copy(d, init)
        A, AS, B, BS = load_x4(a, xs), load_u8(asc), load_x4(b, xm), load_u8(bsc)
        for _ in range(2 if twice else 1):
            nisa.nc_matmul_mx(d, A, B, AS, BS, tile_position=tile_position, tile_size=tile_size,
                              accumulate=accumulate)
        return store(d)
    args = (st, sts, mv, mvs) + ((pre,) if pre is not None else ())
    return nki.simulate(kernel)(*args)


def check(out, ref, dtype=np.float32):
    scale = np.abs(ref).max() + 1e-30
    if np.dtype(dtype) == np.float32:
        np.testing.assert_allclose(out.astype(np.float64), ref, rtol=1e-5, atol=scale * 1e-6)
    else:
        np.testing.assert_allclose(out.astype(np.float64), ref, rtol=2 ** -8, atol=scale * 2 ** -9)


@pytest.mark.parametrize("xs", X4)
@pytest.mark.parametrize("xm", X4)
def test_against_float32_matmul_of_dequantized_inputs(rng, xs, xm):
    K, M, N = 128, 128, 512
    st, sgs, sts = mx_operand(rng, K, M, xs)
    mv, mgs, mvs = mx_operand(rng, K, N, xm)
    out = run_mm(st, sts, mv, mvs, xs, xm)
    check(out, matmul_mx(st, sgs, mv, mgs, xs, xm))


@pytest.mark.parametrize("K,M,N", [(32, 2, 1), (64, 36, 100), (96, 128, 7)])
def test_shapes_and_scale_tiles_of_fewer_quadrants(rng, K, M, N):
    st, sgs, sts = mx_operand(rng, K, M, "float8_e4m3fn_x4")
    mv, mgs, mvs = mx_operand(rng, K, N, "float4_e2m1fn_x4")
    assert sts.shape[0] == scale_rows_needed(K)
    check(run_mm(st, sts, mv, mvs, "float8_e4m3fn_x4", "float4_e2m1fn_x4"),
          matmul_mx(st, sgs, mv, mgs, "float8_e4m3fn_x4", "float4_e2m1fn_x4"))


def test_bf16_dst_and_1024_moving_columns(rng):
    st, sgs, sts = mx_operand(rng, 128, 64, "float8_e5m2_x4")
    mv, mgs, mvs = mx_operand(rng, 128, 1024, "float8_e5m2_x4")
    out = run_mm(st, sts, mv, mvs, "float8_e5m2_x4", "float8_e5m2_x4", dst_dtype=nl.bfloat16)
    assert out.dtype == np.dtype(ml_dtypes.bfloat16)
    check(out, matmul_mx(st, sgs, mv, mgs, "float8_e5m2_x4", "float8_e5m2_x4"), ml_dtypes.bfloat16)


@pytest.mark.parametrize("dst", [nl.float32, nl.bfloat16])
def test_accumulate_rules_as_nc_matmul(rng, dst):
    st, sgs, sts = mx_operand(rng, 64, 32, "float8_e4m3fn_x4")
    mv, mgs, mvs = mx_operand(rng, 64, 48, "float8_e4m3fn_x4")
    ref = matmul_mx(st, sgs, mv, mgs, "float8_e4m3fn_x4", "float8_e4m3fn_x4")
    npdt = np.float32 if dst == nl.float32 else ml_dtypes.bfloat16
    pre = np.full((32, 48), 3.0, npdt)
    args = (st, sts, mv, mvs, "float8_e4m3fn_x4", "float8_e4m3fn_x4")
    # None: first write of fresh PSUM overwrites, the second accumulates
    check(run_mm(*args, dst_dtype=dst, twice=True), 2 * ref, npdt)
    # None on written PSUM accumulates; False overwrites; True accumulates
    check(run_mm(*args, dst_dtype=dst, pre=pre), ref + 3.0, npdt)
    check(run_mm(*args, dst_dtype=dst, pre=pre, accumulate=False), ref, npdt)
    check(run_mm(*args, dst_dtype=dst, pre=pre, accumulate=True), ref + 3.0, npdt)


def test_row_tiling(rng):
    st, sgs, sts = mx_operand(rng, 32, 16, "float8_e5m2_x4")
    mv, mgs, mvs = mx_operand(rng, 32, 16, "float8_e5m2_x4")
    ref = matmul_mx(st, sgs, mv, mgs, "float8_e5m2_x4", "float8_e5m2_x4")
    for pos, size in [((0, 0), (32, 128)), ((96, 0), (32, 128)), ((64, 0), (64, 128))]:
        check(run_mm(st, sts, mv, mvs, "float8_e5m2_x4", "float8_e5m2_x4", tile_position=pos,
                     tile_size=size), ref)


def test_scale_special_values(rng):
    """Scale 127 = x1; scale 0 = 2^-127; only the scale partitions q*32 + 0..3 are read."""
    st, _, _ = mx_operand(rng, 32, 2, "float8_e5m2_x4")
    mv, _, _ = mx_operand(rng, 32, 3, "float8_e5m2_x4")
    g1 = np.full((4, 2), 127, np.uint8)
    g2 = np.full((4, 3), 127, np.uint8)
    g2[1] = 0
    out = run_mm(st, to_hw_scale(g1), mv, to_hw_scale(g2), "float8_e5m2_x4", "float8_e5m2_x4")
    check(out, matmul_mx(st, g1, mv, g2, "float8_e5m2_x4", "float8_e5m2_x4"))


def test_quantize_then_matmul_matches_the_float_matmul(rng):
    K4, M, N = 512, 128, 512
    a = rng.standard_normal((K4, M)).astype(ml_dtypes.bfloat16)
    b = rng.standard_normal((K4, N)).astype(ml_dtypes.bfloat16)
    # interleave: contraction index k*4 + q lives at partition k, packed slot q
    ai = a.astype(np.float32).reshape(128, 4, M).transpose(0, 2, 1).reshape(128, 4 * M)
    bi = b.astype(np.float32).reshape(128, 4, N).transpose(0, 2, 1).reshape(128, 4 * N)

    def kernel(x, y):
        xs, ys = sbuf((128, 4 * M), nl.bfloat16), sbuf((128, 4 * N), nl.bfloat16)
        nisa.dma_copy(xs, x)
        nisa.dma_copy(ys, y)
        xq, yq = sbuf((128, M), nl.float8_e4m3fn_x4), sbuf((128, N), nl.float8_e4m3fn_x4)
        xsc, ysc = sbuf((128, M), nl.uint8), sbuf((128, N), nl.uint8)
        nisa.memset(xsc, 0)
        nisa.memset(ysc, 0)
        nisa.quantize_mx(xq, xs, xsc)
        nisa.quantize_mx(yq, ys, ysc)
        d = psum((M, N))
        nisa.nc_matmul_mx(d, xq, yq, xsc, ysc)
        return store(d)
    out = nki.simulate(kernel)(ai.astype(ml_dtypes.bfloat16), bi.astype(ml_dtypes.bfloat16))
    qa, sa = quantize(ai, "float8_e4m3fn_x4")
    qb, sb = quantize(bi, "float8_e4m3fn_x4")
    check(out, matmul_mx(qa, sa, qb, sb, "float8_e4m3fn_x4", "float8_e4m3fn_x4"))
    exact = a.astype(np.float64).T @ b.astype(np.float64)
    assert np.abs(out - exact).max() < 0.1 * np.abs(exact).max()


def test_errors(rng, set_target):
    V = nisa.NkiValidationError
    st, _, sts = mx_operand(rng, 64, 16, "float8_e5m2_x4")
    mv, _, mvs = mx_operand(rng, 64, 32, "float8_e5m2_x4")
    x4 = "float8_e5m2_x4"

    def call(dst=(16, 32), dst_dtype=nl.float32, sdt=x4, mdt=x4, scale_rows=None, scale_off=0,
             mscale=None, K=64, M=16, N=32, **kw):
        def kernel(a, asc, b, bsc):
            A, B = load_x4(a, x4), load_x4(b, x4)
            if sdt != x4:
                A = A.view(sdt)
            if mdt != x4:
                B = B.view(mdt)
            AS, BS = load_u8(asc), load_u8(bsc)
            if scale_rows is not None:
                big = sbuf((128, M), nl.uint8)
                nisa.memset(big, 127)
                AS = big[scale_off:scale_off + scale_rows, :]
            if mscale is not None:
                BS = mscale()
            nisa.nc_matmul_mx(psum(dst, dst_dtype), A[:K], B[:K, :N], AS, BS, **kw)
        nki.simulate(kernel)(st, sts, mv, mvs)
    with pytest.raises(V, match=r"nki\.isa\.nc_matmul_mx: stationary: dtype must be float8_e5m2_x4, "
                                r"float8_e4m3fn_x4 or float4_e2m1fn_x4, found uint32"):
        call(sdt=nl.uint32)
    with pytest.raises(V, match=r"nc_matmul_mx: dst: dtype must be float32 or bfloat16, found float16"):
        call(dst_dtype=nl.float16)
    with pytest.raises(V, match=r"nc_matmul_mx: dst: must have shape \[16, 32\]"):
        call(dst=(16, 16))
    with pytest.raises(V, match=r"nc_matmul_mx: stationary: partition dimension must be a multiple of 32"):
        call(K=48)
    with pytest.raises(V, match=r"nc_matmul_mx: stationary_scale: the scales of stationary \(64 partitions\).*"
                                r"at least 36 partitions"):
        call(scale_rows=8)
    with pytest.raises(V, match=r"nc_matmul_mx: stationary_scale: must start at partition offset 0, 4, 8 or 12"):
        call(scale_rows=36, scale_off=16)
    with pytest.raises(V, match=r"nc_matmul_mx: stationary_scale: scales must sit in the quadrant of their data"):
        call(scale_rows=36, scale_off=32)
    with pytest.raises(V, match=r"nc_matmul_mx: moving_scale: needs one scale per x4 column of moving: free size 16"):
        call(N=16, dst=(16, 16))
    with pytest.raises(V, match=r"nc_matmul_mx: moving_scale: scales must be uint8"):
        call(mscale=lambda: sbuf((36, 32), nl.int8))
    with pytest.raises(V, match=r"nc_matmul_mx: tile_size: column size must be 128"):
        call(tile_position=(0, 0), tile_size=(64, 64))
    with pytest.raises(V, match=r"nc_matmul_mx: tile_position: start column must be 0"):
        call(tile_position=(0, 64), tile_size=(64, 128))
    with pytest.raises(V, match=r"nc_matmul_mx: stationary: partition size 64 exceeds the tile row size 32"):
        call(tile_position=(0, 0), tile_size=(32, 128))
    with pytest.raises(V, match=r"nc_matmul_mx: tile_position: tile_position and tile_size must both be given"):
        call(tile_position=(0, 0))
    set_target("trn2")
    with pytest.raises(V, match=r"nki\.isa\.nc_matmul_mx.*not available on trn2 \(it needs trn3"):
        call()


def test_moving_free_limits(rng):
    st, _, sts = mx_operand(rng, 32, 2, "float8_e5m2_x4")
    mv, _, mvs = mx_operand(rng, 32, 1025, "float8_e5m2_x4")
    with pytest.raises(nisa.NkiValidationError, match=r"nc_matmul_mx: moving: free size 1025 exceeds 1024 for a bfloat16 dst"):
        run_mm(st, sts, mv, mvs, "float8_e5m2_x4", "float8_e5m2_x4", dst_dtype=nl.bfloat16)


def test_x4_views_must_pack():
    def kernel():
        t = sbuf((32, 5), nl.bfloat16)
        t.view(nl.float8_e5m2_x4)
    with pytest.raises(nisa.NkiValidationError, match=r"cannot view .* as float8_e5m2_x4: the last dimension's bytes "
                                                      r"are not a multiple of the new element size"):
        nki.simulate(kernel)()


def test_reused_and_rewritten_operands(rng):
    """The same tiles multiplied again, then one data element and one scale rewritten: every
    result follows the current memory (dequantized operands are reused only for identical bytes)."""
    x4 = "float8_e4m3fn_x4"
    st, sgs, sts = mx_operand(rng, 128, 128, x4)
    mv, mgs, mvs = mx_operand(rng, 128, 512, x4)

    def kernel(a, asc, b, bsc):
        A, AS, B, BS = load_x4(a, x4), load_u8(asc), load_x4(b, x4), load_u8(bsc)
        outs = []
        for step in range(4):
            if step == 2:
                nisa.memset(B.view(nl.uint32)[5:6, 7:8], 0x38383838)   # four 1.0 values
            if step == 3:
                nisa.memset(BS[0:1, 3:4], 120)
            d = psum((128, 512))
            nisa.nc_matmul_mx(d, A, B, AS, BS, accumulate=False)
            outs.append(store(d))
        return tuple(outs)
    r0, r1, r2, r3 = nki.simulate(kernel)(st, sts, mv, mvs)
    ref = matmul_mx(st, sgs, mv, mgs, x4, x4)
    check(r0, ref)
    np.testing.assert_array_equal(r0, r1)
    mv2 = mv.copy()
    mv2[5, 7] = 0x38383838
    check(r2, matmul_mx(st, sgs, mv2, mgs, x4, x4))
    mgs2 = mgs.copy()
    mgs2[0, 3] = 120
    check(r3, matmul_mx(st, sgs, mv2, mgs2, x4, x4))
    assert not np.array_equal(r2, r3)


def test_many_distinct_operands_cycle_through_the_reuse(rng):
    """More distinct operands than are kept dequantized, each used twice: results stay exact."""
    x4 = "float8_e5m2_x4"
    T = 30
    st, sgs, sts = mx_operand(rng, 32, 128, x4)
    ops = [mx_operand(rng, 32, 128, x4) for _ in range(T)]
    mv = np.stack([o[0] for o in ops])
    mvs = np.stack([o[2] for o in ops])

    def kernel(a, asc, b, bsc):
        A, AS = load_x4(a, x4), load_u8(asc)
        B = sbuf((32, T, 128), x4)
        BS = sbuf((4, T, 128), nl.uint8)
        for t in range(T):
            nisa.dma_copy(B[:, t, :], b[t].view(x4))
            nisa.dma_copy(BS[:, t, :], bsc[t])
        out = nl.ndarray((2, T, 128, 128), dtype=nl.float32, buffer=nl.shared_hbm)
        for rep in range(2):
            for t in range(T):
                d = psum((128, 128))
                nisa.nc_matmul_mx(d, A, B[:, t, :], AS, BS[:, t, :])
                s = sbuf((128, 128), nl.float32)
                nisa.tensor_copy(s, d)
                nisa.dma_copy(out[rep, t], s)
        return out
    out = nki.simulate(kernel)(st, sts, mv, mvs)
    for t in range(T):
        ref = matmul_mx(st, sgs, mv[t], ops[t][1], x4, x4)
        check(out[0, t], ref)
        np.testing.assert_array_equal(out[0, t], out[1, t])
