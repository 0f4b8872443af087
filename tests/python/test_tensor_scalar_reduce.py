"""nisa.tensor_scalar_reduce: dst = data op0 operand0 (float32 math, one rounding on write) and
reduce_res[p, 0] = reduce_op folded over every free element of the float32 results of partition p
(add, subtract, multiply, maximum, minimum). reverse0 is "not supported yet" in 0.3.0."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from _issue7 import ALU_REF, fails
from conftest import BF16, F32, NL, assert_close, assert_equal, cast, random, run, sbuf

FOLD = {"add": lambda x: x.sum(axis=1), "multiply": lambda x: x.prod(axis=1),
        "maximum": lambda x: x.max(axis=1), "minimum": lambda x: x.min(axis=1),
        "subtract": lambda x: x[:, 0] - x[:, 1:].sum(axis=1)}


def body_for(out_dtype, op0, operand0, reduce_op, res_dtype=nl.float32):
    def body(a, *vec):
        o = sbuf(a.shape, out_dtype)
        r = sbuf((a.shape[0], 1), res_dtype)
        nisa.tensor_scalar_reduce(o, a, getattr(nl, op0), vec[0] if vec else operand0,
                                  getattr(nl, reduce_op), r)
        return o, r
    return body


@pytest.mark.parametrize("reduce_op", sorted(FOLD))
@pytest.mark.parametrize("shape", [(128, 40), (37, 5), (9, 2, 3)])
def test_each_reduce_op(rng, reduce_op, shape):
    a = random(rng, shape, F32, 0.5, 1.5)
    o, r = run(body_for(nl.float32, "multiply", 1.25, reduce_op), a)
    t = (a * np.float32(1.25)).astype(np.float32)
    assert_equal(o, t)
    expected = FOLD[reduce_op](t.reshape(shape[0], -1).astype(np.float64)).reshape(-1, 1)
    assert_close(r, expected, rtol=1e-5, atol=1e-5)


def test_vector_operand_long_rows_and_bf16(rng):
    a = random(rng, (64, 3000), BF16, -2, 2)
    v = random(rng, (64, 1), F32, -1, 1)
    o, r = run(body_for(nl.bfloat16, "subtract", None, "maximum", nl.float32), a, v)
    t = (a.astype(np.float32) - v).astype(np.float32)
    assert_equal(o, cast(t, BF16))
    assert_equal(r, t.max(axis=1, keepdims=True))


# ---------------------------------------------------------------- bad input
def t(shape, dtype=nl.float32):
    x = sbuf(shape, dtype)
    nisa.memset(x, 0)
    return x


def test_rejects_reverse0():
    fails(lambda: nisa.tensor_scalar_reduce(t((16, 8)), t((16, 8)), nl.subtract, 1.0, nl.add,
                                            t((16, 1)), reverse0=True),
          r"nki\.isa\.tensor_scalar_reduce: reverse0: is not supported yet")


def test_rejects_reduce_op():
    fails(lambda: nisa.tensor_scalar_reduce(t((16, 8)), t((16, 8)), nl.add, 1.0, nl.greater,
                                            t((16, 1))),
          r"tensor_scalar_reduce: reduce_op: must be nl\.add, nl\.subtract, nl\.multiply, "
          r"nl\.maximum or nl\.minimum, found greater")


def test_rejects_reduce_res_shape():
    fails(lambda: nisa.tensor_scalar_reduce(t((16, 8)), t((16, 8)), nl.add, 1.0, nl.add,
                                            t((16, 2))),
          r"tensor_scalar_reduce: reduce_res: must have shape \(16, 1\)")


def test_rejects_bitvec_op0():
    fails(lambda: nisa.tensor_scalar_reduce(t((16, 8), nl.int32), t((16, 8), nl.int32),
                                            nl.bitwise_and, 1, nl.add, t((16, 1))),
          r"tensor_scalar_reduce: op0: must be an arithmetic ALU operator")


def test_rejects_non_fp32_vector_operand():
    fails(lambda: nisa.tensor_scalar_reduce(t((16, 8)), t((16, 8)), nl.add, t((16, 1), nl.bfloat16),
                                            nl.add, t((16, 1))),
          r"tensor_scalar_reduce: operand0: a vector operand of an arithmetic op must be float32")
