"""2-D matrix transpose through the Tensor engine: [128, 128] first, then a tiled [256, 384].

Engines work partition-by-partition: element (p, f) of a tile only meets elements of the same
partition p. Swapping rows and columns therefore needs an engine that moves data *across*
partitions. The Tensor engine (the matmul array) can: nisa.nc_transpose multiplies the tile by an
identity matrix, writes data[p, f] to dst[f, p] in PSUM, and is bit-exact.

    .venv/bin/python examples/transpose2d.py      # any Python that can import nki
"""
import sys

import numpy as np

import nki
import nki.isa as nisa
import nki.language as nl

T = nl.tile_size.pmax  # 128: the Tensor engine transposes tiles of up to 128 x 128


@nki.jit
def transpose_kernel(x):
    """out = x.T for an [R, C] float32 HBM tensor with R and C multiples of 128."""
    rows, cols = x.shape
    out = nl.ndarray((cols, rows), dtype=x.dtype, buffer=nl.shared_hbm)

    # Block (i, j) of x becomes block (j, i) of out, and each block is transposed itself.
    for i in nl.affine_range(rows // T):
        for j in nl.affine_range(cols // T):
            tile = nl.ndarray((T, T), dtype=x.dtype, buffer=nl.sbuf)
            nisa.dma_copy(dst=tile, src=x[i * T:(i + 1) * T, j * T:(j + 1) * T])

            # SBUF -> PSUM through the Tensor engine. The destination has the source's dtype.
            tile_t = nl.ndarray((T, T), dtype=x.dtype, buffer=nl.psum)
            nisa.nc_transpose(dst=tile_t, data=tile)

            # DMA cannot read PSUM: copy the result back to SBUF first (Vector/Scalar engine).
            result = nl.ndarray((T, T), dtype=x.dtype, buffer=nl.sbuf)
            nisa.tensor_copy(dst=result, src=tile_t)
            nisa.dma_copy(dst=out[j * T:(j + 1) * T, i * T:(i + 1) * T], src=result)
    return out


def main():
    rng = np.random.default_rng(4)
    ok = True
    for shape in [(128, 128), (256, 384)]:
        x = rng.standard_normal(shape, dtype=np.float32)
        out = nki.simulate(transpose_kernel)(x)
        expected = x.T
        # A transpose only moves values, so anything but an exact match is a bug.
        abs_err = float(np.max(np.abs(out.astype(np.float64) - expected)))
        rel_err = abs_err / float(np.max(np.abs(expected)))
        exact = out.shape == expected.shape and np.array_equal(out, expected)
        print(f"x {shape} -> out {out.shape}, {nki.last_launch.stats['instructions']} "
              f"instructions: max abs error: {abs_err:.3e}  max rel error: {rel_err:.3e}  "
              f"(exact match required) {'ok' if exact else 'FAIL'}")
        ok = ok and exact
    print("transpose2d: PASS, out == x.T exactly" if ok else "transpose2d: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
