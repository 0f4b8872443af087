"""nisa.tensor_scalar_cumulative: per partition, reg = op1(op0(src[i], imm0), reg); dst[i] = reg.
reg starts from op1's identity (reset_reduce), imm1 (load_reduce) or the Vector engine's
accumulator as the previous instruction left it (reduce)."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from _issue7 import ALU_REF, fails
from conftest import BF16, F32, NL, assert_equal, cast, random, run, sbuf

IDENT = {"add": 0.0, "subtract": 0.0, "multiply": 1.0, "maximum": -np.inf, "minimum": np.inf}


def cum_ref(src, imm0, op0, op1, reg):
    x = src.astype(np.float32).reshape(src.shape[0], -1)
    imm0 = np.asarray(imm0, np.float32).reshape(-1, 1) if np.ndim(imm0) else np.float32(imm0)
    t = np.asarray(ALU_REF[op0](x, imm0), np.float32)
    reg = np.broadcast_to(np.asarray(reg, np.float32).reshape(-1), (x.shape[0],)).astype(np.float32)
    out = np.empty_like(t)
    for i in range(t.shape[1]):
        reg = np.asarray(ALU_REF[op1](t[:, i], reg), np.float32)
        out[:, i] = reg
    return out.reshape(src.shape), reg


@pytest.mark.parametrize("op1", sorted(IDENT))
@pytest.mark.parametrize("shape", [(128, 33), (5, 2, 7)])
def test_reset_reduce_each_op1(rng, op1, shape):
    a = random(rng, shape, F32, 0.5, 1.5)

    def body(x):
        o = sbuf(shape, nl.float32)
        nisa.tensor_scalar_cumulative(o, x, nl.multiply, getattr(nl, op1), imm0=0.5)
        return o
    assert_equal(run(body, a), cum_ref(a, 0.5, "multiply", op1, IDENT[op1])[0])


def test_matches_numpy_accumulate_like_the_golden_examples(rng):
    a = random(rng, (64, 100), F32, -1, 1)

    def body(x):
        o = sbuf(a.shape, nl.float32)
        nisa.tensor_scalar_cumulative(o, x, nl.add, nl.add, imm0=0.0)
        return o
    np.testing.assert_allclose(run(body, a), np.add.accumulate(a, axis=-1), rtol=1e-5, atol=1e-5)


def test_load_reduce_then_reduce_carries_the_accumulator(rng):
    a = random(rng, (32, 10), F32)
    b = random(rng, (32, 10), F32)
    init = random(rng, (32, 1), F32)
    imm = random(rng, (32, 1), F32)

    def body(x, y, i1, i0):
        o1 = sbuf((32, 10), nl.float32)
        o2 = sbuf((32, 10), nl.float32)
        nisa.tensor_scalar_cumulative(o1, x, nl.subtract, nl.add, imm0=i0, imm1=i1,
                                      reduce_cmd=nisa.reduce_cmd.load_reduce)
        nisa.tensor_scalar_cumulative(o2, y, nl.subtract, nl.add, imm0=i0,
                                      reduce_cmd=nisa.reduce_cmd.reduce)
        return o1, o2
    o1, o2 = run(body, a, b, init, imm)
    e1, reg = cum_ref(a, imm, "subtract", "add", init)
    e2, _ = cum_ref(b, imm, "subtract", "add", reg)
    assert_equal(o1, e1)
    assert_equal(o2, e2)


def test_partial_partitions_use_their_own_lanes(rng):
    a = random(rng, (128, 6), F32)

    def body(x):
        o = sbuf((128, 6), nl.float32)
        nisa.tensor_scalar_cumulative(o[0:64], x[0:64], nl.add, nl.add, 0.0,
                                      imm1=5.0, reduce_cmd=nisa.reduce_cmd.load_reduce)
        nisa.tensor_scalar_cumulative(o[64:128], x[64:128], nl.add, nl.add, 0.0,
                                      imm1=-5.0, reduce_cmd=nisa.reduce_cmd.load_reduce)
        o2 = sbuf((128, 6), nl.float32)
        nisa.tensor_scalar_cumulative(o2, x, nl.add, nl.add, 0.0, reduce_cmd=nisa.reduce_cmd.reduce)
        return o2
    _, r1 = cum_ref(a[:64], 0.0, "add", "add", 5.0)
    _, r2 = cum_ref(a[64:], 0.0, "add", "add", -5.0)
    e, _ = cum_ref(a, 0.0, "add", "add", np.concatenate([r1, r2]))
    assert_equal(run(body, a), e)


@pytest.mark.parametrize("din,dout", [(BF16, BF16), (np.dtype(np.int16), np.dtype(np.int16)),
                                      (np.dtype(np.uint8), F32)])
def test_dtypes(rng, din, dout):
    a = random(rng, (16, 12), din, 0, 9)

    def body(x):
        o = sbuf((16, 12), NL[dout])
        nisa.tensor_scalar_cumulative(o, x, nl.multiply, nl.add, 1.0)
        return o
    assert_equal(run(body, a), cast(cum_ref(a, 1.0, "multiply", "add", 0.0)[0], dout))


# ---------------------------------------------------------------- bad input
def t(shape, dtype=nl.float32):
    x = sbuf(shape, dtype)
    nisa.memset(x, 0)
    return x


def test_rejects_int32():
    fails(lambda: nisa.tensor_scalar_cumulative(t((16, 8), nl.int32), t((16, 8), nl.int32), nl.add,
                                                nl.add, 0.0),
          r"nki\.isa\.tensor_scalar_cumulative: dst: dtype must be bfloat16, .* found int32")


def test_rejects_op1():
    fails(lambda: nisa.tensor_scalar_cumulative(t((16, 8)), t((16, 8)), nl.add, nl.greater, 0.0),
          r"tensor_scalar_cumulative: op1: must be nl\.add, .* found greater")


def test_load_reduce_needs_imm1():
    fails(lambda: nisa.tensor_scalar_cumulative(t((16, 8)), t((16, 8)), nl.add, nl.add, 0.0,
                                                reduce_cmd=nisa.reduce_cmd.load_reduce),
          r"tensor_scalar_cumulative: imm1: is required with reduce_cmd=load_reduce")


def test_rejects_idle():
    fails(lambda: nisa.tensor_scalar_cumulative(t((16, 8)), t((16, 8)), nl.add, nl.add, 0.0,
                                                reduce_cmd=nisa.reduce_cmd.idle),
          r"tensor_scalar_cumulative: reduce_cmd: must be reset_reduce, reduce or load_reduce")


def test_rejects_non_fp32_imm0_tile():
    fails(lambda: nisa.tensor_scalar_cumulative(t((16, 8)), t((16, 8)), nl.add, nl.add,
                                                t((16, 1), nl.bfloat16)),
          r"tensor_scalar_cumulative: imm0: a vector operand of an arithmetic op must be float32")
