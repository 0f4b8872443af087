"""Independent MX references (issue 10), written from the OCP MX spec and the NKI docs of
quantize_mx / nc_matmul_mx, with ml_dtypes' element types doing every fp8/fp4 conversion."""
import ml_dtypes
import numpy as np

ELEM = {"float8_e5m2_x4": ml_dtypes.float8_e5m2, "float8_e4m3fn_x4": ml_dtypes.float8_e4m3fn,
        "float4_e2m1fn_x4": ml_dtypes.float4_e2m1fn}
EMAX = {"float8_e5m2_x4": 15, "float8_e4m3fn_x4": 8, "float4_e2m1fn_x4": 2}
HOST = {"float8_e5m2_x4": np.uint32, "float8_e4m3fn_x4": np.uint32, "float4_e2m1fn_x4": np.uint16}


def scale_row(g):
    """Scale partition of 8-partition group g: 4 partitions at the start of its 32-partition quadrant."""
    return (g // 4) * 32 + g % 4


def scale_rows_needed(P):
    return P // 8 if P <= 32 else (P // 32 - 1) * 32 + 4


def to_hw_scale(scale, rows=None, fill=None, rng=None):
    """[P//8, C] group scales -> the scale tile layout [rows, C] (other rows: fill or random)."""
    G, C = scale.shape
    rows = rows or scale_rows_needed(8 * G)
    out = (rng.integers(0, 256, size=(rows, C)) if rng is not None else np.full((rows, C), fill or 0)).astype(np.uint8)
    for g in range(G):
        out[scale_row(g)] = scale[g]
    return out


def from_hw_scale(hw, P, offset=0):
    return np.stack([hw[offset + scale_row(g)] for g in range(P // 8)])


def unpack(data, x4):
    """x4 host array [P, C] -> float32 [P, C, 4] (value k of element c)."""
    el = ELEM[x4]
    if x4 == "float4_e2m1fn_x4":
        d = np.asarray(data, np.uint16)
        nib = np.stack([(d >> (4 * k)) & 0xF for k in range(4)], axis=-1).astype(np.uint8)
        return nib.view(el).astype(np.float32)
    b = np.ascontiguousarray(np.asarray(data, np.uint32)).view(np.uint8).reshape(*data.shape, 4)
    return b.view(el).astype(np.float32)


def pack(values, x4):
    """float32 [P, C, 4] already representable -> x4 host array [P, C] (RNE via ml_dtypes)."""
    el = ELEM[x4]
    q = values.astype(el)
    if x4 == "float4_e2m1fn_x4":
        nib = q.view(np.uint8).astype(np.uint16) & 0xF
        return (nib[..., 0] | (nib[..., 1] << 4) | (nib[..., 2] << 8) | (nib[..., 3] << 12)).astype(np.uint16)
    return np.ascontiguousarray(q).view(np.uint32).reshape(values.shape[:-1])


def dequantize(data, scale, x4):
    """x4 data [P, C] and group scales [P//8, C] -> float32 [P, C, 4] = value * 2^(scale - 127)."""
    v = unpack(data, x4)
    f = np.exp2(scale.astype(np.float64) - 127).astype(np.float32)
    return v * np.repeat(f, 8, axis=0)[:, :, None]


def quantize(x, x4):
    """OCP MX quantization of float values x [P, 4C] (groups of 8 partitions x 4 values):
    scale = max biased float32 exponent of the group - emax (>= 0); values / 2^(scale - 127),
    clipped to the element type's max finite value, rounded by ml_dtypes."""
    x = np.asarray(x, np.float32)
    P, F = x.shape
    el = ELEM[x4]
    exp = ((x.view(np.uint32) >> 23) & 0xFF).astype(np.int64)
    g = exp.reshape(P // 8, 8, F // 4, 4).max(axis=(1, 3))
    scale = np.maximum(g - EMAX[x4], 0).astype(np.uint8)
    div = np.repeat(np.repeat(np.exp2(scale.astype(np.float64) - 127), 8, axis=0), 4, axis=1)
    maxv = float(ml_dtypes.finfo(el).max)
    q = np.clip(x.astype(np.float64) / div, -maxv, maxv)
    return pack(q.reshape(P, F // 4, 4), x4), scale


def matmul_mx(st, st_scale, mv, mv_scale, xs, xm):
    """float32 matmul of the dequantized inputs: contraction over partitions and the 4 packed values."""
    a = dequantize(st, st_scale, xs)   # [K, M, 4]
    b = dequantize(mv, mv_scale, xm)   # [K, N, 4]
    return np.einsum("kmq,knq->mn", a.astype(np.float64), b.astype(np.float64))
