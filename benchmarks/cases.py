"""Benchmark cases: inputs, the kernel to run, the whole-array NumPy "ideal", targets, tolerances."""
import ml_dtypes
import numpy as np

BF16 = ml_dtypes.bfloat16
MiB = 1 << 20


def randn(shape, dtype, seed, lo=None, hi=None):
    """Random input built in row blocks, so no full-size float32 temporary inflates peak RSS."""
    rng = np.random.default_rng(seed)
    out = np.empty(shape, dtype=dtype)
    flat = out.reshape(shape[0], -1)
    step = max(1, (8 * MiB) // (4 * flat.shape[1]))
    for r in range(0, flat.shape[0], step):
        blk = flat[r:r + step]
        if lo is None:
            v = rng.standard_normal(blk.shape, dtype=np.float32)
        else:
            v = rng.uniform(lo, hi, blk.shape).astype(np.float32)
        blk[...] = v
    return out


# ---- ideals: the same math as whole-array NumPy/BLAS calls in float32 ---------------------------
# They receive the inputs already converted to float32 (conversion is not timed) and return float32.

def ideal_dispatch(a, b, n_pairs):
    a, b = a.copy(), b.copy()      # the same 2*n_pairs fp32 ops as bare in-place NumPy calls
    for _ in range(n_pairs):
        np.multiply(a, np.float32(0.5), out=a)
        np.add(a, np.float32(0.25), out=a)
        np.multiply(b, np.float32(0.75), out=b)
        np.add(b, a, out=b)
    return a, b


def ideal_overhead(a, n):
    a = a.copy()
    for _ in range(n):
        np.multiply(a, np.float32(1.0), out=a)
    return a


def ideal_dynamic(table, count):
    acc = np.zeros((1, table.shape[1]), np.float32)
    for i in range(int(count.reshape(-1)[0])):  # the same sequential fp32 accumulation
        np.add(acc, table[i:i + 1], out=acc)
    return acc


def ideal_stream(a, b):
    return np.add(a, b)


def ideal_matmul(lhsT, rhs):
    return lhsT.T @ rhs


def ideal_softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    e *= 1.0 / e.sum(axis=1, keepdims=True)
    return e


def ideal_rmsnorm(x, gamma):
    rstd = 1.0 / np.sqrt(np.mean(np.square(x), axis=1, keepdims=True) + np.float32(1e-6))
    return x * rstd * gamma


def ideal_attention(qT, kT, v):
    s = (qT.T @ kT) * np.float32(1.0 / np.sqrt(qT.shape[0]))
    p = np.exp(s - s.max(axis=1, keepdims=True))
    return (p @ v) * (1.0 / p.sum(axis=1, keepdims=True))


def ideal_scan(a, b):
    h = np.empty_like(a)
    prev = np.zeros(a.shape[0], np.float32)
    for t in range(a.shape[1]):        # the recurrence is sequential along the row: one column at a time
        prev = a[:, t] * prev + b[:, t]
        h[:, t] = prev
    return h


def ideal_select(x, mask, lo, hi):
    TF = min(x.shape[1], 2048)
    c = np.arange(x.shape[1], dtype=np.float32)[None, :]
    r = np.arange(x.shape[0], dtype=np.float32)[:, None]
    keep = (c >= lo) & (c < hi) & (c <= r)
    y = np.where(mask != 0, np.where(keep, x, np.float32(-3.4028235e+38)), np.float32(0.0))
    return y, y.reshape(x.shape[0], -1, TF).max(axis=2)


def ideal_mx_matmul(a_il, b_il):
    # de-interleave (a_il[r, 4m + q] = A[4r + q, m]) and multiply in float32: the unquantized math
    K4, M4 = a_il.shape
    a = a_il.reshape(K4, M4 // 4, 4).transpose(0, 2, 1).reshape(4 * K4, M4 // 4)
    b = b_il.reshape(K4, b_il.shape[1] // 4, 4).transpose(0, 2, 1).reshape(4 * K4, b_il.shape[1] // 4)
    return a.T @ b


def ideal_topk(x, k):
    part = np.argpartition(-x, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(x, part, axis=1)
    order = np.argsort(-vals, axis=1, kind='stable')
    return np.take_along_axis(vals, order, axis=1), np.take_along_axis(part, order, axis=1).astype(np.float32)


class Case:
    def __init__(self, name, group, kernel, ideal, make, targets, tol, reps=5, note='',
                 marginal=False):
        self.name, self.group, self.kernel, self.ideal = name, group, kernel, ideal
        self.make = make              # make(smoke) -> (args list, n_instr_hint or None)
        self.targets = targets        # dict: peer_over_ours, ours_over_ideal, us_per_instr
        self.tol = tol                # (rtol ours~peer, rtol vs ideal)
        self.reps = reps               # default repetitions (best is reported)
        self.note = note
        self.marginal = marginal      # make(smoke, small=True) exists: report the cost per instruction


def _dispatch_args(smoke, small=False):
    n = 100 if smoke else 10000
    if small:
        n //= 10
    return [randn((128, 1), np.float32, 1, 0.0, 1.0), randn((128, 64), np.float32, 2, 0.0, 1.0), n]


def _overhead_args(smoke, small=False):
    n = 200 if smoke else 20000
    return [np.ones((1, 1), np.float32), n // 10 if small else n]


def _dynamic_args(smoke, small=False):
    n = 100 if smoke else 10000
    if small:
        n //= 10
    return [randn((n, 64), np.float32, 13), np.array([[n]], np.int32)]


def _stream_args(dtype):
    def make(smoke):
        shape = (256, 512) if smoke else (4096, 8192)
        return [randn(shape, dtype, 3), randn(shape, dtype, 4)]
    return make


def _matmul_args(smoke):
    n = 256 if smoke else 2048
    return [randn((n, n), BF16, 5), randn((n, n), BF16, 6)]


def _rows_args(smoke):
    return (256, 512) if smoke else (4096, 4096)


def _attention_args(smoke):
    s = 256 if smoke else 2048
    return [randn((128, s), BF16, 9), randn((128, s), BF16, 10), randn((s, 128), BF16, 11)]


def _scan_args(smoke):
    shape = (256, 512) if smoke else (2048, 8192)
    return [randn(shape, np.float32, 13, 0.5, 1.0), randn(shape, np.float32, 14)]


def _select_args(smoke):
    R, C = (256, 512) if smoke else (2048, 8192)
    rng = np.random.default_rng(15)
    lo = rng.integers(0, C // 2, size=(R, 1)).astype(np.float32)
    hi = lo + rng.integers(1, C // 2, size=(R, 1)).astype(np.float32)
    mask = (rng.uniform(size=(R, C)) < 0.7).astype(np.uint8)
    return [randn((R, C), np.float32, 16), mask, lo, hi]


CASES = [
    Case('dispatch', 'a', 'dispatch_kernel', ideal_dispatch, _dispatch_args,
         {'peer_over_ours': 10.0, 'cold_peer_over_ours': 5.0, 'us_per_instr': 2.0}, (1e-6, 1e-6),
         reps=9, note='20,000 tensor_scalar on [128,1] and [128,64]', marginal=True),
    Case('overhead', 'a', 'overhead_kernel', ideal_overhead, _overhead_args,
         {'peer_over_ours': 10.0, 'cold_peer_over_ours': 5.0, 'us_per_instr': 0.6}, (0, 0),
         reps=9, note='20,000 tensor_scalar on [1,1]: per-instruction overhead', marginal=True),
    Case('dynamic', 'f', 'dynamic_gather_kernel', ideal_dynamic, _dynamic_args,
         {'peer_over_ours': 5.0}, (1e-6, 1e-5), reps=5,
         note='dynamic_range of 10,000 (count from HBM), register-offset DMA + add per iteration',
         marginal=True),
    Case('stream_f32', 'b', 'stream_add_kernel', ideal_stream, _stream_args(np.float32),
         {'peer_over_ours': 2.0, 'ours_over_ideal': 1.5}, (1e-6, 1e-6),
         note='tensor_tensor add [4096,8192] fp32, [128,2048] tiles'),
    Case('stream_bf16', 'b', 'stream_add_kernel', ideal_stream, _stream_args(BF16),
         {'peer_over_ours': 5.0}, (8e-3, 8e-3),
         note='tensor_tensor add [4096,8192] bf16, [128,2048] tiles'),
    Case('matmul', 'c', 'matmul_kernel', ideal_matmul, _matmul_args,
         {'peer_over_ours': 1.0, 'ours_over_ideal': 1.3}, (1e-5, 1e-4),
         note='2048^3, bf16 in, fp32 PSUM'),
    Case('softmax', 'd', 'softmax_kernel', ideal_softmax,
         lambda smoke: [randn(_rows_args(smoke), np.float32, 7)],
         {'peer_over_ours': 2.0, 'ours_over_ideal': 1.5}, (1e-5, 1e-4),
         note='row softmax [4096,4096] fp32'),
    Case('rmsnorm', 'd', 'rmsnorm_kernel', ideal_rmsnorm,
         lambda smoke: [randn(_rows_args(smoke), np.float32, 8),
                        randn((1, _rows_args(smoke)[1]), np.float32, 12, 0.5, 1.5)],
         {'peer_over_ours': 2.0, 'ours_over_ideal': 1.5}, (1e-5, 1e-4),
         note='RMSNorm [4096,4096] fp32'),
    Case('attention', 'e', 'attention_kernel', ideal_attention, _attention_args,
         {'peer_over_ours': 1.5}, (1e-2, 2e-2),
         note='seq 2048, d 128, bf16: QK^T, softmax, PV'),
    Case('scan', 'g', 'scan_kernel', ideal_scan, _scan_args,
         {'peer_over_ours': 5.0}, (1e-5, 1e-4),
         note='tensor_tensor_scan h=a*h+b [2048,8192] fp32, [128,2048] tiles, carried column'),
    Case('select', 'h', 'select_kernel', ideal_select, _select_args,
         {'peer_over_ours': 5.0}, (1e-6, 1e-6),
         note='range_select + affine_select + select_reduce [2048,8192] fp32, [128,2048] tiles'),
]
CASES.append(
    Case('mx_matmul', 'f', 'mx_matmul_kernel', ideal_mx_matmul,
         lambda smoke: [randn((128 if smoke else 512, 4 * (256 if smoke else 2048)), BF16, 13),
                        randn((128 if smoke else 512, 4 * (512 if smoke else 2048)), BF16, 14)],
         {'peer_over_ours': 3.0}, (1e-5, 0.1),
         note='2048^3: quantize_mx (MXFP8 e4m3fn) + nc_matmul_mx, bf16 interleaved in, fp32 PSUM'))
CASES.append(
    Case('topk', 'g', 'topk_kernel', ideal_topk,
         lambda smoke: [randn((256, 512) if smoke else (1024, 4096), np.float32, 13),
                        16 if smoke else 64],
         {'peer_over_ours': 5.0}, (1e-6, 1e-6),
         note='top-64 of [1024,4096] fp32: 8 rounds of max8 + nc_find_index8 + nc_match_replace8 '
              'per [128,4096] tile'))
BY_NAME = {c.name: c for c in CASES}


def sim_bytes(args, outs):
    """Simulated tensors: kernel inputs + outputs (HBM) + 34 MiB of SBUF/PSUM per core."""
    nbytes = sum(a.nbytes for a in args if isinstance(a, np.ndarray))
    nbytes += sum(o.nbytes for o in outs)
    return nbytes + 34 * MiB
