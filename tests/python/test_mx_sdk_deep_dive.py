"""The four kernels of the NKI SDK's MX deep dive (deep-dives/src/mxfp-matmul/mx_kernels.py) run
unchanged on trn3 (issue 10). They are imported from the SDK on disk: set NKI_SDK_PATH to the
directory that holds nki/ (e.g. NKI_SDK_PATH=/work/ext/sdk); without it these tests skip. The
goldens are the deep dive's own CPU utilities (mx_cpu_utils.py) plus this suite's mx_ref."""
import importlib
import os
import sys

import ml_dtypes as mld
import numpy as np
import pytest

import nki
import nki.language as nl
from mx_ref import matmul_mx

SDK = os.environ.get("NKI_SDK_PATH", "")
SRC = os.path.join(SDK, "nki", "deep-dives", "src", "mxfp-matmul")
pytestmark = pytest.mark.skipif(not SDK or not os.path.isfile(os.path.join(SRC, "mx_kernels.py")),
                                reason="NKI_SDK_PATH does not point at an NKI SDK with the MX deep dive")

X4 = {mld.float8_e5m2: nl.float8_e5m2_x4, mld.float8_e4m3fn: nl.float8_e4m3fn_x4,
      mld.float4_e2m1fn: nl.float4_e2m1fn_x4}


@pytest.fixture(scope="module")
def sdk():
    sys.path.insert(0, SRC)
    try:
        yield importlib.import_module("mx_kernels"), importlib.import_module("mx_cpu_utils")
    finally:
        sys.path.remove(SRC)


def close(out, golden):
    # the deep dive's own criterion (np.allclose, rtol = atol = 5e-2) ...
    assert np.allclose(out.astype(np.float32), golden, rtol=5e-2, atol=5e-2)
    # ... and bf16 rounding of an fp32-accumulated result
    np.testing.assert_allclose(out.astype(np.float64), golden, rtol=2 ** -8,
                               atol=np.abs(golden).max() * 2 ** -8)


def to_host_x4(packed, q):
    """The deep dive packs fp4 as uint8 pairs; nkisim's float4_e2m1fn_x4 host type is uint16."""
    return packed.view(np.uint16) if q == mld.float4_e2m1fn else packed


@pytest.mark.parametrize("q", [mld.float8_e5m2, mld.float4_e2m1fn, mld.float8_e4m3fn], ids=lambda d: d.__name__)
def test_offline_quantized_mx_matmul(sdk, q):
    K, U = sdk
    np.random.seed(1)
    _, _, st, sts = U.generate_stabilized_mx_data(q, (128, 128 * 4))
    _, _, mv, mvs = U.generate_stabilized_mx_data(q, (128, 512 * 4))
    out = nki.simulate(K.kernel_offline_quantized_mx_matmul)(st, sts, mv, mvs, X4[q])
    golden = U.nc_matmul_mx_golden(st, mv, sts, mvs, q, q)
    close(out, golden)
    name = X4[q]
    close(out, matmul_mx(to_host_x4(st, q), sts, to_host_x4(mv, q), mvs, name, name))


@pytest.mark.parametrize("qs,qm", [(mld.float4_e2m1fn, mld.float8_e5m2), (mld.float8_e5m2, mld.float8_e5m2),
                                   (mld.float8_e4m3fn, mld.float8_e4m3fn)],
                         ids=["fp4xfp8", "fp8xfp8", "e4m3"])
def test_on_device_quantize_matmul_mx(sdk, qs, qm):
    K, U = sdk
    np.random.seed(2)
    _, _, st, sts = U.generate_stabilized_mx_data(qs, (128, 128 * 4))
    mvd, _, _, _ = U.generate_stabilized_mx_data(qm, (128, 512 * 4))
    out = nki.simulate(K.kernel_on_device_quantize_matmul_mx)(st, sts, mvd.astype(mld.bfloat16), X4[qs], X4[qm])
    md, ms = U.quantize_mx_golden(mvd, qm)
    close(out, U.nc_matmul_mx_golden(st, md, sts, ms, qs, qm))


@pytest.mark.parametrize("packed", [False, True], ids=["separate_scales", "packed_scales"])
@pytest.mark.parametrize("use_tensor_copy", [True, False], ids=["tensor_copy", "dma"])
def test_copy_strided_quantize_matmul_mx(sdk, packed, use_tensor_copy):
    K, U = sdk
    np.random.seed(3)
    st, _, _, _ = U.generate_stabilized_mx_data(mld.float8_e5m2, (512, 128))
    mv, _, _, _ = U.generate_stabilized_mx_data(mld.float8_e5m2, (512, 512))
    kern = (K.kernel_copy_strided_quantize_matmul_mx_packed_scale if packed
            else K.kernel_copy_strided_quantize_matmul_mx)
    out = nki.simulate(kern)(st.astype(mld.bfloat16), mv.astype(mld.bfloat16), nl.float8_e5m2_x4,
                             use_tensor_copy)
    close(out, st.T @ mv)


def test_kernels_refuse_trn2(sdk, set_target):
    K, U = sdk
    set_target("trn2")
    st, _, _, _ = U.generate_stabilized_mx_data(mld.float8_e5m2, (512, 128))
    mv, _, _, _ = U.generate_stabilized_mx_data(mld.float8_e5m2, (512, 512))
    with pytest.raises(nki.isa.NkiValidationError, match=r"nki\.isa\.quantize_mx.*not available on trn2"):
        nki.simulate(K.kernel_copy_strided_quantize_matmul_mx)(st.astype(mld.bfloat16), mv.astype(mld.bfloat16),
                                                               nl.float8_e5m2_x4, True)
