"""nisa.tensor_copy_predicated: dst = src where predicate is nonzero (zero with reverse_pred),
dst unchanged elsewhere; src a tile of dst's dtype (copied bit for bit) or a number."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from _issue7 import fails
from conftest import BF16, F32, I32, NL, assert_equal, cast, psum, random, run, sbuf


@pytest.mark.parametrize("dtype", [F32, BF16, I32], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(128, 40), (37, 5), (4, 3, 5)])
@pytest.mark.parametrize("reverse", [False, True])
def test_tile_src(rng, dtype, shape, reverse):
    d0 = random(rng, shape, dtype)
    s = random(rng, shape, dtype)
    pred = rng.integers(0, 3, size=shape).astype(np.uint16)

    def body(d, src, p):
        nisa.tensor_copy_predicated(d, src, p, reverse_pred=reverse)
        return d
    m = (pred != 0) != reverse
    assert_equal(run(body, d0, s, pred), np.where(m, s, d0))


def test_scalar_src_through_a_psum_cast_predicate(rng):
    d0 = random(rng, (16, 8), F32)
    pred = rng.integers(0, 2, size=(16, 8)).astype(np.float32)

    def body(d, p):
        q = psum((16, 8), nl.float32)
        nisa.tensor_copy(q, p)
        u = sbuf((16, 8), nl.uint8)
        nisa.tensor_copy(u, q)
        nisa.tensor_copy_predicated(d, -2.5, u)
        return d
    assert_equal(run(body, d0, pred), np.where(pred != 0, np.float32(-2.5), d0))


def test_nan_bits_pass_unchanged(rng):
    d0 = np.zeros((4, 4), np.float32)
    s = np.full((4, 4), np.nan, np.float32).view(np.uint32)
    s[:] = 0x7FC00123
    s = s.view(np.float32)
    pred = np.ones((4, 4), np.uint8)

    def body(d, src, p):
        nisa.tensor_copy_predicated(d, src, p)
        return d
    out = run(body, d0, s, pred)
    assert (out.view(np.uint32) == 0x7FC00123).all()


# ---------------------------------------------------------------- bad input
def t(shape, dtype=nl.float32, buf=nl.sbuf):
    x = nl.ndarray(shape, dtype=dtype, buffer=buf)
    nisa.memset(x, 0)
    return x


def test_rejects_signed_or_float_predicate():
    fails(lambda: nisa.tensor_copy_predicated(t((16, 8)), t((16, 8)), t((16, 8), nl.int8)),
          r"nki\.isa\.tensor_copy_predicated: predicate: dtype must be uint8, uint16 or uint32, found int8")


def test_rejects_dtype_mismatch():
    fails(lambda: nisa.tensor_copy_predicated(t((16, 8)), t((16, 8), nl.bfloat16), t((16, 8), nl.uint8)),
          r"tensor_copy_predicated: src: must have the dtype of dst \(float32\), found bfloat16")


def test_rejects_shapes_and_psum_pair():
    fails(lambda: nisa.tensor_copy_predicated(t((16, 8)), t((16, 4)), t((16, 8), nl.uint8)),
          r"tensor_copy_predicated: src: 4 elements per partition .* must equal those of dst")
    fails(lambda: nisa.tensor_copy_predicated(t((16, 8)), t((16, 8), buf=nl.psum),
                                              t((16, 8), nl.uint8, nl.psum)),
          r"tensor_copy_predicated: src: src and predicate cannot both be in psum")
