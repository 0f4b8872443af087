"""nisa.scalar_tensor_tensor: t = data op0 operand0 (operand0 a scalar or a (P, 1) tile;
reverse0 swaps), dst = t op1 operand1 (operand1 a tile of data's layout; reverse1 swaps);
float32 math, one rounding on write; data and operand1 not both in PSUM."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from _issue7 import ALU_REF, fails
from conftest import BF16, F16, F32, NL, assert_equal, cast, psum, random, run, sbuf


def stt_ref(a, s, b, op0, op1, rev0=False, rev1=False):
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    s32 = np.asarray(s, np.float32)
    if s32.ndim == 2:
        s32 = s32.reshape((a.shape[0],) + (1,) * (a.ndim - 1))
    t = ALU_REF[op0](s32, a32) if rev0 else ALU_REF[op0](a32, s32)
    t = np.asarray(t, np.float32)
    return np.asarray(ALU_REF[op1](b32, t) if rev1 else ALU_REF[op1](t, b32), np.float32)


def stt(out_dtype, op0, operand0, op1, rev0=False, rev1=False):
    def body(a, b, *vec):
        o = sbuf(a.shape, out_dtype)
        nisa.scalar_tensor_tensor(o, a, getattr(nl, op0), vec[0] if vec else operand0,
                                  getattr(nl, op1), b, reverse0=rev0, reverse1=rev1)
        return o
    return body


@pytest.mark.parametrize("op0,op1", [("multiply", "add"), ("subtract", "maximum"),
                                     ("add", "multiply"), ("greater", "multiply"),
                                     ("maximum", "subtract")])
@pytest.mark.parametrize("rev0,rev1", [(False, False), (True, True), (True, False), (False, True)])
def test_scalar_operand0(rng, op0, op1, rev0, rev1):
    a = random(rng, (64, 24), F32)
    b = random(rng, (64, 24), F32)
    out = run(stt(nl.float32, op0, 0.75, op1, rev0, rev1), a, b)
    assert_equal(out, stt_ref(a, 0.75, b, op0, op1, rev0, rev1))


@pytest.mark.parametrize("shape", [(128, 2100), (37, 5), (5, 3, 7)])
def test_vector_operand0_partial_partitions(rng, shape):
    a = random(rng, shape, F32)
    b = random(rng, shape, F32)
    v = random(rng, (shape[0], 1), F32)
    out = run(stt(nl.float32, "subtract", None, "multiply", True, False), a, b, v)
    assert_equal(out, stt_ref(a, v, b, "subtract", "multiply", True, False))


@pytest.mark.parametrize("din,dout", [(BF16, BF16), (F32, BF16), (F16, F32), (BF16, F16)])
def test_dtypes_round_once(rng, din, dout):
    a = random(rng, (32, 9), din)
    b = random(rng, (32, 9), din)
    out = run(stt(NL[dout], "multiply", 1.37, "add"), a, b)
    assert_equal(out, cast(stt_ref(a, 1.37, b, "multiply", "add"), dout))


def test_operand1_in_psum_and_in_place(rng):
    a = random(rng, (16, 8), F32)
    b = random(rng, (16, 8), F32)

    def body(x, y):
        p = psum((16, 8))
        nisa.tensor_copy(p, y)
        nisa.scalar_tensor_tensor(x, x, nl.multiply, 2.0, nl.add, p)
        return x
    assert_equal(run(body, a, b), stt_ref(a, 2.0, b, "multiply", "add"))


@pytest.mark.parametrize("shape", [(16, 8), (128, 512), (128, 3000)])
@pytest.mark.parametrize("data_in", ["psum", "sbuf"])
def test_dst_is_operand1_accumulates(rng, shape, data_in):
    """acc = (data * scale) + acc with dst and operand1 the same tile (the attention backward
    kernel's dq accumulation): operand1 is read before dst is written."""
    a = random(rng, shape, F32)
    b = random(rng, shape, F32)

    def body(x, acc):
        src = x
        if data_in == "psum":
            src = psum((shape[0], min(shape[1], 512)))
            nisa.tensor_copy(src, x[:, 0:src.shape[1]])
            acc = acc[:, 0:src.shape[1]]
        nisa.scalar_tensor_tensor(dst=acc, data=src, op0=nl.multiply, operand0=0.125,
                                  op1=nl.add, operand1=acc)
        return acc
    n = min(shape[1], 512) if data_in == "psum" else shape[1]
    assert_equal(run(body, a, b), stt_ref(a[:, :n], 0.125, b[:, :n], "multiply", "add"))


# ---------------------------------------------------------------- bad input
def t(shape, dtype=nl.float32, buf=nl.sbuf):
    x = nl.ndarray(shape, dtype=dtype, buffer=buf)
    nisa.memset(x, 0)
    return x


def test_rejects_operand1_shape():
    fails(lambda: nisa.scalar_tensor_tensor(t((16, 8)), t((16, 8)), nl.add, 1.0, nl.add, t((16, 4))),
          r"nki\.isa\.scalar_tensor_tensor: operand1: 4 elements per partition .* must equal those of data")


def test_rejects_data_and_operand1_in_psum():
    fails(lambda: nisa.scalar_tensor_tensor(t((16, 8)), t((16, 8), buf=nl.psum), nl.add, 1.0,
                                            nl.add, t((16, 8), buf=nl.psum)),
          r"scalar_tensor_tensor: operand1: data and operand1 cannot both be in psum")


@pytest.mark.parametrize("param,ops", [("op0", (nl.bitwise_and, nl.add)),
                                       ("op1", (nl.add, nl.left_shift))])
def test_rejects_bitvec_ops(param, ops):
    fails(lambda: nisa.scalar_tensor_tensor(t((16, 8), nl.int32), t((16, 8), nl.int32), ops[0], 1,
                                            ops[1], t((16, 8), nl.int32)),
          rf"scalar_tensor_tensor: {param}: must be an arithmetic ALU operator")


def test_rejects_operand0_tile_shape():
    fails(lambda: nisa.scalar_tensor_tensor(t((16, 8)), t((16, 8)), nl.add, t((16, 2)), nl.add,
                                            t((16, 8))),
          r"scalar_tensor_tensor: operand0: a vector operand must have shape \(16, 1\)")


def test_rejects_dst_layout():
    fails(lambda: nisa.scalar_tensor_tensor(t((8, 8)), t((16, 8)), nl.add, 1.0, nl.add, t((16, 8))),
          r"scalar_tensor_tensor: dst: partition dimension 8 .* must equal that of data, 16")
