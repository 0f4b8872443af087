"""Real kernels that need the issue-7 instructions, run unchanged from their on-disk sources:
the SDK's fused Mamba kernels (v1, v2, v3: tensor_tensor_scan, nl.broadcast_to) and
nki-library 2.29's cumsum (tensor_tensor_scan with a (P, 1) initial carried across tiles).

NKI_SDK_PATH points at the SDK (the directory holding nki/examples/fused_mamba), NKILIB_PATH at the
nki-library checkout (holding src/nkilib_src); each test skips cleanly when its path is not set.
Nothing of theirs is copied here: the modules are imported from those paths."""
import importlib.util
import os
import sys

import ml_dtypes
import numpy as np
import pytest

import nki

SDK = os.environ.get("NKI_SDK_PATH")
NKILIB = os.environ.get("NKILIB_PATH")


def _mamba_module():
    path = os.path.join(SDK, "nki", "examples", "fused_mamba", "mamba_nki_kernels.py")
    if not os.path.exists(path):
        pytest.skip(f"no {path}")
    spec = importlib.util.spec_from_file_location("sdk_fused_mamba_kernels", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def mamba_ref(delta, u, A, B, C):
    """The selective-scan recurrence of the Mamba layer, in float64:
    h[t] = exp(delta[t] * A) * h[t-1] + delta[t] * u[t] * B[t]; y[t] = sum over states of h[t] * C[t]."""
    d, uu = delta.astype(np.float64), u.astype(np.float64)
    dA = np.exp(d[:, :, None, :] * A[None, :, :, None])            # (b, c, s, L)
    dBu = (d * uu)[:, :, None, :] * B[:, None, :, :]                # (b, c, s, L)
    h = np.zeros(dA.shape[:3])
    out = np.empty_like(dA)
    for t in range(dA.shape[-1]):
        h = dA[..., t] * h + dBu[..., t]
        out[..., t] = h
    return (out * C[:, None, :, :]).sum(axis=2)


@pytest.mark.skipif(not SDK, reason="NKI_SDK_PATH is not set")
@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_fused_mamba(version):
    mod = _mamba_module()
    rng = np.random.default_rng(7)
    batch, channels, seq_len, state = 1, 256, 1024, 4
    delta = rng.uniform(0.01, 0.2, (batch, channels, seq_len)).astype(np.float32)
    u = rng.uniform(-1, 1, (batch, channels, seq_len)).astype(np.float32)
    A = -rng.uniform(0.5, 2, (channels, state)).astype(np.float32)
    B = rng.uniform(-1, 1, (batch, state, seq_len)).astype(np.float32)
    C = rng.uniform(-1, 1, (batch, state, seq_len)).astype(np.float32)
    out = nki.simulate(getattr(mod, f"mamba_{version}"))(delta, u, A, B, C)
    np.testing.assert_allclose(out, mamba_ref(delta, u, A, B, C), rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(not SDK, reason="NKI_SDK_PATH is not set")
def test_fused_mamba_versions_agree_bit_for_bit_like_the_sdk_script():
    mod = _mamba_module()
    rng = np.random.default_rng(8)
    args = (rng.uniform(0.01, 0.2, (1, 128, 1024)).astype(np.float32),
            rng.uniform(-1, 1, (1, 128, 1024)).astype(np.float32),
            -rng.uniform(0.5, 2, (128, 2)).astype(np.float32),
            rng.uniform(-1, 1, (1, 2, 1024)).astype(np.float32),
            rng.uniform(-1, 1, (1, 2, 1024)).astype(np.float32))
    v1 = nki.simulate(mod.mamba_v1)(*args)
    v2 = nki.simulate(mod.mamba_v2)(*args)
    np.testing.assert_array_equal(v1, v2)


@pytest.mark.skipif(not NKILIB, reason="NKILIB_PATH is not set")
@pytest.mark.parametrize("shape,dtype", [((1, 256), np.float32), ((64, 4, 1024), ml_dtypes.bfloat16),
                                         ((128, 2048), np.float32), ((200, 5001), np.float32)])
def test_nkilib_cumsum(shape, dtype):
    src = os.path.join(NKILIB, "src")
    if not os.path.isdir(os.path.join(src, "nkilib_src")):
        pytest.skip(f"no nkilib_src under {src}")
    if src not in sys.path:
        sys.path.insert(0, src)
    from nkilib_src.nkilib.core.cumsum import cumsum
    np.random.seed(42)
    x = np.random.randn(*shape).astype(dtype)
    out = nki.simulate(cumsum)(x)
    ref = np.cumsum(x.astype(np.float64), axis=-1)
    bf16 = dtype == ml_dtypes.bfloat16
    # nki-library's own tolerances for this kernel
    np.testing.assert_allclose(out.astype(np.float64), ref, atol=1e-2 if shape[-1] > 5000 else 1e-3,
                               rtol=1e-2 if bf16 else 1e-3)
