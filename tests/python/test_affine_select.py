"""nisa.affine_select (GpSimd, SBUF): v = offset + p * channel_multiplier + sum(index_k * step_k)
over the pattern; dst = cmp_op(v, 0) ? on_true_tile : on_false_value (through float32 when the
dtypes differ). Typical use: causal masks."""
import numpy as np
import pytest

import nki.isa as nisa
import nki.language as nl
from _issue7 import fails
from conftest import BF16, F32, NL, assert_equal, cast, random, run, sbuf

CMP = {"equal": np.equal, "not_equal": np.not_equal, "less": np.less, "less_equal": np.less_equal,
       "greater": np.greater, "greater_equal": np.greater_equal}


def affine_ref(x, pattern, cm, fill, cmp, offset):
    P = x.shape[0]
    grids = np.meshgrid(*[np.arange(n) for _, n in pattern], indexing="ij")
    v = offset + sum(g * s for g, (s, _) in zip(grids, pattern)).reshape(-1)
    v = v[None, :] + np.arange(P)[:, None] * cm
    m = CMP[cmp](v, 0).reshape(x.shape)
    return np.where(m, x.astype(np.float32), np.float32(fill)).astype(np.float32)


@pytest.mark.parametrize("cmp", sorted(CMP))
def test_causal_mask_each_comparison(rng, cmp):
    x = random(rng, (128, 128), F32)

    def body(a):
        o = sbuf((128, 128), nl.float32)
        nisa.affine_select(o, [[-1, 128]], 1, a, -9984.0, cmp_op=getattr(nl, cmp))
        return o
    assert_equal(run(body, x), affine_ref(x, [[-1, 128]], 1, -9984.0, cmp, 0))


@pytest.mark.parametrize("shape,pattern,cm,offset", [
    ((37, 5), [[1, 5]], -1, 3),
    ((16, 4, 6), [[6, 4], [-1, 6]], 2, -5),
    ((8, 2, 3, 2, 2), [[1, 2], [2, 3], [-3, 2], [1, 2]], -3, 7),
])
def test_multi_dim_patterns(rng, shape, pattern, cm, offset):
    x = random(rng, shape, F32)

    def body(a):
        o = sbuf(shape, nl.float32)
        nisa.affine_select(o, pattern, cm, a, 0.5, cmp_op=nl.greater_equal, offset=offset)
        return o
    assert_equal(run(body, x), affine_ref(x, pattern, cm, 0.5, "greater_equal", offset))


def test_default_cmp_is_equal_and_dtype_cast(rng):
    x = random(rng, (32, 32), F32)

    def body(a):
        o = sbuf((32, 32), nl.bfloat16)
        nisa.affine_select(o, [[1, 32]], -1, a, 0.0)   # the identity-matrix idiom
        return o
    assert_equal(run(body, x), cast(affine_ref(x, [[1, 32]], -1, 0.0, "equal", 0), BF16))


def test_partial_partitions_count_channels_from_the_view(rng):
    x = random(rng, (128, 16), F32)

    def body(a):
        o = sbuf((64, 16), nl.float32)
        nisa.affine_select(o, [[-1, 16]], 1, a[32:96], -1.0, cmp_op=nl.greater_equal)
        return o
    assert_equal(run(body, x), affine_ref(x[32:96], [[-1, 16]], 1, -1.0, "greater_equal", 0))


# ---------------------------------------------------------------- bad input
def t(shape, dtype=nl.float32, buf=nl.sbuf):
    x = nl.ndarray(shape, dtype=dtype, buffer=buf)
    nisa.memset(x, 0)
    return x


def test_rejects_psum():
    fails(lambda: nisa.affine_select(t((16, 8)), [[1, 8]], 1, t((16, 8), buf=nl.psum), 0.0),
          r"nki\.isa\.affine_select: on_true_tile: must be in sbuf")


def test_rejects_pattern_size():
    fails(lambda: nisa.affine_select(t((16, 8)), [[1, 4]], 1, t((16, 8)), 0.0),
          r"affine_select: pattern: describes 4 elements per partition but dst \[16, 8\] has 8")
    fails(lambda: nisa.affine_select(t((16, 8)), [[1, 2]] * 5, 1, t((16, 8)), 0.0),
          r"affine_select: pattern: needs 1 to 4 \[step, num\] pairs")


def test_rejects_non_comparison_and_missing_channel_multiplier():
    fails(lambda: nisa.affine_select(t((16, 8)), [[1, 8]], 1, t((16, 8)), 0.0, cmp_op=nl.add),
          r"affine_select: cmp_op: must be a comparison operator")
    with pytest.raises(TypeError, match="channel_multiplier"):
        nisa.affine_select(None, [[1, 8]])


def test_rejects_layout():
    fails(lambda: nisa.affine_select(t((8, 8)), [[1, 8]], 1, t((16, 8)), 0.0),
          r"affine_select: dst: partition dimension 8 .* must equal that of on_true_tile, 16")


@pytest.mark.parametrize("cmp", sorted(CMP))
@pytest.mark.parametrize("step,cm,offset", [(0, 1, -5), (2, -3, 7), (-3, 2, 11), (1, 0, 0),
                                            (5, 1, -40), (2**20, 2**10, -2**30)])
def test_one_dim_patterns_every_step_sign(rng, cmp, step, cm, offset):
    x = random(rng, (24, 19), F32)

    def body(a):
        o = sbuf((24, 19), nl.float32)
        nisa.affine_select(o, [[step, 19]], cm, a, -2.0, cmp_op=getattr(nl, cmp), offset=offset)
        return o
    assert_equal(run(body, x), affine_ref(x, [[step, 19]], cm, -2.0, cmp, offset))
