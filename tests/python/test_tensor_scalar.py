"""nisa.tensor_scalar: t = data op0 operand0 (operand0 op0 data when reverse0); if op1:
dst = t op1 operand1 (operand1 op1 t when reverse1). Operands are Python scalars or (P, 1) tiles
broadcast along the free dims; arithmetic in float32 with one rounding to dst; bitvec ops on
integer bits."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from conftest import (BF16, F16, F32, I32, NL, assert_close, assert_equal, cast, dtype_id, psum,
                      random, run, sbuf)
from conftest import all_nan, check_fresh_read, check_partial_write

BINARY = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply,
    "maximum": np.maximum, "minimum": np.minimum,
    "equal": lambda a, b: (a == b).astype(np.float32),
    "not_equal": lambda a, b: (a != b).astype(np.float32),
    "greater": lambda a, b: (a > b).astype(np.float32),
    "greater_equal": lambda a, b: (a >= b).astype(np.float32),
    "less": lambda a, b: (a < b).astype(np.float32),
    "less_equal": lambda a, b: (a <= b).astype(np.float32),
    "logical_and": lambda a, b: ((a != 0) & (b != 0)).astype(np.float32),
    "logical_or": lambda a, b: ((a != 0) | (b != 0)).astype(np.float32),
    "logical_xor": lambda a, b: ((a != 0) ^ (b != 0)).astype(np.float32),
}


def ts(out_dtype, op0, operand0, reverse0=False, op1=None, operand1=None, reverse1=False,
       engine=nisa.engine.unknown):
    """body(data[, vec0[, vec1]]): the string 'vec0'/'vec1' as operand means the 2nd/3rd tile."""
    def body(data, *vecs):
        o0 = vecs[0] if isinstance(operand0, str) else operand0
        o1 = vecs[-1] if isinstance(operand1, str) else operand1
        o = sbuf(data.shape, out_dtype)
        nisa.tensor_scalar(o, data, op0, o0, reverse0=reverse0, op1=op1, operand1=o1,
                           reverse1=reverse1, engine=engine)
        return o
    return body


def data_with_ties(rng, shape, dtype):
    a = random(rng, shape, dtype, lo=-4, hi=4)
    a.flat[:4] = np.array([0.0, 0.5, -0.5, 2.0], np.float32).astype(dtype)
    return a


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("reverse", [False, True])
def test_each_op_with_scalar(rng, name, reverse):
    a = data_with_ties(rng, (32, 8), F32)
    out = run(ts(nl.float32, getattr(nl, name), 0.5, reverse0=reverse), a)
    s = np.float32(0.5)
    expected = BINARY[name](s, a) if reverse else BINARY[name](a, s)
    assert_equal(out, cast(expected, F32))


@pytest.mark.parametrize("din,dout", [(F32, BF16), (BF16, BF16), (F16, F16), (BF16, F32),
                                      (F16, F32), (F32, F16)], ids=lambda d: dtype_id(d))
def test_dtypes_round_once(rng, din, dout):
    a = data_with_ties(rng, (64, 4, 3), din)
    out = run(ts(NL[dout], nl.multiply, 1.37, op1=nl.add, operand1=-0.3), a)
    expected = a.astype(np.float32) * np.float32(1.37) + np.float32(-0.3)
    assert_equal(out, cast(expected, dout))


@pytest.mark.parametrize("reverse0,reverse1", [(False, False), (True, False), (False, True),
                                               (True, True)])
def test_op1_chaining_and_reverse(rng, reverse0, reverse1):
    a = data_with_ties(rng, (16, 8), F32)
    out = run(ts(nl.float32, nl.subtract, 1.25, reverse0, nl.subtract, 3.0, reverse1), a)
    t = (np.float32(1.25) - a) if reverse0 else (a - np.float32(1.25))
    expected = (np.float32(3.0) - t) if reverse1 else (t - np.float32(3.0))
    assert_equal(out, expected)


def test_chained_comparison_then_multiply(rng):
    a = data_with_ties(rng, (16, 8), BF16)
    out = run(ts(nl.bfloat16, nl.greater_equal, 0.0, op1=nl.multiply, operand1=5.0), a)
    assert_equal(out, cast((a.astype(np.float32) >= 0).astype(np.float32) * 5, BF16))


@pytest.mark.parametrize("partitions", [1, 5, 64, 128])
def test_vector_operand_broadcast_along_free_dims(rng, partitions):
    a = data_with_ties(rng, (partitions, 3, 4), BF16)
    v = random(rng, (partitions, 1), F32)
    out = run(ts(nl.float32, nl.multiply, "vec0"), a, v)
    assert_equal(out, a.astype(np.float32) * v[:, :, None])


def test_two_vector_operands_with_reverse(rng):
    a = data_with_ties(rng, (32, 16), F32)
    v0 = random(rng, (32, 1), F32)
    v1 = random(rng, (32, 1), F32, lo=1, hi=3)
    out = run(ts(nl.float32, nl.subtract, "vec0", True, nl.maximum, "vec1", False), a, v0, v1)
    assert_equal(out, np.maximum(v0 - a, v1))


def test_mixed_vector_and_scalar_operands(rng):
    a = data_with_ties(rng, (32, 16), F16)
    v = random(rng, (32, 1), F32)
    out = run(ts(nl.float16, nl.add, "vec0", op1=nl.multiply, operand1=0.25), a, v)
    assert_equal(out, cast((a.astype(np.float32) + v) * np.float32(0.25), F16))


def test_vector_operand_in_psum_and_with_partition_offset(rng):
    a = data_with_ties(rng, (128, 8), F32)
    v = random(rng, (128, 1), F32)

    def body(x, vec):
        pv = psum((128, 1))
        nisa.tensor_copy(pv, vec)
        o = sbuf((128, 8), nl.float32)
        nisa.memset(o, 0.0)
        nisa.tensor_scalar(o[32:64, :], x[32:64, :], nl.add, pv[32:64, :])
        nisa.tensor_scalar(o[64:96, 0:4], x[0:32, ::2], nl.multiply, vec[64:96, :])
        return o
    out = run(body, a, v)
    expected = np.zeros((128, 8), np.float32)
    expected[32:64] = a[32:64] + v[32:64]
    expected[64:96, 0:4] = a[0:32, ::2] * v[64:96]
    assert_equal(out, expected)


def test_data_and_dst_in_psum(rng):
    a = data_with_ties(rng, (16, 8), F32)

    def body(x):
        p = psum(x.shape)
        nisa.tensor_copy(p, x)
        d = psum(x.shape)
        nisa.tensor_scalar(d, p, nl.maximum, 0.0)
        return d
    assert_equal(run(body, a), np.maximum(a, 0))


@pytest.mark.parametrize("name,ref", [("rsqrt", lambda x: 1 / np.sqrt(x)),
                                      ("reciprocal", lambda x: 1 / x),
                                      ("abs", np.abs)])
@pytest.mark.parametrize("operand", [None, 0.0, 7.0])
def test_unary_ops_ignore_operand(rng, name, ref, operand):
    a = random(rng, (16, 8), F32, lo=0.25, hi=9)
    if name == "abs":
        a = a - 4
    out = run(ts(nl.float32, getattr(nl, name), operand), a)
    assert_close(out, ref(a.astype(np.float64)), rtol=2e-6)


def test_rsqrt_on_gpsimd(rng):
    a = random(rng, (16, 8), F32, lo=0.25, hi=100)
    out = run(ts(nl.float32, nl.rsqrt, 0.0, engine=nisa.engine.gpsimd), a)
    assert_close(out, 1 / np.sqrt(a.astype(np.float64)), rtol=2e-6)


@pytest.mark.parametrize("target", ["trn2", "trn3"])
def test_scalar_engine_multiply_add(rng, set_target, target):
    set_target(target)
    a = data_with_ties(rng, (16, 8), BF16)
    out = run(ts(nl.float32, nl.multiply, 2.0, op1=nl.add, operand1=1.0,
                 engine=nisa.engine.scalar), a)
    assert_equal(out, a.astype(np.float32) * 2 + 1)
    out = run(ts(nl.float32, nl.add, 3.0, engine=nisa.engine.scalar), a)
    assert_equal(out, a.astype(np.float32) + 3)


def test_scalar_engine_other_ops_on_trn3(rng):
    # trn3's scalar engine runs tensor_scalar like the vector engine.
    a = data_with_ties(rng, (16, 8), F32)
    out = run(ts(nl.float32, nl.subtract, 1.0, op1=nl.maximum, operand1=0.0,
                 engine=nisa.engine.scalar), a)
    assert_equal(out, np.maximum(a - 1, 0))


def test_int_data_arithmetic_goes_through_float32(rng):
    a = np.array([[2 ** 24 + 1, 7, -3, 1000001]], dtype=np.int32)
    out = run(ts(nl.int32, nl.add, 2), a)
    assert_equal(out, cast(a.astype(np.float32) + 2, I32))
    out = run(ts(nl.int32, nl.multiply, 0.5), a)
    assert_equal(out, cast(a.astype(np.float32) * np.float32(0.5), I32))  # 3.5 -> 4, -1.5 -> -2


# ---------------------------------------------------------------- bitvec
@pytest.mark.parametrize("dtype", [I32, np.dtype(np.uint32), np.dtype(np.int16),
                                   np.dtype(np.uint8)], ids=dtype_id)
def test_bitvec_scalar_chain(rng, dtype):
    dtype = np.dtype(dtype)
    bits = 8 * dtype.itemsize
    u = np.dtype(f"u{dtype.itemsize}")
    a = rng.integers(0, 2 ** bits, size=(16, 8), dtype=np.uint64).astype(u).view(dtype)
    out = run(ts(NL[dtype], nl.bitwise_and, 0x5A, op1=nl.left_shift, operand1=2), a)
    expected = ((a.view(u).astype(np.uint64) & 0x5A) << 2).astype(u).view(dtype)
    assert_equal(out, expected)
    out = run(ts(NL[dtype], nl.right_shift, 1, op1=nl.bitwise_or, operand1=3), a)
    expected = ((a.view(u) >> 1) | 3).astype(u).view(dtype)
    assert_equal(out, expected)
    out = run(ts(NL[dtype], nl.bitwise_xor, 0x33), a)
    assert_equal(out, (a.view(u) ^ 0x33).astype(u).view(dtype))


def test_invert(rng):
    a = rng.integers(-2 ** 31, 2 ** 31, size=(8, 8), dtype=np.int64).astype(np.int32)
    assert_equal(run(ts(nl.int32, nl.invert, 0), a), ~a)
    b = rng.integers(0, 256, size=(8, 8)).astype(np.uint8)
    assert_equal(run(ts(nl.uint8, nl.invert, 0), b), ~b)


def test_bitvec_vector_operand(rng):
    a = rng.integers(0, 2 ** 31, size=(16, 8), dtype=np.int64).astype(np.int32)
    m = rng.integers(0, 2 ** 31, size=(16, 1), dtype=np.int64).astype(np.int32)
    out = run(ts(nl.int32, nl.bitwise_and, "vec0"), a, m)
    assert_equal(out, a & m)


def test_bitvec_keeps_bits_beyond_float_precision():
    a = np.array([[0x7FFFFFFF, 0x01000001, -0x7FFFFFFF]], dtype=np.int32)
    out = run(ts(nl.int32, nl.bitwise_or, 0), a)
    assert_equal(out, a)


def test_positional_call_with_eight_arguments(rng):
    a = data_with_ties(rng, (8, 8), F32)

    def body(x):
        o = sbuf(x.shape, nl.float32)
        nisa.tensor_scalar(o, x, nl.multiply, 2.0, False, nl.add, 1.0, False)
        return o
    assert_equal(run(body, a), a * 2 + 1)


def test_in_place(rng):
    a = data_with_ties(rng, (8, 8), F32)

    def body(x):
        nisa.tensor_scalar(x, x, nl.multiply, -1.0)
        return x
    assert_equal(run(body, a), -a)


@pytest.mark.parametrize("buffer", ["sbuf", "psum"])
def test_partial_write_keeps_sentinels(rng, buffer):
    a = data_with_ties(rng, (128, 8), F32)
    out = check_partial_write(lambda v, x: nisa.tensor_scalar(v, x, nl.multiply, 2.0), a,
                              buffer=getattr(nl, buffer))
    assert_equal(out, a * 2)


def test_reads_sentinels_of_a_fresh_tile_and_operand():

    def reader(t):
        o = sbuf(t.shape, nl.float32)
        nisa.tensor_scalar(o, t, nl.add, 1.0)
        return o
    for out in check_fresh_read(reader):
        assert all_nan(out)

    def operand_reader(t):  # a fresh (P, 1) operand tile
        x = sbuf((t.shape[0], 4), nl.float32)
        nisa.memset(x, 1.0)
        o = sbuf(x.shape, nl.float32)
        nisa.tensor_scalar(o, x, nl.multiply, t)
        return o
    for out in check_fresh_read(operand_reader, shape=(128, 1)):
        assert all_nan(out)

    def bitvec_reader(t):
        o = sbuf(t.shape, nl.int32)
        nisa.tensor_scalar(o, t, nl.bitwise_or, 1)
        return o
    for out in check_fresh_read(bitvec_reader, dtype=nl.int32):
        assert (out == 5).all()


def test_fresh_operand_aliasing_the_destination_reads_sentinels():

    def reader(t):  # t: fresh (P, 8); its column 0 is the operand, t itself the destination
        x = sbuf(t.shape, nl.float32)
        nisa.memset(x, 1.0)
        nisa.tensor_scalar(t, x, nl.add, t[:, 0:1])
        return t
    for out in check_fresh_read(reader):
        assert all_nan(out)


def test_numpy_scalar_operands(rng):
    a = data_with_ties(rng, (16, 8), F32)
    out = run(ts(nl.float32, nl.multiply, np.float32(1.5), op1=nl.add, operand1=np.int32(2)), a)
    assert_equal(out, a * np.float32(1.5) + np.float32(2))
    out = run(ts(nl.float32, nl.add, np.float64(0.1)), a)
    assert_equal(out, a + np.float32(0.1))


FUSED = ["add", "subtract", "multiply", "maximum", "minimum"]


@pytest.mark.parametrize("op0", FUSED)
@pytest.mark.parametrize("op1", FUSED)
@pytest.mark.parametrize("shape", [(128, 64), (128, 1), (7, 33)], ids=str)
def test_two_ops_round_each_step_in_fp32(rng, op0, op1, shape):
    """The common (op0, op1) pairs run in one pass: each op must still round to fp32 on its own
    (no fused multiply-add), for wide rows, one-element rows, in place and with reversed forms."""
    a = random(rng, shape, F32, lo=-3, hi=3)
    v = random(rng, (shape[0], 1), F32, lo=0.5, hi=2)
    s = np.float32(1.0 / 3.0)   # inexact: a*s + t differs from fma(a, s, t) in the last bit
    rev0, rev1 = op0 == "subtract", op1 == "subtract"

    def body(x, vec):
        o = sbuf(shape, nl.float32)
        nisa.tensor_scalar(o, x, getattr(nl, op0), s, reverse0=rev0, op1=getattr(nl, op1),
                           operand1=vec, reverse1=rev1)
        nisa.tensor_scalar(x, x, getattr(nl, op0), vec, reverse0=False, op1=getattr(nl, op1),
                           operand1=s, reverse1=False)          # in place, tile operand first
        return o, x
    out, inplace = run(body, a, v)
    t = BINARY[op0](s, a) if rev0 else BINARY[op0](a, s)
    expected = BINARY[op1](v, t) if rev1 else BINARY[op1](t, v)
    assert_equal(out, expected)
    assert_equal(inplace, BINARY[op1](BINARY[op0](a, v), s))


@pytest.mark.parametrize("shape", [(8, 16), (128, 4000)])
def test_operands_that_are_columns_of_dst_are_read_first(rng, shape):
    """dst = (t + t[:, 0]) * t[:, 0] in place: both (P, 1) operands hold their values from before
    the instruction, also in later column blocks and for op1 (read once, as the engine does)."""
    a = random(rng, shape, F32)
    ai = rng.integers(0, 1 << 20, size=shape).astype(np.int32)

    def body(x, xi):
        nisa.tensor_scalar(x, x, nl.add, x[:, 0:1], op1=nl.multiply, operand1=x[:, 0:1])
        nisa.tensor_scalar(xi, xi, nl.bitwise_xor, xi[:, 0:1], op1=nl.bitwise_or,
                           operand1=xi[:, 1:2])
        return x, xi
    out, outi = run(body, a, ai)
    assert_equal(out, (a + a[:, :1]) * a[:, :1])
    assert_equal(outi, (ai ^ ai[:, :1]) | ai[:, 1:2])


@pytest.mark.parametrize("width", [1, 64, 70, 300])
def test_repeated_in_place_instructions_match_the_stepwise_reference(rng, width):
    """Successive passes over one tile (rows walked in alternating directions, a (P, 1) operand
    of another tile read in place, a scalar operand without a per-row copy) give the stepwise fp32
    results, for a column, whole vectors, and rows with a remainder."""
    a = random(rng, (128, width), F32, lo=-2, hi=2)
    v = random(rng, (128, 1), F32, lo=0.5, hi=1.5)
    half, quarter = np.float32(0.5), np.float32(0.25)

    def body(x, vec):
        for _ in range(5):
            nisa.tensor_scalar(vec, vec, nl.multiply, 0.5, op1=nl.add, operand1=0.25)
            nisa.tensor_scalar(x, x, nl.multiply, 0.75, op1=nl.add, operand1=vec)
            nisa.tensor_scalar(x, x, nl.subtract, vec, reverse0=True, op1=nl.maximum, operand1=-1.0)
        return x, vec
    x_out, v_out = run(body, a, v)
    x, vec = a.copy(), v.copy()
    for _ in range(5):
        vec = (vec * half + quarter).astype(np.float32)
        x = (x * np.float32(0.75) + vec).astype(np.float32)
        x = np.maximum(vec - x, np.float32(-1.0))
    assert_equal(v_out, vec)
    assert_equal(x_out, x)


def test_operand_in_dst_allocation_on_other_partitions_is_read_first(rng):
    """dst = t[0:64] with operand t[32:96, 0:1]: half of the operand lies in dst's partitions, so
    it must hold its value from before the instruction, whichever way the rows are walked."""
    a = random(rng, (128, 40), F32)

    def body(x):
        for _ in range(2):   # both row orders
            nisa.tensor_scalar(x[0:64, :], x[0:64, :], nl.add, x[32:96, 0:1], op1=nl.multiply,
                               operand1=2.0)
        return x
    out = run(body, a)
    ref = a.copy()
    for _ in range(2):
        ref[0:64] = (ref[0:64] + ref[32:96, 0:1].copy()) * np.float32(2.0)
    assert_equal(out, ref)
