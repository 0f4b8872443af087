"""nisa.tensor_partition_reduce (GpSimd): dst[0, f] = op over the partitions of data[:, f];
op in add, maximum, bitwise_or, bitwise_and; SBUF only."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from _issue7 import fails
from conftest import BF16, F32, I32, assert_close, assert_equal, cast, random, run, sbuf


@pytest.mark.parametrize("op,ref", [("add", np.sum), ("maximum", np.max)])
@pytest.mark.parametrize("shape", [(128, 32, 4), (37, 5), (1, 9)])
def test_float_ops(rng, op, ref, shape):
    x = random(rng, shape, F32)

    def body(a):
        o = sbuf((1,) + shape[1:], nl.float32)
        nisa.tensor_partition_reduce(o, getattr(nl, op), a)
        return o
    assert_close(run(body, x), ref(x.astype(np.float64), axis=0, keepdims=True), rtol=1e-5,
                 atol=1e-5)


@pytest.mark.parametrize("op,ref", [("bitwise_or", np.bitwise_or.reduce),
                                    ("bitwise_and", np.bitwise_and.reduce),
                                    ("add", np.sum)])
def test_integer_ops_are_exact(rng, op, ref):
    x = rng.integers(-2**30, 2**30, size=(64, 17)).astype(np.int32)
    if op == "add":
        x //= 64

    def body(a):
        o = sbuf((1, 17), nl.int32)
        nisa.tensor_partition_reduce(o, getattr(nl, op), a)
        return o
    assert_equal(run(body, x), ref(x, axis=0, keepdims=True).astype(np.int32))


def test_bf16_out(rng):
    x = random(rng, (16, 8), F32)

    def body(a):
        o = sbuf((1, 8), nl.bfloat16)
        nisa.tensor_partition_reduce(o, nl.maximum, a)
        return o
    assert_equal(run(body, x), cast(x.max(axis=0, keepdims=True), BF16))


def t(shape, dtype=nl.float32, buf=nl.sbuf):
    x = nl.ndarray(shape, dtype=dtype, buffer=buf)
    nisa.memset(x, 0)
    return x


def test_rejects_op():
    fails(lambda: nisa.tensor_partition_reduce(t((1, 8)), nl.multiply, t((16, 8))),
          r"nki\.isa\.tensor_partition_reduce: op: must be nl\.add, nl\.maximum, nl\.bitwise_or "
          r"or nl\.bitwise_and, found multiply")


def test_rejects_dst_partitions_and_size():
    fails(lambda: nisa.tensor_partition_reduce(t((2, 8)), nl.add, t((16, 8))),
          r"tensor_partition_reduce: dst: must have 1 partition")
    fails(lambda: nisa.tensor_partition_reduce(t((1, 4)), nl.add, t((16, 8))),
          r"tensor_partition_reduce: dst: 4 elements per partition .* must equal those of data, 8")


def test_rejects_psum_and_float_bitvec():
    fails(lambda: nisa.tensor_partition_reduce(t((1, 8)), nl.add, t((16, 8), buf=nl.psum)),
          r"tensor_partition_reduce: data: must be in sbuf")
    fails(lambda: nisa.tensor_partition_reduce(t((1, 8)), nl.bitwise_or, t((16, 8))),
          r"tensor_partition_reduce: dst: bitvec op bitwise_or needs integer dtypes")
