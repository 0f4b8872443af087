"""Tiled matrix multiply C = A @ B for [1024, 1024] bfloat16 inputs, float32 result.

The Tensor engine computes   dst[M, N] = stationary[K, M].T @ moving[K, N]
with the contraction dimension K on the partitions of *both* inputs (K <= 128), M <= 128 and
N <= 512, accumulating in float32 in PSUM. So C is computed in [128, 512] output tiles, each the
sum of K / 128 = 8 matmuls.

Layout choice: B [K, N] already has K on its rows, so its row blocks are moving tiles as they are.
A [M, K] has K on its columns, but a stationary tile must be [K, M] (A transposed). We take A in
its natural layout and transpose its 128 x 128 blocks on chip with nisa.nc_transpose (exact for
any dtype), once per row block of A, then reuse them for every column tile of C. The caller
needs no pre-transposed copy of A; the price is 8 extra transposes per 128 rows. (Passing A.T
from the host instead would remove them: load its [128, 128] blocks directly as stationary tiles.)

    .venv/bin/python examples/tiled_matmul.py      # any Python that can import nki
"""
import sys
import time

import ml_dtypes
import numpy as np

import nki
import nki.isa as nisa
import nki.language as nl

TILE_M = nl.tile_size.gemm_stationary_fmax  # 128: rows of C per tile (stationary free size)
TILE_K = nl.tile_size.pmax                  # 128: contraction per matmul (partition dimension)
TILE_N = nl.tile_size.gemm_moving_fmax      # 512: columns of C per tile (one 2 KiB PSUM bank)


@nki.jit
def matmul_kernel(a, b):
    """C = a @ b for a [M, K] and b [K, N] bfloat16 (M, K multiples of 128, N of 512)."""
    m_size, k_size = a.shape
    _, n_size = b.shape
    n_k = k_size // TILE_K
    c = nl.ndarray((m_size, n_size), dtype=nl.float32, buffer=nl.shared_hbm)

    # All of B in SBUF, as n_k row blocks: b_sb[:, k, :] = b[k*128:(k+1)*128, :]
    # (128 partitions x 8 x 1024 bf16 = 16 KiB per partition).
    b_sb = nl.ndarray((TILE_K, n_k, n_size), dtype=b.dtype, buffer=nl.sbuf)
    for k in nl.affine_range(n_k):
        nisa.dma_copy(dst=b_sb[:, k, :], src=b[k * TILE_K:(k + 1) * TILE_K, :])

    for m in nl.affine_range(m_size // TILE_M):
        # 128 rows of A: [128 (M), K].
        a_rows = nl.ndarray((TILE_M, k_size), dtype=a.dtype, buffer=nl.sbuf)
        nisa.dma_copy(dst=a_rows, src=a[m * TILE_M:(m + 1) * TILE_M, :])

        # Transpose each [128 (M), 128 (K)] block into a stationary tile aT[:, k, :] = [K, M].
        # The Tensor engine writes transposes to PSUM (same dtype as the input); copy to SBUF,
        # since matmul operands must be in SBUF.
        a_t = nl.ndarray((TILE_K, n_k, TILE_M), dtype=a.dtype, buffer=nl.sbuf)
        for k in nl.affine_range(n_k):
            blk_t = nl.ndarray((TILE_K, TILE_M), dtype=a.dtype, buffer=nl.psum)
            nisa.nc_transpose(dst=blk_t, data=a_rows[:, k * TILE_K:(k + 1) * TILE_K])
            nisa.tensor_copy(dst=a_t[:, k, :], src=blk_t)

        for n in nl.affine_range(n_size // TILE_N):
            # One float32 PSUM tile per output tile. With the default accumulate=None the first
            # matmul into it overwrites it and the following ones add to it, so after the k loop
            # it holds sum_k aT_k.T @ b_k = (A @ B)[m tile, n tile].
            acc = nl.ndarray((TILE_M, TILE_N), dtype=nl.float32, buffer=nl.psum)
            for k in nl.sequential_range(n_k):  # iterations accumulate into acc: sequential
                nisa.nc_matmul(dst=acc, stationary=a_t[:, k, :],
                               moving=b_sb[:, k, n * TILE_N:(n + 1) * TILE_N])

            # Evict PSUM -> SBUF (DMA cannot read PSUM), then store.
            c_tile = nl.ndarray((TILE_M, TILE_N), dtype=nl.float32, buffer=nl.sbuf)
            nisa.tensor_copy(dst=c_tile, src=acc)
            nisa.dma_copy(dst=c[m * TILE_M:(m + 1) * TILE_M, n * TILE_N:(n + 1) * TILE_N],
                          src=c_tile)
    return c


def main():
    bf16 = ml_dtypes.bfloat16
    rng = np.random.default_rng(3)
    a = rng.standard_normal((1024, 1024), dtype=np.float32).astype(bf16)
    b = rng.standard_normal((1024, 1024), dtype=np.float32).astype(bf16)

    start = time.perf_counter()
    c = nki.simulate(matmul_kernel)(a, b)
    seconds = time.perf_counter() - start

    # Reference: the exact product of the same bf16 values, computed in float64. Every bf16
    # product is exact in float32, so the kernel's only error is float32 rounding in the
    # 1024-term sums, whose order numpy cannot reproduce. Entries of C are sums of +- terms and
    # some are close to 0, so the error is measured relative to max |C| (element-wise relative
    # errors of near-zero entries say nothing about the kernel). Measured here: ~1.5e-7; the
    # least favourable order, a plain float32 running sum over k, gives ~7.5e-7 for these
    # inputs. Tolerance 1e-5 leaves a 10x margin over that and still catches any real bug
    # (a missing or doubled K tile is an O(1) error).
    expected = a.astype(np.float64) @ b.astype(np.float64)
    abs_err = float(np.max(np.abs(c.astype(np.float64) - expected)))
    rel_err = abs_err / float(np.max(np.abs(expected)))
    tolerance = 1e-5
    ok = c.dtype == np.float32 and rel_err <= tolerance  # False for NaN
    stats = nki.last_launch.stats
    print(f"A {a.shape} {a.dtype} @ B {b.shape} {b.dtype} -> C {c.shape} {c.dtype}")
    print(f"{stats['instructions']} instructions ({stats['by_op'][0].get('nc_matmul', 0)} "
          f"nc_matmul), simulated in {seconds:.2f} s")
    print(f"max abs error: {abs_err:.3e}  max rel error: {rel_err:.3e}  (tolerance {tolerance:.0e}, "
          "relative to max |C|)")
    print("tiled_matmul: PASS" if ok else "tiled_matmul: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
