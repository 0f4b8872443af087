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
    torch = pytest.importorskip("torch")
    import nkilib_src.nkilib  # noqa: F401
    yield torch
    sys.path.remove(os.path.join(NKILIB, "src"))


def run_or_skip(fn):
    try:
        return fn()
    except nisa.NkiUnsupportedError as e:
        pytest.skip(f"needs an instruction implemented by another issue: {str(e).splitlines()[0]}")


@pytest.mark.parametrize("M,H,tiles", [(256, 512, 2), (512, 1024, 1), (256, 512, 0)])
def test_dynamic_elementwise_add(nkilib, M, H, tiles):
    from nkilib_src.nkilib.experimental.dynamic_shapes.dynamic_elementwise_add import \
        dynamic_elementwise_add
    from nkilib_src.nkilib.experimental.dynamic_shapes.dynamic_elementwise_add_torch import \
        dynamic_elementwise_add_torch_ref
    import ml_dtypes
    rng = np.random.default_rng(1)
    a = rng.standard_normal((M, H)).astype(ml_dtypes.bfloat16)
    b = rng.standard_normal((M, H)).astype(ml_dtypes.bfloat16)
    n = np.array([[tiles]], np.int32)
    got = run_or_skip(lambda: nki.simulate(dynamic_elementwise_add)(a, b, n))
    torch = nkilib
    ref = dynamic_elementwise_add_torch_ref(torch.tensor(a.astype(np.float32)),
                                            torch.tensor(b.astype(np.float32))).numpy()
    rows = tiles * 128
    np.testing.assert_array_equal(got[:rows].astype(np.float32),
                                  ref[:rows].astype(ml_dtypes.bfloat16).astype(np.float32))


@pytest.mark.parametrize("T,E,f_len,N,start", [(4096, 2, 128, None, None), (4096, 3, 128, None, None),
                                               (4096, 2, 128, 4, 2), (4096, 3, 128, 5, 1)])
def test_indexed_flatten_lnc2(nkilib, T, E, f_len, N, start):
    from nkilib_src.nkilib.core.subkernels.indexed_flatten import indexed_flatten
    from nkilib_src.nkilib.core.subkernels.indexed_flatten_torch import indexed_flatten_torch_ref
    torch = nkilib
    x = np.arange(E * T, dtype=np.int32).reshape(E, T)
    ppr = T // f_len
    if N is None:
        offsets = np.array([ppr * i for i in range(E)], np.int32)
        start_arr = None
    else:
        offsets = np.array([ppr * ((i - start) % N) if i >= start else 10 ** 6 for i in range(N)],
                           np.int32)
        start_arr = np.array([start], np.int32)
    output_len = ((E * T + 1024 + 127) // 128) * 128
    kw = dict(f_len=f_len, output_len=output_len, padding_val=-1)
    got = run_or_skip(lambda: nki.simulate(indexed_flatten[2])(x, row_offsets=offsets,
                                                                row_offsets_start=start_arr, **kw))
    ref = indexed_flatten_torch_ref(torch.tensor(x), row_offsets=torch.tensor(offsets),
                                    row_offsets_start=None if start_arr is None else torch.tensor(start_arr),
                                    **kw)["flattened_array"].numpy()
    got = got["flattened_array"] if isinstance(got, dict) else got
    np.testing.assert_array_equal(np.asarray(got).reshape(-1), ref.reshape(-1))
