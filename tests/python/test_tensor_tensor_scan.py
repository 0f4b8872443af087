"""nisa.tensor_tensor_scan: per partition r[0] = op1(op0(data0[0], initial), data1[0]),
r[i] = op1(op0(data0[i], r[i-1]), data1[i]) (reverse0: op0(r[i-1], data0[i]); reverse1:
op1(data1[i], .)); float32 math, one rounding on write; initial a scalar or a (P, 1) tile."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from _issue7 import ALU_REF, fails
from conftest import BF16, F32, NL, assert_close, assert_equal, cast, psum, random, run, sbuf


def scan_ref(d0, d1, init, op0, op1, rev0=False, rev1=False):
    """Written from the docstring: a float32 loop over the free elements of each partition."""
    f0, f1 = ALU_REF[op0], ALU_REF[op1]
    a = d0.astype(np.float32).reshape(d0.shape[0], -1)
    b = d1.astype(np.float32).reshape(d1.shape[0], -1)
    out = np.empty_like(a)
    prev = np.broadcast_to(np.asarray(init, np.float32).reshape(-1), (a.shape[0],)).astype(np.float32)
    for i in range(a.shape[1]):
        t = f0(prev, a[:, i]) if rev0 else f0(a[:, i], prev)
        prev = (f1(b[:, i], t) if rev1 else f1(t, b[:, i])).astype(np.float32)
        out[:, i] = prev
    return out.reshape(d0.shape)


def scan_body(out_dtype, op0, op1, initial, rev0=False, rev1=False):
    def body(a, b, *init):
        o = sbuf(a.shape, out_dtype)
        nisa.tensor_tensor_scan(o, a, b, init[0] if init else initial, getattr(nl, op0),
                                getattr(nl, op1), reverse0=rev0, reverse1=rev1)
        return o
    return body


@pytest.mark.parametrize("shape", [(128, 64), (37, 5), (3, 2049), (16, 3, 7)])
def test_linear_recurrence_with_scalar_initial(rng, shape):
    a = random(rng, shape, F32, -1, 1)
    b = random(rng, shape, F32, -1, 1)
    out = run(scan_body(nl.float32, "multiply", "add", 0.5), a, b)
    assert_close(out, scan_ref(a, b, 0.5, "multiply", "add"), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("op0,op1", [("add", "maximum"), ("subtract", "multiply"),
                                     ("maximum", "minimum"), ("greater", "add"),
                                     ("logical_and", "subtract")])
@pytest.mark.parametrize("rev0,rev1", [(False, False), (True, False), (False, True), (True, True)])
def test_operators_and_reverse_flags(rng, op0, op1, rev0, rev1):
    a = random(rng, (32, 12), F32, -2, 2)
    b = random(rng, (32, 12), F32, -2, 2)
    out = run(scan_body(nl.float32, op0, op1, -0.25, rev0, rev1), a, b)
    assert_equal(out, scan_ref(a, b, -0.25, op0, op1, rev0, rev1))


def test_initial_tile_and_carry_across_calls(rng):
    """Mamba v3 / cumsum style: the last column of one scan is the initial of the next."""
    a = random(rng, (64, 40), F32, 0.5, 1)
    b = random(rng, (64, 40), F32, -1, 1)
    init = random(rng, (64, 1), F32, -1, 1)

    def body(x, y, i0):
        o = sbuf((64, 40), nl.float32)
        carry = sbuf((64, 1), nl.float32)
        nisa.tensor_copy(carry, i0)
        for k in range(0, 40, 16):
            n = min(16, 40 - k)
            nisa.tensor_tensor_scan(o[:, k:k + n], x[:, k:k + n], y[:, k:k + n], carry,
                                    nl.multiply, nl.add)
            nisa.tensor_copy(carry, o[:, k + n - 1:k + n])
        return o
    out = run(body, a, b, init)
    assert_close(out, scan_ref(a, b, init, "multiply", "add"), rtol=1e-5, atol=1e-6)


def test_initial_may_be_a_column_of_dst(rng):
    a = random(rng, (8, 6), F32)
    b = random(rng, (8, 6), F32)

    def body(x, y):
        o = sbuf((8, 6), nl.float32)
        nisa.memset(o, 2.0)
        nisa.tensor_tensor_scan(o, x, y, o[:, 5:6], nl.add, nl.add)
        return o
    assert_equal(run(body, a, b), scan_ref(a, b, 2.0, "add", "add"))


@pytest.mark.parametrize("din,dout", [(BF16, BF16), (F32, BF16), (BF16, F32)])
def test_dtypes_compute_in_fp32_round_once(rng, din, dout):
    a = random(rng, (16, 33), din, -1, 1)
    b = random(rng, (16, 33), din, -1, 1)
    out = run(scan_body(NL[dout], "multiply", "add", 0.0), a, b)
    assert_equal(out, cast(scan_ref(a, b, 0.0, "multiply", "add"), dout))


def test_psum_operand_and_partial_partitions(rng):
    a = random(rng, (128, 10), F32)
    b = random(rng, (128, 10), F32)

    def body(x, y):
        p = psum((40, 10))
        nisa.tensor_copy(p, y[8:48])
        o = sbuf((40, 10), nl.float32)
        nisa.tensor_tensor_scan(o, x[8:48], p, 1.0, nl.add, nl.maximum)
        return o
    assert_equal(run(body, a, b), scan_ref(a[8:48], b[8:48], 1.0, "add", "maximum"))


# ---------------------------------------------------------------- bad input
def t(shape, dtype=nl.float32, buf=nl.sbuf):
    x = nl.ndarray(shape, dtype=dtype, buffer=buf)
    nisa.memset(x, 0.0 if "float" in str(dtype) else 0)
    return x


def test_rejects_mismatched_shapes():
    fails(lambda: nisa.tensor_tensor_scan(t((16, 8)), t((16, 8)), t((16, 4)), 0.0, nl.add, nl.add),
          r"nki\.isa\.tensor_tensor_scan: data1: 4 elements per partition .* must equal those of data0")


def test_rejects_both_inputs_in_psum():
    fails(lambda: nisa.tensor_tensor_scan(t((16, 8)), t((16, 8), buf=nl.psum),
                                          t((16, 8), buf=nl.psum), 0.0, nl.add, nl.add),
          r"tensor_tensor_scan: data1: data0 and data1 cannot both be in psum")


@pytest.mark.parametrize("param,ops", [("op0", (nl.bitwise_and, nl.add)), ("op1", (nl.add, nl.rsqrt))])
def test_rejects_bitvec_and_unary_ops(param, ops):
    fails(lambda: nisa.tensor_tensor_scan(t((16, 8)), t((16, 8)), t((16, 8)), 0.0, *ops),
          rf"tensor_tensor_scan: {param}: must be a binary arithmetic ALU operator")


def test_rejects_initial_of_wrong_shape():
    fails(lambda: nisa.tensor_tensor_scan(t((16, 8)), t((16, 8)), t((16, 8)), t((16, 2)),
                                          nl.add, nl.add),
          r"tensor_tensor_scan: initial: a vector operand must have shape \(16, 1\)")


def test_rejects_hbm_and_over_128_partitions():
    def k():
        h = nl.ndarray((16, 8), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.tensor_tensor_scan(t((16, 8)), h, t((16, 8)), 0.0, nl.add, nl.add)
    fails(k, r"tensor_tensor_scan: data0: must be in sbuf or psum")
