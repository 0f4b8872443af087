"""nisa.tensor_tensor: dst = op(data1, data2) element-wise. Arithmetic ops compute in float32 and
round once to dst; bitvec ops work on integer bit patterns; all-int32 operands run exactly on
GpSimd by default; equal partitions and elements per partition, no broadcasting."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from conftest import (BF16, F16, F32, I32, NL, assert_equal, cast, dtype_id, psum, random, run,
                      sbuf)
from conftest import all_nan, check_fresh_read, check_partial_write


def _b(x):
    return x.astype(np.float32)


ARITH = {
    "add": np.add,
    "subtract": np.subtract,
    "multiply": np.multiply,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "equal": lambda a, b: _b(a == b),
    "not_equal": lambda a, b: _b(a != b),
    "greater_equal": lambda a, b: _b(a >= b),
    "greater": lambda a, b: _b(a > b),
    "less_equal": lambda a, b: _b(a <= b),
    "less": lambda a, b: _b(a < b),
    "logical_and": lambda a, b: _b((a != 0) & (b != 0)),
    "logical_or": lambda a, b: _b((a != 0) | (b != 0)),
    "logical_xor": lambda a, b: _b((a != 0) ^ (b != 0)),
}


def tt(op, out_dtype, engine=nisa.engine.unknown):
    def body(a, b):
        o = sbuf(a.shape, out_dtype)
        nisa.tensor_tensor(o, a, b, op, engine=engine)
        return o
    return body


def arith_inputs(rng, shape, d1, d2):
    a = random(rng, shape, d1, lo=-4, hi=4)
    b = random(rng, shape, d2, lo=-4, hi=4)
    # exact ties for comparisons and logical ops: some equal values and zeros
    a.flat[:6] = np.array([1.0, 0.0, -2.0, 0.0, 3.0, 0.5], np.float32).astype(d1)
    b.flat[:6] = np.array([1.0, 0.0, 2.0, 5.0, 0.0, 0.5], np.float32).astype(d2)
    return a, b


@pytest.mark.parametrize("name", sorted(ARITH))
@pytest.mark.parametrize("d1,d2,dout", [(F32, F32, F32), (BF16, BF16, BF16), (F16, F16, F16),
                                        (F32, BF16, F16), (BF16, F32, F32), (F16, BF16, BF16)],
                         ids=lambda d: dtype_id(d))
def test_arithmetic_ops(rng, name, d1, d2, dout):
    a, b = arith_inputs(rng, (64, 12), d1, d2)
    out = run(tt(getattr(nl, name), NL[dout]), a, b)
    assert_equal(out, cast(ARITH[name](a.astype(np.float32), b.astype(np.float32)), dout))


def test_power_runs_on_gpsimd(rng):
    a = random(rng, (32, 8), F32, lo=0.5, hi=3)
    b = random(rng, (32, 8), F32, lo=-2, hi=2)
    out = run(tt(nl.power, nl.float32), a, b)
    np.testing.assert_allclose(out, np.power(a, b), rtol=1e-5)
    out = run(tt(nl.power, nl.float32, engine=nisa.engine.gpsimd), a, b)
    np.testing.assert_allclose(out, np.power(a, b), rtol=1e-5)


@pytest.mark.parametrize("engine", [nisa.engine.unknown, nisa.engine.vector, nisa.engine.gpsimd],
                         ids=lambda e: e.name)
def test_float_ops_on_each_engine(rng, engine):
    a, b = arith_inputs(rng, (16, 16), BF16, F32)
    out = run(tt(nl.multiply, nl.bfloat16, engine=engine), a, b)
    assert_equal(out, cast(a.astype(np.float32) * b, BF16))


@pytest.mark.parametrize("name,ref", [("add", np.add), ("subtract", np.subtract),
                                      ("multiply", np.multiply), ("maximum", np.maximum),
                                      ("minimum", np.minimum)])
@pytest.mark.parametrize("engine", [nisa.engine.unknown, nisa.engine.gpsimd],
                         ids=lambda e: e.name)
def test_int32_is_exact_by_default(rng, name, ref, engine):
    # Beyond 2^24 float32 would lose bits: the all-int32 path is exact.
    a = rng.integers(-2 ** 30, 2 ** 30, size=(32, 8), dtype=np.int64).astype(np.int32)
    b = rng.integers(-2 ** 30, 2 ** 30, size=(32, 8), dtype=np.int64).astype(np.int32)
    a[0, 0], b[0, 0] = 2 ** 24 + 1, 2
    if name == "multiply":
        b = rng.integers(-30, 30, size=(32, 8), dtype=np.int64).astype(np.int32)
        a = rng.integers(-2 ** 25, 2 ** 25, size=(32, 8), dtype=np.int64).astype(np.int32)
    out = run(tt(getattr(nl, name), nl.int32, engine=engine), a, b)
    assert_equal(out, ref(a.astype(np.int64), b.astype(np.int64)).astype(np.int32))


def test_int32_comparisons_exact():
    a = np.array([[2 ** 24 + 1, 5, -7, 2 ** 30]], dtype=np.int32)
    b = np.array([[2 ** 24, 5, 7, 2 ** 30 + 1]], dtype=np.int32)
    out = run(tt(nl.greater, nl.int32), a, b)
    assert_equal(out, (a > b).astype(np.int32))
    out = run(tt(nl.equal, nl.int32), a, b)
    assert_equal(out, (a == b).astype(np.int32))


def test_uint32_exact():
    a = np.array([[2 ** 31 + 5, 3_000_000_001, 17]], dtype=np.uint32)
    b = np.array([[1, 999_999_999, 2 ** 31]], dtype=np.uint32)
    out = run(tt(nl.add, nl.uint32), a, b)
    assert_equal(out, (a.astype(np.uint64) + b).astype(np.uint32))


def test_int32_forced_vector_engine_goes_through_float32():
    a = np.array([[2 ** 24 + 1, 2 ** 24 + 3, 1000, -(2 ** 25) - 1]], dtype=np.int32)
    b = np.array([[2, 0, 7, 0]], dtype=np.int32)
    out = run(tt(nl.add, nl.int32, engine=nisa.engine.vector), a, b)
    assert_equal(out, cast(a.astype(np.float32) + b.astype(np.float32), I32))


def test_int32_with_psum_operand_goes_through_float32():
    a = np.array([[2 ** 24 + 1, 2 ** 24 + 3, 1000, 5]], dtype=np.int32)
    b = np.array([[2, 0, 7, 0]], dtype=np.int32)

    def body(x, y):
        p = psum(x.shape, nl.int32)
        nisa.tensor_copy(p, y)
        o = sbuf(x.shape, nl.int32)
        nisa.tensor_tensor(o, x, p, nl.add)
        return o
    assert_equal(run(body, a, b), cast(a.astype(np.float32) + b.astype(np.float32), I32))


def test_mixed_int_float_goes_through_float32(rng):
    a = random(rng, (16, 8), I32, lo=-1000, hi=1000)
    b = random(rng, (16, 8), F32)
    out = run(tt(nl.multiply, nl.float32), a, b)
    assert_equal(out, a.astype(np.float32) * b)
    out = run(tt(nl.multiply, nl.int32), a, b)
    assert_equal(out, cast(a.astype(np.float32) * b, I32))


# ---------------------------------------------------------------- bitvec
def _unsigned(dtype):
    return np.dtype(f"u{np.dtype(dtype).itemsize}")


def bitvec_ref(name, a, b):
    u = _unsigned(a.dtype)
    au, bu = a.view(u), b.view(u)
    bits = 8 * a.dtype.itemsize
    if name == "bitwise_and":
        r = au & bu
    elif name == "bitwise_or":
        r = au | bu
    elif name == "bitwise_xor":
        r = au ^ bu
    elif name == "left_shift":
        r = ((au.astype(np.uint64) << b.astype(np.uint64)) & ((1 << bits) - 1)).astype(u)
    elif name == "right_shift":  # logical: zeros shifted in
        r = (au.astype(np.uint64) >> b.astype(np.uint64)).astype(u)
    return r.view(a.dtype)


INT_DTYPES = [I32, np.dtype(np.uint32), np.dtype(np.int16), np.dtype(np.uint16),
              np.dtype(np.int8), np.dtype(np.uint8)]


def bitvec_inputs(rng, dtype, shift):
    dtype = np.dtype(dtype)
    bits = 8 * dtype.itemsize
    u = _unsigned(dtype)
    a = rng.integers(0, 2 ** bits, size=(32, 8), dtype=np.uint64).astype(u).view(dtype)
    if shift:
        b = rng.integers(0, bits, size=(32, 8)).astype(dtype)
    else:
        b = rng.integers(0, 2 ** bits, size=(32, 8), dtype=np.uint64).astype(u).view(dtype)
    return a, b


@pytest.mark.parametrize("name", ["bitwise_and", "bitwise_or", "bitwise_xor", "left_shift"])
@pytest.mark.parametrize("dtype", INT_DTYPES, ids=dtype_id)
def test_bitvec_ops(rng, name, dtype):
    a, b = bitvec_inputs(rng, dtype, shift=name.endswith("shift"))
    out = run(tt(getattr(nl, name), NL[np.dtype(dtype)]), a, b)
    assert_equal(out, bitvec_ref(name, a, b))


@pytest.mark.parametrize("dtype", [np.dtype(np.uint32), np.dtype(np.uint16),
                                   np.dtype(np.uint8)], ids=dtype_id)
def test_right_shift_unsigned(rng, dtype):
    a, b = bitvec_inputs(rng, dtype, shift=True)
    out = run(tt(nl.right_shift, NL[np.dtype(dtype)]), a, b)
    assert_equal(out, bitvec_ref("right_shift", a, b))


@pytest.mark.parametrize("dtype", [I32, np.dtype(np.int16), np.dtype(np.int8)], ids=dtype_id)
def test_right_shift_signed_is_logical(dtype):
    # "logical a >> b (arithmetic right shift not supported)": zeros come in from the left.
    a = np.array([[-8, -1, 64, -128]], dtype=dtype)
    b = np.array([[1, 4, 2, 3]], dtype=dtype)
    out = run(tt(nl.right_shift, NL[np.dtype(dtype)]), a, b)
    assert_equal(out, bitvec_ref("right_shift", a, b))


def test_bitvec_keeps_bits_beyond_float_precision():
    a = np.array([[0x7FFFFFFF, -1, 0x01000001, 0x12345678]], dtype=np.int32)
    b = np.array([[0x0F0F0F0F, 0x7FFFFFFF, 0x01000001, -0x10000]], dtype=np.int32)
    assert_equal(run(tt(nl.bitwise_and, nl.int32), a, b), a & b)
    assert_equal(run(tt(nl.bitwise_xor, nl.int32), a, b), a ^ b)


# ---------------------------------------------------------------- layouts
def test_free_dims_may_differ(rng):
    a = random(rng, (16, 4, 8), F32)
    b = random(rng, (16, 32), F32)

    def body(x, y):
        o = sbuf((16, 2, 16), nl.float32)
        nisa.tensor_tensor(o, x, y, nl.add)
        return o
    assert_equal(run(body, a, b), (a.reshape(16, 32) + b).reshape(16, 2, 16))


@pytest.mark.parametrize("partitions", [1, 7, 64, 128])
def test_partition_counts(rng, partitions):
    a, b = arith_inputs(rng, (partitions, 8), F32, F32)
    assert_equal(run(tt(nl.subtract, nl.float32), a, b), a - b)


def test_partition_offsets_and_strides(rng):
    a = random(rng, (128, 16), F32)
    b = random(rng, (64, 8), F32)

    def body(x, y):
        o = sbuf((128, 8), nl.float32)
        nisa.memset(o, 0.0)
        nisa.tensor_tensor(o[32:64, :], x[32:64, ::2], y[0:32, :], nl.add)
        nisa.tensor_tensor(o[64:128, 0:4], x[64:128, 12:16], y[:, 4:8], nl.maximum)
        return o
    out = run(body, a, b)
    expected = np.zeros((128, 8), np.float32)
    expected[32:64] = a[32:64, ::2] + b[0:32]
    expected[64:128, 0:4] = np.maximum(a[64:128, 12:16], b[:, 4:8])
    assert_equal(out, expected)


def test_one_operand_and_dst_in_psum(rng):
    a, b = arith_inputs(rng, (32, 16), F32, F32)

    def body(x, y):
        p = psum(x.shape)
        nisa.tensor_copy(p, x)
        d = psum(x.shape)
        nisa.tensor_tensor(d, p, y, nl.multiply)   # data1 in PSUM, dst in PSUM
        e = sbuf(x.shape, nl.float32)
        nisa.tensor_tensor(e, y, d, nl.add)        # data2 in PSUM
        return e
    assert_equal(run(body, a, b), b + a * b)


def test_in_place_dst_aliases_input(rng):
    a, b = arith_inputs(rng, (16, 8), F32, F32)

    def body(x, y):
        nisa.tensor_tensor(x, x, y, nl.add)
        return x
    assert_equal(run(body, a, b), a + b)


def test_positional_and_name(rng):
    a, b = arith_inputs(rng, (8, 8), F32, F32)

    def body(x, y):
        o = sbuf(x.shape, nl.float32)
        nisa.tensor_tensor(o, x, y, nl.add, nisa.engine.vector, "tt0")
        return o
    assert_equal(run(body, a, b), a + b)


def test_nan_and_inf_propagate():
    a = np.array([[np.inf, -np.inf, np.nan, 1.0]], np.float32)
    b = np.array([[1.0, np.inf, 2.0, np.inf]], np.float32)
    with np.errstate(invalid="ignore"):
        expected = a + b
    assert_equal(run(tt(nl.add, nl.float32), a, b), expected)


def test_int32_exact_path_wraps_like_32_bit_hardware():
    a = np.array([[2 ** 31 - 1, -2 ** 31, 2 ** 30, 65536]], dtype=np.int32)
    b = np.array([[1, -1, 2 ** 30, 65536]], dtype=np.int32)
    out = run(tt(nl.add, nl.int32), a, b)
    assert_equal(out, (a.astype(np.int64) + b).astype(np.uint64).astype(np.uint32).view(np.int32))
    out = run(tt(nl.multiply, nl.int32), a, b)
    assert_equal(out, (a.astype(np.int64) * b).astype(np.uint64).astype(np.uint32).view(np.int32))


def test_bitvec_on_psum_operands(rng):
    a = rng.integers(0, 2 ** 31, size=(16, 8), dtype=np.int64).astype(np.int32)
    b = rng.integers(0, 2 ** 31, size=(16, 8), dtype=np.int64).astype(np.int32)

    def body(x, y):
        p = psum(x.shape, nl.int32)
        nisa.tensor_copy(p, x)
        d = psum(x.shape, nl.int32)
        nisa.tensor_tensor(d, p, y, nl.bitwise_xor)
        return d
    assert_equal(run(body, a, b), a ^ b)


@pytest.mark.parametrize("buffer", ["sbuf", "psum"])
def test_partial_write_keeps_sentinels(rng, buffer):
    a, b = arith_inputs(rng, (128, 8), F32, F32)
    out = check_partial_write(lambda v, x, y: nisa.tensor_tensor(v, x, y, nl.add), a, b,
                              buffer=getattr(nl, buffer))
    assert_equal(out, a + b)
    ia = rng.integers(-100, 100, size=(128, 8)).astype(np.int32)
    out = check_partial_write(lambda v, x, y: nisa.tensor_tensor(v, x, y, nl.add), ia, ia,
                              dtype=nl.int32)
    assert_equal(out, ia * 2)


@pytest.mark.parametrize("buffer", ["sbuf", "psum"])
def test_reads_sentinels_of_a_fresh_tile(buffer):

    def reader(t):
        one = sbuf(t.shape, t.dtype)
        nisa.memset(one, 1)
        o = sbuf(t.shape, t.dtype)
        nisa.tensor_tensor(o, one, t, nl.add)
        return o
    for out in check_fresh_read(reader, buffer=getattr(nl, buffer)):
        assert all_nan(out)
    for out in check_fresh_read(reader, dtype=nl.int32):
        assert (out == 5).all()


def test_fresh_input_aliasing_the_destination_reads_sentinels():

    def reader(t):
        x = sbuf(t.shape, nl.float32)
        nisa.memset(x, 1.0)
        nisa.tensor_tensor(t, x, t, nl.add)
        return t
    for out in check_fresh_read(reader):
        assert all_nan(out)
