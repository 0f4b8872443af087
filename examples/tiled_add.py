"""Tiled element-wise add of two [256, 1024] float32 matrices, on one core and on two.

A tile holds at most 128 partitions, so bigger tensors are processed in tiles: here [128, 512]
tiles, 2 x 2 of them. The same kernel also runs as an LNC=2 launch (`kernel[2]`): two programs,
one per NeuronCore, share the HBM tensors and each adds its own half of the rows.

    .venv/bin/python examples/tiled_add.py      # any Python that can import nki
"""
import sys

import numpy as np

import nki
import nki.isa as nisa
import nki.language as nl

TILE_P = nl.tile_size.pmax  # 128 rows per tile (the partition dimension)
TILE_F = 512                # 512 columns per tile (the free dimension)


@nki.jit
def tiled_add_kernel(a, b):
    """c = a + b for [R, C] HBM tensors, R a multiple of 128 * (number of programs), C of 512."""
    rows, cols = a.shape
    c = nl.ndarray(a.shape, dtype=a.dtype, buffer=nl.shared_hbm)

    # Split the rows between the programs of the launch. A plain launch has one program
    # (program_id 0 of 1); kernel[2] has two, and each one takes half of the rows.
    n_programs = nl.num_programs()
    pid = nl.program_id(0)
    my_rows = rows // n_programs
    row0 = pid * my_rows

    # affine_range: the iterations are independent (no loop-carried dependency), so the compiler
    # may overlap them. The simulator simply runs them in order.
    for i in nl.affine_range(my_rows // TILE_P):
        for j in nl.affine_range(cols // TILE_F):
            # nl.ds(start, size) is the slice start:start+size.
            r = nl.ds(row0 + i * TILE_P, TILE_P)
            f = nl.ds(j * TILE_F, TILE_F)

            a_tile = nl.ndarray((TILE_P, TILE_F), dtype=a.dtype, buffer=nl.sbuf)
            b_tile = nl.ndarray((TILE_P, TILE_F), dtype=b.dtype, buffer=nl.sbuf)
            nisa.dma_copy(dst=a_tile, src=a[r, f])
            nisa.dma_copy(dst=b_tile, src=b[r, f])

            c_tile = nl.ndarray((TILE_P, TILE_F), dtype=a.dtype, buffer=nl.sbuf)
            nisa.tensor_tensor(dst=c_tile, data1=a_tile, data2=b_tile, op=nl.add)

            # Plain slices work as well as nl.ds.
            nisa.dma_copy(dst=c[row0 + i * TILE_P:row0 + (i + 1) * TILE_P,
                                j * TILE_F:(j + 1) * TILE_F], src=c_tile)
    return c


def check(label, c, expected, tolerance):
    abs_err = float(np.max(np.abs(c.astype(np.float64) - expected)))
    rel_err = abs_err / float(np.max(np.abs(expected)))
    ok = rel_err <= tolerance  # False for NaN (an element no program wrote)
    print(f"{label}: {c.shape} {c.dtype}, {nki.last_launch.stats['instructions']} instructions")
    print(f"  max abs error: {abs_err:.3e}  max rel error: {rel_err:.3e}  "
          f"(tolerance {tolerance:.0e}) {'ok' if ok else 'FAIL'}")
    return ok


def main():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((256, 1024), dtype=np.float32)
    b = rng.standard_normal((256, 1024), dtype=np.float32)
    expected = a + b
    tolerance = 1e-5  # relative; float32 adds are in fact bit-exact

    # One core: 2 x 2 tiles in one program.
    ok1 = check("1 core  (tiled_add_kernel)   ", nki.simulate(tiled_add_kernel)(a, b), expected,
                tolerance)
    # Two cores: tiled_add_kernel[2] runs two programs concurrently; each takes 128 rows
    # (1 x 2 tiles) and writes its half of the same shared_hbm output.
    ok2 = check("2 cores (tiled_add_kernel[2])", nki.simulate(tiled_add_kernel[2])(a, b), expected,
                tolerance)

    ok = ok1 and ok2
    print("tiled_add: PASS, both launches match a + b" if ok else "tiled_add: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
