"""nisa.dma_transpose and nl.load_transpose2d."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import BF16

PERM = {2: (1, 0), 3: (2, 1, 0), 4: (3, 1, 2, 0)}


@pytest.mark.parametrize("shape", [(16, 128), (7, 33), (4, 6, 8), (2, 3, 5, 16)])
@pytest.mark.parametrize("dtype", [np.float32, BF16, np.int16, np.uint32], ids=str)
@pytest.mark.parametrize("where", ["hbm", "sbuf"])
@pytest.mark.parametrize("explicit", [False, True])
def test_transpose(rng, shape, dtype, where, explicit):
    a = (rng.random(shape) * 100).astype(dtype)
    perm = PERM[len(shape)]
    tshape = tuple(shape[i] for i in perm)

    def k(a):
        src = a
        if where == "sbuf":
            src = nl.ndarray(a.shape, dtype=a.dtype, buffer=nl.sbuf)
            nisa.dma_copy(src, a)
        dst = nl.ndarray(tshape, dtype=a.dtype, buffer=nl.sbuf)
        nisa.dma_transpose(dst, src, axes=perm if explicit else None)
        out = nl.ndarray(tshape, dtype=a.dtype, buffer=nl.shared_hbm)
        nisa.dma_copy(out, dst)
        return out

    np.testing.assert_array_equal(nki.simulate(k)(a).view(np.uint8),
                                  np.ascontiguousarray(a.transpose(perm)).view(np.uint8))


def test_lower_rank_dst_is_accepted_as_in_030(rng):
    a = rng.random((2, 4, 8), dtype=np.float32)

    def k(a):
        dst = nl.ndarray((8, 8), dtype=nl.float32, buffer=nl.sbuf)  # (8, 4, 2) flattened to 2-D
        nisa.dma_transpose(dst, a)
        out = nl.ndarray((8, 8), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, dst)
        return out

    np.testing.assert_array_equal(nki.simulate(k)(a), a.transpose(2, 1, 0).reshape(8, 8))


@pytest.mark.parametrize("mode", ["unknown", "none", "hwdge", 3], ids=str)
def test_direct_transpose_dge_modes(rng, mode):
    """A direct transpose takes dge_mode unknown, none (static descriptors: the 0.3.0 DGE guide's
    mode table; nki-library transposes its gate/up bias with the raw value 3) or hwdge."""
    a = rng.random((16, 128), dtype=np.float32).astype(BF16)
    dge = mode if isinstance(mode, int) else getattr(nisa.dge_mode, mode)

    def k(a):
        dst = nl.ndarray((128, 16), dtype=a.dtype, buffer=nl.sbuf)
        nisa.dma_transpose(dst, a, dge_mode=dge)
        out = nl.ndarray((128, 16), dtype=a.dtype, buffer=nl.shared_hbm)
        nisa.dma_copy(out, dst)
        return out

    np.testing.assert_array_equal(nki.simulate(k)(a).view(np.uint16), a.T.view(np.uint16))


def test_load_transpose2d(rng):
    a = rng.random((64, 96), dtype=np.float32)

    def k(a):
        t = nl.load_transpose2d(a)
        u = nl.load_transpose2d(a, dtype=nl.bfloat16)
        o1 = nl.ndarray(t.shape, dtype=t.dtype, buffer=nl.shared_hbm)
        o2 = nl.ndarray(u.shape, dtype=u.dtype, buffer=nl.shared_hbm)
        nisa.dma_copy(o1, t)
        nisa.dma_copy(o2, u)
        return o1, o2

    o1, o2 = nki.simulate(k)(a)
    np.testing.assert_array_equal(o1, a.T)
    np.testing.assert_array_equal(o2, a.T.astype(BF16))


def test_bad_uses(set_target):
    def run(src_shape, dst_shape, dtype=nl.float32, dst_dtype=None, **kw):
        def k(a):
            s = nl.ndarray(src_shape, dtype=dtype, buffer=nl.sbuf)
            nisa.memset(s, 0)
            d = nl.ndarray(dst_shape, dtype=dst_dtype or dtype, buffer=nl.sbuf)
            nisa.dma_transpose(d, s, **kw)
        nki.simulate(k)(np.zeros(1, np.float32))

    with pytest.raises(nisa.NkiValidationError, match=r"dma_transpose: axes: a 2-D transpose supports only axes=\(1, 0\)"):
        run((4, 8), (8, 4), axes=(0, 1))
    with pytest.raises(nisa.NkiValidationError, match=r"dma_transpose: dst: must have the transposed shape \[8, 4\]"):
        run((4, 8), (4, 8))
    with pytest.raises(nisa.NkiValidationError, match=r"dma_transpose: dst: must have src's dtype"):
        run((4, 8), (8, 4), dst_dtype=nl.bfloat16)
    with pytest.raises(nisa.NkiValidationError, match=r"dma_transpose: src: the DMA transposes 2- and 4-byte"):
        run((4, 8), (8, 4), dtype=nl.int8)
    with pytest.raises(nisa.NkiValidationError, match=r"hwdge transposes need src.shape\[0\] == 16"):
        run((4, 128), (128, 4), dtype=nl.bfloat16, dge_mode=nisa.dge_mode.hwdge)
    with pytest.raises(nisa.NkiValidationError, match=r"dma_transpose: dge_mode: a direct transpose "
                                                      r"takes dge_mode unknown, none or hwdge"):
        run((4, 8), (8, 4), dge_mode=nisa.dge_mode.swdge)
    with pytest.raises(nisa.NkiValidationError, match=r"oob_mode.skip is only valid"):
        run((4, 8), (8, 4), oob_mode=nisa.oob_mode.skip)
    with pytest.raises(nisa.NkiValidationError, match=r"dma_transpose: src: must have 2, 3 or 4"):
        run((4, 2, 2, 2, 2), (2, 2, 2, 2, 4))
    set_target("trn1")
    with pytest.raises(nisa.NkiValidationError, match=r"dma_transpose: is not available on trn1"):
        run((4, 8), (8, 4))


@pytest.mark.parametrize("R,F,K", [(16, 32, 1), (64, 128, 1), (128, 16, 1), (256, 8, 2)])
@pytest.mark.parametrize("oob", ["error", "skip"])
def test_indirect_transpose(rng, R, F, K, oob):
    # dst = table[indices.T.flatten()[:R], :].T, indices a 2-D uint32 SBUF tensor
    N = 300
    table = rng.random((N, F), dtype=np.float32).astype(BF16)
    P = R if K == 1 else 128
    idx = rng.integers(0, N, size=(P, K)).astype(np.uint32)
    if oob == "skip":
        idx[3, 0] = N + 5  # row 3 of the gather is out of range: skipped
    order = idx.T.reshape(-1)[:R]

    def k(table, idx):
        it = nl.ndarray((P, K), dtype=nl.uint32, buffer=nl.sbuf)
        nisa.dma_copy(it, idx)
        dst = nl.ndarray((F, R), dtype=table.dtype, buffer=nl.sbuf)
        nisa.memset(dst, 0.0)
        src = table.ap(pattern=[[F, R], [1, F]], offset=0, vector_offset=it, indirect_dim=0)
        nisa.dma_transpose(dst, src, oob_mode=getattr(nisa.oob_mode, oob))
        out = nl.ndarray((F, R), dtype=table.dtype, buffer=nl.shared_hbm)
        nisa.dma_copy(out, dst)
        return out

    got = nki.simulate(k)(table, idx)
    exp = np.zeros((R, F), np.float32)
    ok = order < N
    exp[ok] = table[order[ok]].astype(np.float32)
    np.testing.assert_array_equal(got.astype(np.float32), exp.T)


def test_indirect_transpose_errors(rng):
    table = rng.random((64, 16), dtype=np.float32).astype(BF16)

    def run(idx_shape, rows, dtype=nl.uint32, bad=None):
        def k(table):
            it = nl.ndarray(idx_shape, dtype=dtype, buffer=nl.sbuf)
            nisa.memset(it, 0)
            if bad is not None:
                nisa.memset(it[bad:bad + 1, :], 1000)
            dst = nl.ndarray((16, rows), dtype=table.dtype, buffer=nl.sbuf)
            src = table.ap(pattern=[[16, rows], [1, 16]], offset=0, vector_offset=it, indirect_dim=0)
            nisa.dma_transpose(dst, src)
        nki.simulate(k)(table)

    with pytest.raises(nisa.NkiOutOfBoundsError, match=r"dma_transpose: src: row 5 gathers index 1000"):
        run((16, 1), 16, bad=5)
    with pytest.raises(nisa.NkiValidationError, match=r"indices.shape\[0\] must be a multiple of 16"):
        run((8, 1), 16)
    with pytest.raises(nisa.NkiValidationError, match=r"2-D uint32 SBUF tensor"):
        run((16, 1), 16, dtype=nl.int32)
    with pytest.raises(nisa.NkiValidationError, match=r"src.shape\[0\] % 16 == 0"):
        run((16, 1), 8)
