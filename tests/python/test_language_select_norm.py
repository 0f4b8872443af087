"""nki.language functions built from the issue-7 instructions: floor, ceil, trunc, cos, tan,
divide, fmod, mod, where, broadcast_to, expand_dims, var, rms_norm, softmax over trailing axes.
References are numpy written from the 0.3.0 docstrings."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import BF16, F32, assert_close, assert_equal, cast, kernel_raises, random, run


@pytest.fixture
def x(rng):
    a = random(rng, (37, 45), F32, -6, 6)
    a[0, :8] = [0.5, -0.5, 1.5, -2.5, 3e7, -3e7, -0.0, 2.0]
    return a


@pytest.mark.parametrize("name,ref", [("floor", np.floor), ("ceil", np.ceil), ("trunc", np.trunc)])
def test_rounding_functions_are_exact(x, name, ref):
    assert_equal(run(getattr(nl, name), x), ref(x))


def test_rounding_keeps_inf_and_nan_and_casts(x):
    x[1, :3] = [np.inf, -np.inf, np.nan]
    out = run(lambda t: nl.floor(t, dtype=nl.bfloat16), x)
    assert_equal(out, cast(np.floor(x), BF16))


@pytest.mark.parametrize("name,ref", [("cos", np.cos), ("tan", np.tan)])
def test_trig(rng, name, ref):
    a = random(rng, (64, 33), F32, -1.4, 1.4)
    assert_close(run(getattr(nl, name), a), ref(a.astype(np.float64)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,ref", [("divide", np.divide), ("fmod", np.fmod), ("mod", np.mod)])
def test_division_family_tiles_and_scalars(rng, name, ref):
    a = random(rng, (16, 40), F32, -20, 20)
    b = random(rng, (16, 40), F32, 0.5, 3) * np.where(rng.uniform(size=(16, 40)) < 0.5, -1, 1).astype(np.float32)
    f = getattr(nl, name)
    assert_close(run(f, a, b), ref(a.astype(np.float64), b), rtol=1e-5, atol=2e-5)
    assert_close(run(lambda t: f(t, 2.5), a), ref(a.astype(np.float64), 2.5), rtol=1e-5, atol=2e-5)
    assert_close(run(lambda t: f(7.0, t), b), ref(7.0, b.astype(np.float64)), rtol=1e-5, atol=2e-5)


def test_where_tiles_scalars_and_dtype(rng):
    c = (rng.uniform(size=(32, 20)) < 0.5).astype(np.float32)
    a = random(rng, (32, 20), F32)
    b = random(rng, (32, 20), BF16)
    assert_equal(run(nl.where, c, a, b.astype(np.float32)), np.where(c != 0, a, b.astype(np.float32)))
    assert_equal(run(lambda k, t: nl.where(k, t, -1.0), c, a), np.where(c != 0, a, np.float32(-1)))
    assert_equal(run(lambda k, t: nl.where(k, 3.0, t, dtype=nl.bfloat16), c, b),
                 cast(np.where(c != 0, np.float32(3), b.astype(np.float32)), BF16))


@pytest.mark.parametrize("src,dst", [((1, 700), (128, 700)), ((16, 1), (16, 33)),
                                     ((1, 1), (5, 7)), ((4, 1, 6), (4, 3, 6)), ((1, 3, 1), (8, 3, 5))])
def test_broadcast_to(rng, src, dst):
    a = random(rng, src, BF16)
    assert_equal(run(lambda t: nl.broadcast_to(t, dst), a), np.broadcast_to(a, dst).copy())


def test_broadcast_to_same_shape_returns_x_and_rejects_bad_shapes(rng):
    a = random(rng, (4, 6), F32)
    seen = {}

    def body(t):
        seen["same"] = nl.broadcast_to(t, (4, 6)) is t
        return nl.broadcast_to(t, (4, 6), dtype=nl.bfloat16)
    assert_equal(run(body, a), cast(a, BF16))
    assert seen["same"]

    def bad(t):
        with kernel_raises(nisa.NkiValidationError, match=r"nl\.broadcast_to: cannot broadcast"):
            nl.broadcast_to(t, (8, 6))
        return t
    run(bad, a)


def test_expand_dims_is_a_view(rng):
    a = random(rng, (8, 5), F32)
    assert_equal(run(lambda t: nl.expand_dims(t, 1), a), a[:, None, :])
    assert_equal(run(lambda t: nl.expand_dims(t, -1), a), a[:, :, None])


@pytest.mark.parametrize("shape,axis", [((37, 45), 1), ((8, 3, 700), 2), ((8, 3, 50), (1, 2))])
def test_var_population_keepdims_shape(rng, shape, axis):
    a = random(rng, shape, F32, -3, 3)
    ax = (axis,) if isinstance(axis, int) else axis
    out = run(lambda t: nl.var(t, axis=axis), a)
    assert_close(out, a.astype(np.float64).var(axis=ax, keepdims=True), rtol=1e-4, atol=1e-5)


def test_var_rejects_partition_axis(rng):
    a = random(rng, (8, 4), F32)

    def body(t):
        with kernel_raises(nisa.NkiValidationError, match=r"nl\.var: axis 0 must be the last"):
            nl.var(t, axis=0)
        return t
    run(body, a)


@pytest.mark.parametrize("wshape", [(64, 96), (1, 96)])
def test_rms_norm(rng, wshape):
    a = random(rng, (64, 96), F32, -2, 2)
    w = random(rng, wshape, F32, -1, 1)
    out = run(lambda t, u: nl.rms_norm(t, u, axis=1, n=96, epsilon=1e-5), a, w)
    a64 = a.astype(np.float64)
    ref = a64 / np.sqrt((a64 ** 2).sum(1, keepdims=True) / 96 + 1e-5) * w
    assert_close(out, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape,axis", [((16, 3, 40), 2), ((16, 3, 40), (1, 2)), ((16, 2, 3, 4), 3),
                                        ((16, 50), -1)])
def test_softmax_trailing_axes(rng, shape, axis):
    a = random(rng, shape, F32, -3, 3)
    ax = (axis,) if isinstance(axis, int) else axis
    a64 = a.astype(np.float64)
    e = np.exp(a64 - a64.max(axis=ax, keepdims=True))
    assert_close(run(lambda t: nl.softmax(t, axis=axis), a), e / e.sum(axis=ax, keepdims=True),
                 rtol=1e-5, atol=1e-7)


def test_softmax_rejects_non_trailing_axes(rng):
    a = random(rng, (8, 3, 4), F32)

    def body(t):
        with kernel_raises(nisa.NkiValidationError, match=r"nl\.softmax: axis 1 must be the last"):
            nl.softmax(t, axis=1)
        return t
    run(body, a)
