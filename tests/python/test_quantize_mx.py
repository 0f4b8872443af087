"""nisa.quantize_mx: OCP MXFP8 quantization on the trn3 Vector engine (issue 10)."""
import ml_dtypes
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import sbuf, store, load
from mx_ref import (ELEM, quantize, dequantize, from_hw_scale, scale_rows_needed, unpack)

BF16 = ml_dtypes.bfloat16
X4 = ["float8_e5m2_x4", "float8_e4m3fn_x4"]


def run_quantize(x, x4, scale_rows=None, scale_offset=0, scale_cols=None, dst_shape=None,
                 dst_dtype=None, scale_dtype=nl.uint8):
    P, F = x.shape

    def kernel(xa):
        src = load(xa)
        dst = sbuf(dst_shape or (P, F // 4), dst_dtype or x4)
        rows = scale_rows or scale_rows_needed(P)
        sc = sbuf((rows + scale_offset, scale_cols or F // 4), scale_dtype)
        nisa.memset(sc, 0)
        nisa.quantize_mx(dst, src, sc[scale_offset:, :])
        return store(dst), store(sc)
    return nki.simulate(kernel)(x)


def sample(rng, shape, dtype=BF16, spread=6):
    """Values over a wide exponent range, per-group magnitudes differing, some zeros."""
    x = rng.standard_normal(shape) * np.exp2(rng.integers(-spread, spread, size=shape))
    x[rng.random(shape) < 0.05] = 0
    return x.astype(np.float32).astype(dtype)


@pytest.mark.parametrize("x4", X4)
@pytest.mark.parametrize("P,F", [(128, 512), (32, 8), (64, 36), (96, 2048)])
def test_bits_and_scales_match_the_ocp_reference(rng, x4, P, F):
    x = sample(rng, (P, F))
    data, hw = run_quantize(x, x4)
    ref_data, ref_scale = quantize(x.astype(np.float32), x4)
    assert data.dtype == np.uint32 and data.shape == (P, F // 4)
    np.testing.assert_array_equal(from_hw_scale(hw, P), ref_scale)
    np.testing.assert_array_equal(data, ref_data)
    # only the 4 scale partitions per quadrant are written
    used = np.zeros(hw.shape[0], bool)
    used[[(g // 4) * 32 + g % 4 for g in range(P // 8)]] = True
    assert (hw[~used] == 0).all()


@pytest.mark.parametrize("x4", X4)
def test_quantize_dequantize_against_ml_dtypes(rng, x4):
    x = sample(rng, (128, 256), spread=3)
    data, hw = run_quantize(x, x4)
    deq = dequantize(data, from_hw_scale(hw, 128), x4).reshape(128, 256)
    xf = x.astype(np.float32)
    # every value is the group's ml_dtypes rounding of x / scale, times scale
    el = ELEM[x4]
    s = np.repeat(np.repeat(np.exp2(from_hw_scale(hw, 128).astype(np.float64) - 127), 8, 0), 4, 1)
    maxv = float(ml_dtypes.finfo(el).max)
    q = np.clip(xf / s, -maxv, maxv).astype(el).astype(np.float64)
    np.testing.assert_array_equal(deq, (q * s).astype(np.float32))
    # and the group maximum keeps its exponent: relative error within the element's precision
    eps = float(ml_dtypes.finfo(el).eps)
    amax = np.repeat(np.repeat(np.abs(xf).reshape(16, 8, 64, 4).max(axis=(1, 3)), 8, 0), 4, 1)
    assert (np.abs(deq - xf) <= amax * eps + 1e-30).all()


def test_float16_source_and_saturation(rng):
    x = sample(rng, (32, 64), dtype=np.float16, spread=4)
    for x4 in X4:
        data, hw = run_quantize(x, x4)
        ref_data, ref_scale = quantize(x.astype(np.float32), x4)
        np.testing.assert_array_equal(data, ref_data)
        np.testing.assert_array_equal(from_hw_scale(hw, 32), ref_scale)
    # e4m3fn: emax 8 and max 448: 1.9 * 2^k saturates to 448 instead of rounding to NaN/overflow
    x = np.full((32, 4), 1.0, np.float32)
    x[0, 0] = 1.99
    data, hw = run_quantize(x.astype(BF16), "float8_e4m3fn_x4")
    vals = unpack(data, "float8_e4m3fn_x4")
    assert vals[0, 0, 0] == 448.0 and from_hw_scale(hw, 32)[0, 0] == 127 - 8


def test_zero_groups_get_scale_0(rng):
    x = np.zeros((32, 8), BF16)
    data, hw = run_quantize(x, "float8_e5m2_x4")
    assert (data == 0).all() and (from_hw_scale(hw, 32) == 0).all()


@pytest.mark.parametrize("offset", [4, 8, 12])
def test_packed_scales_at_a_quadrant_offset(rng, offset):
    x = sample(rng, (128, 64))
    data, hw = run_quantize(x, "float8_e5m2_x4", scale_rows=128 - offset, scale_offset=offset)
    ref_data, ref_scale = quantize(x.astype(np.float32), "float8_e5m2_x4")
    np.testing.assert_array_equal(from_hw_scale(hw, 128, offset), ref_scale)
    np.testing.assert_array_equal(data, ref_data)
    assert (hw[:offset] == 0).all()


def test_errors(rng, set_target):
    x = sample(rng, (64, 16))
    V = nisa.NkiValidationError
    with pytest.raises(V, match=r"nki\.isa\.quantize_mx: dst: dtype must be float8_e5m2_x4 or float8_e4m3fn_x4 "
                                r"\(quantize_mx does not produce float4_e2m1fn_x4\), found float4_e2m1fn_x4"):
        run_quantize(x, "float4_e2m1fn_x4")
    with pytest.raises(V, match=r"quantize_mx: src: dtype must be float16 or bfloat16, found float32"):
        run_quantize(x.astype(np.float32), "float8_e5m2_x4")
    with pytest.raises(V, match=r"quantize_mx: src: partition dimension must be a multiple of 32"):
        run_quantize(sample(rng, (48, 16)), "float8_e5m2_x4", scale_rows=36)
    with pytest.raises(V, match=r"quantize_mx: src: free size must be a multiple of 4"):
        run_quantize(sample(rng, (32, 18)), "float8_e5m2_x4", dst_shape=(32, 4), scale_cols=4)
    with pytest.raises(V, match=r"quantize_mx: dst: must have src's partitions and 1/4 of its free size"):
        run_quantize(x, "float8_e5m2_x4", dst_shape=(64, 8))
    with pytest.raises(V, match=r"quantize_mx: dst_scale: the scales of src \(64 partitions\) .* needs at least 36 "
                                r"partitions"):
        run_quantize(x, "float8_e5m2_x4", scale_rows=8)
    with pytest.raises(V, match=r"quantize_mx: dst_scale: needs one scale per x4 column of src: free size 4"):
        run_quantize(x, "float8_e5m2_x4", scale_cols=8)
    with pytest.raises(V, match=r"quantize_mx: dst_scale: must start at partition offset 0, 4, 8 or 12 of an "
                                r"SBUF quadrant"):
        run_quantize(x, "float8_e5m2_x4", scale_rows=36, scale_offset=16)
    with pytest.raises(V, match=r"quantize_mx: dst_scale: must start at partition offset"):
        run_quantize(x, "float8_e5m2_x4", scale_rows=36, scale_offset=2)
    with pytest.raises(V, match=r"quantize_mx: dst_scale: scales must sit in the quadrant of their data"):
        run_quantize(x, "float8_e5m2_x4", scale_rows=36, scale_offset=32)
    with pytest.raises(V, match=r"quantize_mx: dst_scale: scales must be uint8 \(E8M0 exponents\), found int8"):
        run_quantize(x, "float8_e5m2_x4", scale_dtype=nl.int8)
    set_target("trn2")
    with pytest.raises(V, match=r"nki\.isa\.quantize_mx.*not available on trn2 \(it needs trn3"):
        run_quantize(x, "float8_e5m2_x4")


@pytest.mark.parametrize("x4", X4)
def test_inf_and_nan_inputs_follow_the_reference(rng, x4):
    x = sample(rng, (32, 16)).astype(np.float32)
    x[0, 0], x[9, 5], x[17, 10] = np.inf, -np.inf, np.nan
    x = x.astype(BF16)
    data, hw = run_quantize(x, x4)
    ref_data, ref_scale = quantize(x.astype(np.float32), x4)
    np.testing.assert_array_equal(from_hw_scale(hw, 32), ref_scale)
    np.testing.assert_array_equal(data, ref_data)
