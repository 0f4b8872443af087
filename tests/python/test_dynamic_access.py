"""Dynamic access patterns: .ap(scalar_offset=, vector_offset=, indirect_dim=) and nl.ds(register)
resolved when the instruction runs; gathers and scatters with oob_mode error and skip."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl

R, C = 32, 16  # the indexed HBM tensor: R rows of C elements


def gather_kernel(oob):
    def k(table, idx):
        # idx: int32 [P, 1] row indices; out[w] = table[idx[w]]
        P = idx.shape[0]
        it = nl.ndarray((P, 1), dtype=nl.int32, buffer=nl.sbuf)
        nisa.dma_copy(it, idx)
        rows = nl.ndarray((P, C), dtype=table.dtype, buffer=nl.sbuf)
        nisa.memset(rows, -1.0)
        nisa.dma_copy(rows, table.ap([[C, P], [1, C]], offset=0, vector_offset=it, indirect_dim=0),
                      oob_mode=oob)
        out = nl.ndarray((P, C), dtype=table.dtype, buffer=nl.shared_hbm)
        nisa.dma_copy(out, rows)
        return out
    return k


def scatter_kernel(oob):
    def k(table, idx, vals):
        P = idx.shape[0]
        it = nl.ndarray((P, 1), dtype=nl.int32, buffer=nl.sbuf)
        nisa.dma_copy(it, idx)
        v = nl.ndarray((P, C), dtype=vals.dtype, buffer=nl.sbuf)
        nisa.dma_copy(v, vals)
        nisa.dma_copy(table.ap([[C, P], [1, C]], offset=0, vector_offset=it, indirect_dim=0), v,
                      oob_mode=oob)
        return table
    return k


@pytest.mark.parametrize("P", [1, 7, 128])
def test_gather_random_rows(rng, P):
    table = rng.random((R, C), dtype=np.float32)
    idx = rng.integers(0, R, size=(P, 1)).astype(np.int32)
    got = nki.simulate(gather_kernel(nisa.oob_mode.error))(table, idx)
    np.testing.assert_array_equal(got, table[idx[:, 0]])


def test_gather_out_of_range_rows_skip_exactly_those(rng):
    P = 64
    table = rng.random((R, C), dtype=np.float32)
    idx = rng.integers(-5, R + 5, size=(P, 1)).astype(np.int32)
    idx[3] = R  # at least one just past the end
    got = nki.simulate(gather_kernel(nisa.oob_mode.skip))(table, idx)
    ok = (idx[:, 0] >= 0) & (idx[:, 0] < R)
    exp = np.full((P, C), -1.0, np.float32)
    exp[ok] = table[idx[ok, 0]]
    np.testing.assert_array_equal(got, exp)


def test_gather_out_of_range_row_raises_naming_the_index(rng):
    table = rng.random((R, C), dtype=np.float32)
    idx = np.arange(8, dtype=np.int32).reshape(8, 1)
    idx[5] = R + 3
    with pytest.raises(nisa.NkiOutOfBoundsError,
                       match=rf"dma_copy: src: vector_offset\[5\] = {R + 3} selects row {R + 3}.*rows 0..{R - 1}"):
        nki.simulate(gather_kernel(nisa.oob_mode.error))(table, idx)


@pytest.mark.parametrize("oob", ["error", "skip"])
def test_scatter_random_unique_rows(rng, oob):
    P = 20
    table = rng.random((R, C), dtype=np.float32)
    idx = rng.permutation(R + 8)[:P].astype(np.int32).reshape(P, 1)  # some rows >= R
    if oob == "error":
        idx = rng.permutation(R)[:P].astype(np.int32).reshape(P, 1)
    vals = rng.random((P, C), dtype=np.float32)
    exp = table.copy()
    for w in range(P):
        if idx[w, 0] < R:
            exp[idx[w, 0]] = vals[w]
    got = nki.simulate(scatter_kernel(getattr(nisa.oob_mode, oob)))(table.copy(), idx, vals)
    np.testing.assert_array_equal(got, exp)


def test_scatter_out_of_range_writes_nothing(rng):
    table = rng.random((R, C), dtype=np.float32)
    idx = np.array([[0], [1], [R + 1]], np.int32)
    vals = np.zeros((3, C), np.float32)
    t = table.copy()
    with pytest.raises(nisa.NkiOutOfBoundsError, match=r"dma_copy: dst: vector_offset\[2\]"):
        nki.simulate(scatter_kernel(nisa.oob_mode.error))(t, idx, vals)
    np.testing.assert_array_equal(t, table)


def scalar_kernel(source, oob=None):
    def k(table, off):
        # out = table[off : off + 4, :] with the row offset read on the device
        o = nl.ndarray((1, 1), dtype=nl.int32, buffer=nl.sbuf)
        nisa.dma_copy(o, off)
        if source == "register":
            s = nisa.register_alloc()
            nisa.register_load(s, o)
        else:
            s = o
        t = nl.ndarray((4, C), dtype=table.dtype, buffer=nl.sbuf)
        nisa.memset(t, -1.0)
        kw = {} if oob is None else {"oob_mode": oob}
        nisa.dma_copy(t, table.ap([[C, 4], [1, C]], offset=0, scalar_offset=s, indirect_dim=0), **kw)
        out = nl.ndarray((4, C), dtype=table.dtype, buffer=nl.shared_hbm)
        nisa.dma_copy(out, t)
        return out
    return k


@pytest.mark.parametrize("source", ["register", "tensor"])
@pytest.mark.parametrize("off", [0, 5, R - 4])
def test_scalar_offset_from_register_or_tensor(rng, source, off):
    table = rng.random((R, C), dtype=np.float32)
    got = nki.simulate(scalar_kernel(source))(table, np.array([[off]], np.int32))
    np.testing.assert_array_equal(got, table[off:off + 4])


def test_scalar_offset_uses_the_base_shape_after_indirect_dim(rng):
    a = rng.random((4, 6, 8), dtype=np.float32)

    def k(a):
        r = nisa.register_alloc(2)
        t = nl.ndarray((6, 8), dtype=nl.float32, buffer=nl.sbuf)
        nisa.dma_copy(t, a.ap([[8, 6], [1, 8]], offset=0, scalar_offset=r, indirect_dim=0))
        u = nl.ndarray((1, 8), dtype=nl.float32, buffer=nl.sbuf)
        nisa.dma_copy(u, a.ap([[1, 1], [1, 8]], offset=8, scalar_offset=r, indirect_dim=1))
        out = nl.ndarray((7, 8), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out[0:6, :], t)
        nisa.dma_copy(out[6:7, :], u)
        return out

    got = nki.simulate(k)(a)
    np.testing.assert_array_equal(got[:6], a[2])
    np.testing.assert_array_equal(got[6], a[0, 3])


def test_scalar_offset_out_of_range(rng):
    table = rng.random((R, C), dtype=np.float32)
    with pytest.raises(nisa.NkiOutOfBoundsError,
                       match=r"dma_copy: src: the dynamic offset .*has the value 29.*outside"):
        nki.simulate(scalar_kernel("register"))(table, np.array([[R - 3]], np.int32))
    got = nki.simulate(scalar_kernel("register", nisa.oob_mode.skip))(table, np.array([[R - 3]], np.int32))
    exp = np.full((4, C), -1.0, np.float32)
    exp[:3] = table[R - 3:]  # exactly the out-of-range row is skipped
    np.testing.assert_array_equal(got, exp)
    got = nki.simulate(scalar_kernel("register", nisa.oob_mode.skip))(table, np.array([[R + 7]], np.int32))
    np.testing.assert_array_equal(got, np.full((4, C), -1.0, np.float32))  # every row skipped
    with pytest.raises(nisa.NkiOutOfBoundsError, match=r"has the value -1"):
        nki.simulate(scalar_kernel("tensor"))(table, np.array([[-1]], np.int32))


def test_ds_with_a_register_and_a_dynamic_loop(rng):
    table = rng.random((R, C), dtype=np.float32)

    def k(table):
        out = nl.ndarray((R, C), dtype=nl.float32, buffer=nl.shared_hbm)
        for i in nl.dynamic_range(R // 4):
            base = nisa.register_alloc()
            t = nl.ndarray((1, 1), dtype=nl.int32, buffer=nl.sbuf)
            nisa.register_store(t, i)
            nisa.tensor_scalar(t, t, nl.multiply, 4)
            nisa.register_load(base, t)
            tile = nl.ndarray((4, C), dtype=nl.float32, buffer=nl.sbuf)
            nisa.dma_copy(tile, table[nl.ds(base, 4), :])
            nisa.tensor_scalar(tile, tile, nl.multiply, 2.0)
            nisa.dma_copy(out[nl.ds(base, 4), :], tile)
        return out

    np.testing.assert_array_equal(nki.simulate(k)(table), table * 2)


def test_ds_register_out_of_range():
    def k(a):
        r = nisa.register_alloc(30)
        t = nl.ndarray((4, C), dtype=nl.float32, buffer=nl.sbuf)
        nisa.dma_copy(t, a[nl.ds(r, 4), :])

    with pytest.raises(nisa.NkiOutOfBoundsError, match=r"nl.ds\(register, 4\).*value 30.*valid values are 0..28"):
        nki.simulate(k)(np.zeros((R, C), np.float32))


def test_tensor_copy_with_dynamic_sbuf_views(rng):
    a = rng.random((8, 64), dtype=np.float32)

    def k(a):
        t = nl.ndarray((8, 64), dtype=nl.float32, buffer=nl.sbuf)
        nisa.dma_copy(t, a)
        r = nisa.register_alloc(3)
        u = nl.ndarray((8, 16), dtype=nl.float32, buffer=nl.sbuf)
        # columns 3*16 .. 4*16 of every partition through a register offset
        nisa.tensor_copy(u, t[:, nl.ds(r, 16)])
        v = nl.ndarray((8, 16), dtype=nl.float32, buffer=nl.sbuf)
        nisa.tensor_copy(v, t.ap([[64, 8], [1, 16]], offset=0, scalar_offset=r, indirect_dim=1))
        nisa.tensor_tensor(u, u, v, nl.subtract)
        out = nl.ndarray((8, 16), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, u)
        return out

    np.testing.assert_array_equal(nki.simulate(k)(a), a[:, 3:19] - a[:, 3:19])


def test_vector_offset_refused_outside_dma(rng):
    def k(a):
        it = nl.ndarray((4, 1), dtype=nl.int32, buffer=nl.sbuf)
        nisa.memset(it, 0)
        t = nl.ndarray((4, C), dtype=nl.float32, buffer=nl.sbuf)
        nisa.tensor_copy(t, a.ap([[C, 4], [1, C]], offset=0, vector_offset=it, indirect_dim=0))

    with pytest.raises(nisa.NkiValidationError, match=r"tensor_copy: src: .*only supported by the DMA"):
        nki.simulate(k)(np.zeros((R, C), np.float32))

    def both(a):
        it = nl.ndarray((4, 1), dtype=nl.int32, buffer=nl.sbuf)
        a.ap([[C, 4], [1, C]], 0, scalar_offset=nisa.register_alloc(0), vector_offset=it)

    with pytest.raises(nisa.NkiValidationError, match=r"mutually exclusive"):
        nki.simulate(both)(np.zeros((R, C), np.float32))
