"""Quickstart: add two [128, 512] float32 matrices with an NKI kernel on the nkisim CPU simulator.

Run it from the repository root, with any Python that can import nki (after
`bash scripts/setup.sh`: .venv/bin/python):

    .venv/bin/python examples/quickstart.py

A NeuronCore computes on tiles held in SBUF, its on-chip memory of 128 *partitions* (the first
dimension of a tile, at most 128) by a few hundred KiB per partition (the *free* dimensions).
Kernel arguments and results live in HBM (device memory), so every kernel has the same shape:

    HBM --dma_copy--> SBUF --compute engine--> SBUF --dma_copy--> HBM
"""
import sys

import numpy as np

import nki
import nki.isa as nisa
import nki.language as nl


@nki.jit
def add_kernel(a, b):
    """c = a + b for two [128, 512] HBM tensors of the same dtype."""
    # The result tensor lives in HBM. Kernel outputs must use buffer=nl.shared_hbm.
    c = nl.ndarray(a.shape, dtype=a.dtype, buffer=nl.shared_hbm)

    # On-chip tiles: 128 partitions x 512 elements each. The first dimension of an SBUF tile is the
    # partition dimension; 128 (nl.tile_size.pmax) is the most a tile can have.
    a_tile = nl.ndarray(a.shape, dtype=a.dtype, buffer=nl.sbuf)
    b_tile = nl.ndarray(b.shape, dtype=b.dtype, buffer=nl.sbuf)
    c_tile = nl.ndarray(a.shape, dtype=a.dtype, buffer=nl.sbuf)

    # nki.isa instructions write into their first argument (the destination).
    nisa.dma_copy(dst=a_tile, src=a)  # HBM -> SBUF
    nisa.dma_copy(dst=b_tile, src=b)
    # Element-wise add on the Vector engine. (nl.add(a_tile, b_tile) does the same and returns a
    # new tile; the nki.isa form makes the single instruction explicit.)
    nisa.tensor_tensor(dst=c_tile, data1=a_tile, data2=b_tile, op=nl.add)
    nisa.dma_copy(dst=c, src=c_tile)  # SBUF -> HBM
    return c


def main():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((128, 512), dtype=np.float32)
    b = rng.standard_normal((128, 512), dtype=np.float32)

    # nki.simulate runs the kernel on the CPU; NumPy arrays in, NumPy arrays out.
    c = nki.simulate(add_kernel)(a, b)

    expected = a + b  # float32 + float32 rounds exactly like the Vector engine: bit-exact
    abs_err = float(np.max(np.abs(c.astype(np.float64) - expected)))
    rel_err = abs_err / float(np.max(np.abs(expected)))
    tolerance = 1e-5  # relative; a float32 add should in fact be exact

    print(f"a: {a.shape} {a.dtype}, b: {b.shape} {b.dtype} -> c: {c.shape} {c.dtype}")
    print(f"a[0, :4]  = {np.array2string(a[0, :4], precision=4)}")
    print(f"b[0, :4]  = {np.array2string(b[0, :4], precision=4)}")
    print(f"c[0, :4]  = {np.array2string(c[0, :4], precision=4)}")
    print(f"instructions executed: {nki.last_launch.stats['instructions']}")
    print(f"max abs error: {abs_err:.3e}  max rel error: {rel_err:.3e}  (tolerance {tolerance:.0e})")
    ok = rel_err <= tolerance  # False for NaN too (NaN = a tile element that was never written)
    print("quickstart: PASS, c == a + b" if ok else "quickstart: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
