"""nisa.tensor_copy: dst = src element-wise on Vector/Scalar/GpSimd; same dtypes are bit-exact,
different dtypes go through float32; same partition count and elements per partition."""
import ml_dtypes
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import (BF16, F16, F32, FP8_E4M3, I32, NL, assert_equal, cast, dtype_id, psum,
                      random, run, sbuf)
from conftest import all_nan, check_fresh_read, check_partial_write

ENGINES = [nisa.engine.unknown, nisa.engine.vector, nisa.engine.scalar, nisa.engine.gpsimd]


def copy_body(dtype=None, engine=nisa.engine.unknown):
    def body(t):
        o = sbuf(t.shape, dtype or t.dtype)
        nisa.tensor_copy(o, t, engine=engine)
        return o
    return body


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.name)
@pytest.mark.parametrize("dtype", [F32, BF16, F16, I32, np.dtype(np.int8), FP8_E4M3],
                         ids=dtype_id)
def test_same_dtype_is_exact(rng, engine, dtype):
    a = random(rng, (64, 10), dtype, lo=-100, hi=100)
    assert_equal(run(copy_body(engine=engine), a), a)


def test_same_dtype_keeps_bits_of_nan_inf_and_large_ints(rng):
    bits = rng.integers(0, 2 ** 32, size=(32, 16), dtype=np.uint64).astype(np.uint32)
    bits[0, :4] = [0x7FC12345, 0xFF800000, 0x80000000, 0x7F800000]
    assert_equal(run(copy_body(), bits.view(np.float32)).view(np.uint32), bits)
    big = np.array([[2 ** 31 - 1, -2 ** 31, 2 ** 24 + 1, -(2 ** 24) - 1]], dtype=np.int32)
    assert_equal(run(copy_body(engine=nisa.engine.vector), big), big)
    assert_equal(run(copy_body(engine=nisa.engine.gpsimd), big), big)


@pytest.mark.parametrize("src,dst", [(F32, BF16), (F32, F16), (BF16, F32), (F16, BF16),
                                     (F32, FP8_E4M3), (F32, I32), (I32, F32), (BF16, I32),
                                     (I32, BF16), (F32, np.dtype(np.int8))],
                         ids=lambda d: dtype_id(d))
def test_cast_through_float32(rng, src, dst):
    a = random(rng, (32, 16), src, lo=-150, hi=150)
    if np.dtype(src).kind == "f":
        a.flat[:5] = np.array([0.5, 1.5, 2.5, -2.5, 126.5], np.float32).astype(src)
    out = run(copy_body(NL[np.dtype(dst)]), a)
    assert_equal(out, cast(a.astype(np.float32), dst))


def test_int32_to_float_is_lossy_above_2_24():
    a = np.array([[2 ** 24 + 1, 2 ** 25 + 3, -(2 ** 30) - 7, 12345]], dtype=np.int32)
    assert_equal(run(copy_body(nl.float32), a), a.astype(np.float32))


def test_float_to_int_saturates():
    a = np.array([[1e12, -1e12, 300.0, -300.0, np.inf, -np.inf]], dtype=np.float32)
    assert_equal(run(copy_body(nl.int32), a),
                 np.array([[2 ** 31 - 1, -2 ** 31, 300, -300, 2 ** 31 - 1, -2 ** 31]], np.int32))
    assert_equal(run(copy_body(nl.int8), a),
                 np.array([[127, -128, 127, -128, 127, -128]], np.int8))


@pytest.mark.parametrize("shape", [(1, 1), (128, 3), (5, 2, 3, 4)])
def test_shapes(rng, shape):
    a = random(rng, shape, F32)
    assert_equal(run(copy_body(nl.bfloat16), a), a.astype(BF16))


def test_free_dims_may_differ_with_equal_elements_per_partition(rng):
    a = random(rng, (16, 4, 6), F32)

    def body(t):
        o = sbuf((16, 24), nl.float32)
        nisa.tensor_copy(o, t)
        return o
    assert_equal(run(body, a), a.reshape(16, 24))

    def body2(t):
        o = sbuf((16, 3, 2, 4), nl.float16)
        nisa.tensor_copy(o, t)
        return o
    assert_equal(run(body2, a), a.reshape(16, 3, 2, 4).astype(np.float16))


@pytest.mark.parametrize("engine", [nisa.engine.unknown, nisa.engine.vector, nisa.engine.scalar])
def test_psum_eviction_and_psum_destination(rng, engine):
    a = random(rng, (32, 8), F32)

    def body(t):
        p = psum((32, 8))
        nisa.tensor_copy(p, t, engine=engine)  # SBUF -> PSUM
        o = sbuf((32, 8), nl.bfloat16)
        nisa.tensor_copy(o, p, engine=engine)  # PSUM -> SBUF (eviction)
        return o
    assert_equal(run(body, a), a.astype(BF16))


def test_partition_offsets_and_strided_source(rng):
    a = random(rng, (128, 16), F32)

    def body(t):
        o = sbuf((128, 8), nl.float32)
        nisa.memset(o, 0.0)
        nisa.tensor_copy(o[32:64, 0:4], t[32:64, 4:8])
        nisa.tensor_copy(o[64:96, :], t[64:96, ::2])
        nisa.tensor_copy(o[96:128, 0:8], t[96:128, 8:16], engine=nisa.engine.gpsimd)
        return o
    out = run(body, a)
    expected = np.zeros((128, 8), np.float32)
    expected[32:64, 0:4] = a[32:64, 4:8]
    expected[64:96] = a[64:96, ::2]
    expected[96:128] = a[96:128, 8:16]
    assert_equal(out, expected)


def test_copy_to_other_partition_range(rng):
    # Partition i of src goes to partition i of dst, wherever each view starts.
    a = random(rng, (64, 4), F32)

    def body(t):
        o = sbuf((64, 4), nl.float32)
        nisa.tensor_copy(o[0:32, :], t[32:64, :])
        nisa.tensor_copy(o[32:64, :], t[0:32, :])
        return o
    assert_equal(run(body, a), np.concatenate([a[32:64], a[0:32]]))


@pytest.mark.parametrize("target", ["trn2", "trn3"])
def test_scalar_engine_on_trn2_and_trn3(rng, set_target, target):
    set_target(target)
    a = random(rng, (8, 8), F32)
    assert_equal(run(copy_body(nl.float16, engine=nisa.engine.scalar), a), a.astype(np.float16))


def test_trn1_other_engines(rng, set_target):
    set_target("trn1")
    a = random(rng, (8, 8), F32)
    for e in (nisa.engine.vector, nisa.engine.gpsimd, nisa.engine.unknown):
        assert_equal(run(copy_body(engine=e), a), a)


def test_deprecated_engine_aliases_accepted(rng):
    a = random(rng, (8, 8), F32)
    assert_equal(run(copy_body(engine=nisa.vector_engine), a), a)
    assert_equal(run(copy_body(engine=nisa.gpsimd_engine), a), a)
    assert_equal(run(copy_body(engine=nisa.scalar_engine), a), a)


def test_positional_arguments_and_name(rng):
    a = random(rng, (8, 8), F32)

    def body(t):
        o = sbuf(t.shape, nl.float32)
        nisa.tensor_copy(o, t, nisa.engine.vector, "copy0")
        return o
    assert_equal(run(body, a), a)


def test_in_place_copy(rng):
    a = random(rng, (8, 8), F32)

    def body(t):
        nisa.tensor_copy(t, t)
        return t
    assert_equal(run(body, a), a)


def test_plain_kernel_with_nki_jit(rng):
    a = random(rng, (16, 32), BF16)

    @nki.jit
    def kernel(x):
        t = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.sbuf)
        nisa.dma_copy(t, x)
        u = nl.ndarray(x.shape, dtype=nl.float32, buffer=nl.sbuf)
        nisa.tensor_copy(u, t)
        out = nl.ndarray(x.shape, dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, u)
        return out
    assert_equal(nki.simulate(kernel)(a), a.astype(np.float32))


def test_int_to_narrow_int_goes_through_float32_and_saturates():
    a = np.array([[300, -300, 127, -128, 2 ** 30, 5]], dtype=np.int32)
    assert_equal(run(copy_body(nl.int8), a), np.array([[127, -128, 127, -128, 127, 5]], np.int8))
    assert_equal(run(copy_body(nl.uint8), a), np.array([[255, 0, 127, 0, 255, 5]], np.uint8))


@pytest.mark.parametrize("dtype,check", [(nl.float32, np.isnan), (nl.bfloat16, np.isnan),
                                         (nl.int32, lambda x: x == 4)])
def test_fresh_psum_tile_holds_sentinels(dtype, check):
    def body():
        p = psum((16, 8), dtype)
        o = sbuf((16, 8), dtype)
        nisa.tensor_copy(o, p)
        return o
    out = run(body)
    assert check(out.astype(np.float32) if out.dtype.kind != "i" else out).all()


def test_explicit_address_placement_and_aliasing(rng):
    # address=(partition, byte offset) pins the tile; two tiles at one address share storage.
    a = random(rng, (32, 8), F32)

    def body(x):
        t1 = nl.ndarray((32, 8), dtype=nl.float32, buffer=nl.sbuf, address=(64, 256))
        t2 = nl.ndarray((32, 8), dtype=nl.float32, buffer=nl.sbuf, address=(64, 256))
        nisa.tensor_copy(t1, x)
        o = sbuf((32, 8), nl.float32)
        nisa.tensor_copy(o, t2)
        return o
    assert_equal(run(body, a), a)


def test_explicit_address_placement(rng):
    a = random(rng, (32, 8), F32)

    def body(x):
        t = nl.ndarray((32, 8), dtype=nl.float32, buffer=nl.sbuf, address=(64, 256))
        nisa.tensor_copy(t, x)
        o = sbuf((32, 8), nl.float32)
        nisa.tensor_copy(o, t)
        return o
    assert_equal(run(body, a), a)


@pytest.mark.parametrize("seed", range(20))
def test_random_strided_views_match_numpy(seed):
    rng = np.random.default_rng(100 + seed)
    dtype = [F32, BF16, I32, np.dtype(np.int8)][seed % 4]
    src = random(rng, (64, 6, 10), dtype, lo=-50, hi=50)

    def rslice(n):
        step = int(rng.integers(1, 4))
        start = int(rng.integers(0, n))
        return slice(start, int(rng.integers(start + 1, n + 1)), step)
    p = int(rng.integers(1, 33))
    ps = int(rng.integers(0, 64 - p + 1))
    s1, s2 = rslice(6), rslice(10)
    view = src[ps:ps + p, s1, s2]
    n1, n2 = view.shape[1], view.shape[2]
    dst_p0 = int(rng.integers(0, 128 - p + 1))
    engine = [nisa.engine.vector, nisa.engine.gpsimd, nisa.engine.scalar][seed % 3]

    def body(x):
        o = sbuf((128, n1, 2 * n2), x.dtype)
        nisa.memset(o, 0)
        nisa.tensor_copy(o[dst_p0:dst_p0 + p, :, ::2], x[ps:ps + p, s1, s2], engine=engine)
        return o
    out = run(body, src)
    expected = np.zeros((128, n1, 2 * n2), dtype)
    expected[dst_p0:dst_p0 + p, :, ::2] = view
    assert_equal(out, expected)


def tf32(x):
    """Round float32 values to tfloat32 (10 mantissa bits), nearest even; NaN/inf kept."""
    b = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    r = ((b + 0xFFF + ((b >> 13) & 1)) & 0xFFFFE000).astype(np.uint32)
    special = (b & 0x7F800000) == 0x7F800000
    return np.where(special, b.astype(np.uint32), r).view(np.float32)


def test_float32_to_tfloat32_rounds_mantissa(rng):
    a = random(rng, (16, 32), F32, lo=-1000, hi=1000)
    a.flat[:4] = np.array([1 + 2 ** -11, 1 + 3 * 2 ** -11, np.inf, -np.inf], np.float32)

    def body(x):
        t = sbuf(x.shape, nl.tfloat32)
        nisa.tensor_copy(t, x)
        return t
    out = run(body, a)
    assert out.dtype == np.float32  # tfloat32 arrays come back in a float32 container
    assert_equal(out, tf32(a))


@pytest.mark.parametrize("engine", [nisa.engine.vector, nisa.engine.gpsimd, nisa.engine.scalar],
                         ids=lambda e: e.name)
def test_partial_write_keeps_sentinels(rng, engine):
    a = random(rng, (128, 8), F32)

    def writer(view, t):
        nisa.tensor_copy(view, t, engine=engine)
    assert_equal(check_partial_write(writer, a), a)
    if engine != nisa.engine.gpsimd:
        assert_equal(check_partial_write(writer, a, buffer=nl.psum), a)
    assert_equal(check_partial_write(writer, a, dtype=nl.bfloat16), a.astype(BF16))


@pytest.mark.parametrize("buffer", ["sbuf", "psum"])
def test_reads_sentinels_of_a_fresh_tile(buffer):

    def reader(t):
        o = sbuf(t.shape, nl.float32)
        nisa.tensor_copy(o, t)
        return o
    for out in check_fresh_read(reader, buffer=getattr(nl, buffer)):
        assert all_nan(out)
    for out in check_fresh_read(reader, dtype=nl.int32, buffer=getattr(nl, buffer)):
        assert (out == 4).all()


@pytest.mark.parametrize("dst", [BF16, F16, FP8_E4M3, np.dtype(ml_dtypes.float8_e5m2)],
                         ids=dtype_id)
def test_cast_of_special_values(dst):
    a = np.array([[np.nan, np.inf, -np.inf, 1e6, -1e6, 1e-8, 1e-40, -0.0, 65520.0, 3.0e38]],
                 np.float32)
    with np.errstate(over="ignore"):
        expected = a.astype(dst)
    assert_equal(run(copy_body(NL[np.dtype(dst)]), a), expected)


def test_address_alias_of_an_auto_placed_tile_shares_its_bytes(rng):
    # An auto-placed SBUF tile keeps its rows in host memory of its own; a tile placed later with
    # address= over part of its rectangle must share those bytes both ways. (Allocating the alias
    # refills the overlap with sentinels, as for any fresh tile, whatever the layout.)
    a, b, c = (random(rng, (32, 8), F32) for _ in range(3))

    def body(x, y, z):
        t = sbuf((32, 8), nl.float32)
        nisa.tensor_copy(t, x)
        p0, _, off, _ = t._alloc_rect
        alias = nl.ndarray((16, 4), dtype=nl.float32, buffer=nl.sbuf, address=(p0 + 8, off + 8))
        nisa.tensor_copy(alias, y[0:16, 0:4])          # a write through the alias ...
        after = sbuf((32, 8), nl.float32)
        nisa.tensor_copy(after, t)                     # ... is seen by the tile
        nisa.tensor_copy(t[8:24, 2:6], z[0:16, 0:4])   # and a write to the tile ...
        seen = sbuf((16, 4), nl.float32)
        nisa.tensor_copy(seen, alias)                  # ... through the alias
        return after, seen
    after, seen = run(body, a, b, c)
    want = a.copy()
    want[8:24, 2:6] = b[0:16, 0:4]
    assert_equal(after, want)
    assert_equal(seen, c[0:16, 0:4])


def test_tile_layout_does_not_change_results(rng):
    # Rows of its own (auto placement) or the space's map at an unaligned offset (address=): the
    # same activation and row reduction give the same bits (sums in a fixed order, every element
    # through the same vector functions).
    a = random(rng, (64, 37), F32, lo=-3, hi=3)

    def body(x):
        outs = []
        for t in (sbuf((64, 37), nl.float32),
                  nl.ndarray((64, 37), dtype=nl.float32, buffer=nl.sbuf, address=(0, 65536 + 4)),
                  nl.ndarray((64, 37), dtype=nl.float32, buffer=nl.sbuf, address=(0, 98304 + 12))):
            nisa.dma_copy(t, x)
            d = sbuf((64, 37), nl.float32)
            r = sbuf((64, 1), nl.float32)
            nisa.activation(d, nl.exp, t, scale=0.5, reduce_op=nl.add, reduce_res=r,
                            reduce_cmd=nisa.reduce_cmd.reset_reduce)
            s = sbuf((64, 1), nl.float32)
            nisa.tensor_reduce(s, nl.add, t, axis=1)
            outs += [d, r, s]
            del t
        return tuple(outs)
    outs = run(body, a)
    for i in range(3):
        np.testing.assert_allclose(outs[i], [np.exp(0.5 * a), np.exp(0.5 * a).sum(1, keepdims=True),
                                             a.sum(1, keepdims=True)][i], rtol=1e-5, atol=1e-5)
        assert_equal(outs[3 + i], outs[i])
        assert_equal(outs[6 + i], outs[i])


def test_tiles_freed_and_reallocated_keep_their_own_bytes():
    # Tiles with rows of their own come from the space's tile heap (first fit, freed ranges
    # coalesced): many tiles of mixed sizes, some freed and replaced, must never share bytes.
    rng = np.random.default_rng(7)
    shapes = [(int(rng.integers(1, 129)), int(rng.integers(1, 600))) for _ in range(120)]

    def body(x):
        live = {}
        for i, s in enumerate(shapes):
            t = sbuf(s, nl.float32)
            nisa.memset(t, float(i))
            live[i] = t
            if i % 3 == 2:                       # free a third of them along the way
                del live[i - 2]
        return tuple(live.values())
    outs = run(body, np.zeros((1, 1), np.float32))
    kept = [i for i in range(len(shapes)) if i % 3 != 0]
    assert len(outs) == len(kept)
    for i, o in zip(kept, outs):
        assert o.shape == shapes[i] and (o == float(i)).all(), i
