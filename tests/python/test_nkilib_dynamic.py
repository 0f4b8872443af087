"""nki-library 2.29 dynamic kernels, unchanged, against their torch references.

Skipped unless NKILIB_PATH points at an nki-library checkout (e.g. /work/ext/nki-library). Kernels
that need instructions other issues implement are skipped with the missing instruction named.
"""
import os
import sys

import numpy as np
import pytest

import nki
import nki.isa as nisa

NKILIB = os.environ.get("NKILIB_PATH")
pytestmark = pytest.mark.skipif(not NKILIB, reason="set NKILIB_PATH to an nki-library checkout")


@pytest.fixture(scope="module")
def nkilib():
    sys.path.insert(0, os.path.join(NKILIB, "src"))
    import nkilib_src.nkilib  # noqa: F401
    yield
    sys.path.remove(os.path.join(NKILIB, "src"))


def flatten_reference(x, f_len, output_len, offsets, start, padding):
    """indexed_flatten as documented: row e of x, cut into blocks of f_len, goes to output blocks
    offsets[start + e] + p; blocks outside the output are dropped."""
    E, T = x.shape
    out = np.full(output_len, padding, x.dtype)
    blocks = out.reshape(-1, f_len)
    for e in range(E):
        for p in range(T // f_len):
            b = int(offsets[(start or 0) + e]) + p
            if 0 <= b < blocks.shape[0]:
                blocks[b] = x[e, p * f_len:(p + 1) * f_len]
    return out


def run_or_skip(fn):
    try:
        return fn()
    except nisa.NkiUnsupportedError as e:
        pytest.skip(f"needs an instruction implemented by another issue: {str(e).splitlines()[0]}")


@pytest.mark.parametrize("M,H,tiles", [(256, 512, 2), (512, 1024, 1), (256, 512, 0)])
def test_dynamic_elementwise_add(nkilib, M, H, tiles):
    from nkilib_src.nkilib.experimental.dynamic_shapes.dynamic_elementwise_add import \
        dynamic_elementwise_add
    import ml_dtypes
    rng = np.random.default_rng(1)
    a = rng.standard_normal((M, H)).astype(ml_dtypes.bfloat16)
    b = rng.standard_normal((M, H)).astype(ml_dtypes.bfloat16)
    n = np.array([[tiles]], np.int32)
    got = run_or_skip(lambda: nki.simulate(dynamic_elementwise_add)(a, b, n))
    ref = a.astype(np.float32) + b.astype(np.float32)  # the documented result: input_a + input_b
    rows = tiles * 128
    np.testing.assert_array_equal(got[:rows].astype(np.float32),
                                  ref[:rows].astype(ml_dtypes.bfloat16).astype(np.float32))


@pytest.mark.parametrize("T,E,f_len,N,start", [(4096, 2, 128, None, None), (4096, 3, 128, None, None),
                                               (4096, 2, 256, None, None), (4096, 2, 128, 4, 2),
                                               (4096, 3, 128, 5, 1), (4096, 3, 128, -1, None)])
def test_indexed_flatten_lnc2(nkilib, T, E, f_len, N, start):
    from nkilib_src.nkilib.core.subkernels.indexed_flatten import indexed_flatten
    x = np.arange(E * T, dtype=np.int32).reshape(E, T)
    ppr = T // f_len
    if N is None:
        offsets = np.array([ppr * i for i in range(E)], np.int32)
        start_arr = None
    elif N == -1:  # the last row starts near the end: its trailing blocks are out of range (skipped)
        offsets = np.array([0, ppr, (E * T + 1024) // f_len - 3], np.int32)
        start_arr = None
    else:
        offsets = np.array([ppr * ((i - start) % N) if i >= start else 10 ** 6 for i in range(N)],
                           np.int32)
        start_arr = np.array([start], np.int32)
    output_len = ((E * T + 1024 + 127) // 128) * 128
    kw = dict(f_len=f_len, output_len=output_len, padding_val=-1)
    got = run_or_skip(lambda: nki.simulate(indexed_flatten[2])(x, row_offsets=offsets,
                                                                row_offsets_start=start_arr, **kw))
    ref = flatten_reference(x, f_len, output_len, offsets, start, -1)
    got = got["flattened_array"] if isinstance(got, dict) else got
    np.testing.assert_array_equal(np.asarray(got).reshape(-1), ref.reshape(-1))


@pytest.mark.parametrize("lnc", [1, 2])
def test_cross_entropy_forward(nkilib, lnc):
    from nkilib_src.nkilib.experimental.loss.cross_entropy import cross_entropy_forward
    import nki.language as nl
    rng = np.random.default_rng(3)
    N, V = 64, 2048
    logits = rng.standard_normal((N, V)).astype(np.float32) * 3
    targets = rng.integers(0, V, size=N).astype(np.int32)
    k = cross_entropy_forward if lnc == 1 else cross_entropy_forward[2]
    loss, lse = run_or_skip(lambda: nki.simulate(k)(logits, targets, positions_per_batch=32,
                                                    chunk_size=1024, dtype=nl.float32))
    m = logits.max(axis=1, keepdims=True)
    ref_lse = (m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True)))[:, 0]
    ref_loss = ref_lse - logits[np.arange(N), targets]
    np.testing.assert_allclose(np.asarray(lse, np.float32), ref_lse, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(loss, np.float32), ref_loss, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("lnc", [1, 2])
def test_topk_reduce(nkilib, lnc):
    from nkilib_src.nkilib.experimental.subkernels.topk_reduce import topk_reduce
    import ml_dtypes
    rng = np.random.default_rng(4)
    T, K, H = 16, 2, 64
    rows = T * K
    vals = rng.standard_normal((rows, H)).astype(ml_dtypes.bfloat16)
    token = np.repeat(np.arange(T, dtype=np.int32), K)
    perm = rng.permutation(rows)
    buf = np.zeros((rows, H + 2), np.uint16)
    buf[:, :H] = vals[perm].view(np.uint16)
    buf[:, H:] = token[perm].reshape(rows, 1).view(np.uint16).reshape(rows, 2)
    inp = buf.view(ml_dtypes.bfloat16)
    k = topk_reduce if lnc == 1 else topk_reduce[2]
    got = run_or_skip(lambda: nki.simulate(k)(inp, T, K))
    ref = vals.astype(np.float32).reshape(T, K, H).sum(axis=1)
    np.testing.assert_allclose(np.asarray(got).astype(np.float32), ref, rtol=2e-2, atol=2e-2)
