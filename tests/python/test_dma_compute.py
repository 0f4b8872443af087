"""nisa.dma_compute: element-wise sums in the DMA, and read-modify-write through vector_offset."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import BF16


@pytest.mark.parametrize("n", [1, 2, 5, 16])
@pytest.mark.parametrize("dst_dtype", [np.float32, BF16], ids=str)
def test_sum_of_sources(rng, n, dst_dtype):
    srcs = [rng.random((32, 24), dtype=np.float32) for _ in range(n)]

    def k(*arrs):
        tiles = []
        for i, a in enumerate(arrs):
            if i % 2:  # mix SBUF and HBM sources
                t = nl.ndarray(a.shape, dtype=a.dtype, buffer=nl.sbuf)
                nisa.dma_copy(t, a)
                tiles.append(t)
            else:
                tiles.append(a)
        out = nl.ndarray((32, 24), dtype=dst_dtype, buffer=nl.shared_hbm)
        nisa.dma_compute(out, tiles, nl.add, scales=[1.0] * n if n > 2 else None)
        return out

    exp = np.zeros((32, 24), np.float32)
    for s in srcs:
        exp = exp + s
    np.testing.assert_allclose(nki.simulate(k)(*srcs).astype(np.float32),
                               exp.astype(dst_dtype).astype(np.float32), rtol=1e-6)


def test_scatter_read_modify_write(rng):
    R, C, P = 40, 16, 24
    table = rng.random((R, C), dtype=np.float32)
    idx = rng.permutation(R)[:P].astype(np.int32).reshape(P, 1)
    vals = rng.random((P, C), dtype=np.float32)

    def k(table, idx, vals):
        it = nl.ndarray((P, 1), dtype=nl.int32, buffer=nl.sbuf)
        nisa.dma_copy(it, idx)
        v = nl.ndarray((P, C), dtype=nl.float32, buffer=nl.sbuf)
        nisa.dma_copy(v, vals)
        view = table.ap([[C, P], [1, C]], offset=0, vector_offset=it, indirect_dim=0)
        nisa.dma_compute(view, [view, v], nl.add)
        return table

    exp = table.copy()
    exp[idx[:, 0]] += vals
    np.testing.assert_allclose(nki.simulate(k)(table.copy(), idx, vals), exp, rtol=1e-6)


def test_gather_read_modify_write(rng):
    R, C, P = 40, 16, 24
    table = rng.random((R, C), dtype=np.float32)
    idx = rng.integers(0, R, size=(P, 1)).astype(np.int32)
    base = rng.random((P, C), dtype=np.float32)

    def k(table, idx, base):
        it = nl.ndarray((P, 1), dtype=nl.int32, buffer=nl.sbuf)
        nisa.dma_copy(it, idx)
        d = nl.ndarray((P, C), dtype=nl.float32, buffer=nl.sbuf)
        nisa.dma_copy(d, base)
        nisa.dma_compute(d, [table.ap([[C, P], [1, C]], offset=0, vector_offset=it, indirect_dim=0), d],
                         nl.add)
        out = nl.ndarray((P, C), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, d)
        return out

    np.testing.assert_allclose(nki.simulate(k)(table, idx, base), base + table[idx[:, 0]], rtol=1e-6)


def test_bad_uses():
    a = np.zeros((4, 4), np.float32)

    def run(**kw):
        def k(a):
            out = nl.ndarray((4, 4), dtype=nl.float32, buffer=nl.shared_hbm)
            args = dict(dst=out, srcs=[a, a], reduce_op=nl.add)
            args.update({n: (v(a) if n == "srcs" else v) for n, v in kw.items()})
            nisa.dma_compute(**args)
        nki.simulate(k)(a)

    with pytest.raises(nisa.NkiValidationError, match=r"dma_compute: reduce_op: only nl.add"):
        run(reduce_op=nl.multiply)
    with pytest.raises(nisa.NkiValidationError, match=r"dma_compute: scales: must all be 1.0"):
        run(scales=[1.0, 2.0])
    with pytest.raises(nisa.NkiValidationError, match=r"dma_compute: srcs: takes 1 to 16"):
        run(srcs=lambda a: [a] * 17)
    with pytest.raises(nisa.NkiTypeError, match=r"dma_compute: srcs: expected a list of tensors"):
        run(srcs=lambda a: a)
    with pytest.raises(nisa.NkiValidationError, match=r"srcs\[1\]: holds 8 elements"):
        run(srcs=lambda a: [a, a[0:2, :]])
