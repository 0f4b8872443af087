"""RMSNorm of a [256, 1024] float32 matrix with a [1024] weight vector, in nki.isa instructions.

    y[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w

Rows go to partitions (128 rows per tile), so the mean over a row is a per-partition reduction.
The weight w is the same for every row, so every partition needs its own copy of it: one DMA
with a stride-0 access pattern reads the same HBM row 128 times.

    .venv/bin/python examples/rmsnorm.py      # any Python that can import nki
"""
import sys

import numpy as np

import nki
import nki.isa as nisa
import nki.language as nl

P = nl.tile_size.pmax  # 128 rows per tile
EPS = 1e-6


@nki.jit
def rmsnorm_kernel(x, w):
    """RMSNorm along the last axis of x [R, C] (R a multiple of 128), scaled by w [C]."""
    rows, cols = x.shape
    out = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)

    # Broadcast w into all 128 partitions with one DMA. .ap() describes an access pattern over
    # the HBM tensor as [step, count] pairs, outermost first: [0, P] repeats the row P times
    # (step 0 = read the same elements again), [1, cols] walks along the row.
    # (Equivalent, but 128 DMAs: for p in range(P): nisa.dma_copy(w_tile[p:p+1, :], w2d) with
    # w2d = w.reshape((1, cols)).)
    w_tile = nl.ndarray((P, cols), dtype=w.dtype, buffer=nl.sbuf)
    nisa.dma_copy(dst=w_tile, src=w.ap(pattern=[[0, P], [1, cols]], offset=0))

    for i in nl.affine_range(rows // P):
        r = nl.ds(i * P, P)
        xt = nl.ndarray((P, cols), dtype=x.dtype, buffer=nl.sbuf)
        nisa.dma_copy(dst=xt, src=x[r, :])

        # 1. Sum of squares of each row: the Scalar engine squares every element and, in the same
        #    instruction, adds the squares of each partition into sum_sq. (The squares themselves,
        #    written to `squares`, are not needed afterwards.)
        squares = nl.ndarray((P, cols), dtype=nl.float32, buffer=nl.sbuf)
        sum_sq = nl.ndarray((P, 1), dtype=nl.float32, buffer=nl.sbuf)
        nisa.activation(dst=squares, op=nl.square, data=xt,
                        reduce_op=nl.add, reduce_res=sum_sq,
                        reduce_cmd=nisa.reduce_cmd.reset_reduce)

        # 2. mean + eps = sum_sq * (1 / cols) + eps: two ALU ops fused in one tensor_scalar.
        mean_eps = nl.ndarray((P, 1), dtype=nl.float32, buffer=nl.sbuf)
        nisa.tensor_scalar(dst=mean_eps, data=sum_sq, op0=nl.multiply, operand0=1.0 / cols,
                           op1=nl.add, operand1=EPS)

        # 3. 1 / sqrt(mean + eps). rsqrt is a unary ALU op (its operand is ignored); on the GpSimd
        #    engine it is more precise than the Scalar engine's activation(op=nl.rsqrt), which
        #    could instead do steps 2 and 3 at once: activation(op=nl.rsqrt, data=sum_sq,
        #    scale=1.0 / cols, bias=EPS).
        rstd = nl.ndarray((P, 1), dtype=nl.float32, buffer=nl.sbuf)
        nisa.tensor_scalar(dst=rstd, data=mean_eps, op0=nl.rsqrt, operand0=0.0,
                           engine=nisa.engine.gpsimd)

        # 4. x * rstd (one value per row, broadcast along the row), then * w element-wise.
        normed = nl.ndarray((P, cols), dtype=nl.float32, buffer=nl.sbuf)
        nisa.tensor_scalar(dst=normed, data=xt, op0=nl.multiply, operand0=rstd)
        y = nl.ndarray((P, cols), dtype=x.dtype, buffer=nl.sbuf)
        nisa.tensor_tensor(dst=y, data1=normed, data2=w_tile, op=nl.multiply)

        nisa.dma_copy(dst=out[r, :], src=y)
    return out


def main():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((256, 1024), dtype=np.float32)
    w = rng.uniform(0.5, 1.5, size=1024).astype(np.float32)

    out = nki.simulate(rmsnorm_kernel)(x, w)

    # Reference in float64. The kernel rounds to float32 a handful of times per element (the
    # 1024-term sum of squares, the mean, rsqrt, two products): a few 1e-7 of relative error.
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    expected = x64 / np.sqrt(np.mean(x64 * x64, axis=1, keepdims=True) + EPS) * w64

    # y is a product of x, rstd and w, so the element-wise relative error stays small even for
    # tiny outputs (no cancellation); exact zeros (x == 0) would give 0 / 0, hence the floor.
    err = np.abs(out.astype(np.float64) - expected)
    abs_err = float(err.max())
    rel_err = float(np.max(err / np.maximum(np.abs(expected), 1e-30)))
    tolerance = 1e-5
    ok = rel_err <= tolerance  # False for NaN
    print(f"x {x.shape} {x.dtype}, w {w.shape} -> y {out.shape}, "
          f"{nki.last_launch.stats['instructions']} instructions")
    print(f"max abs error: {abs_err:.3e}  max rel error: {rel_err:.3e}  (tolerance {tolerance:.0e})")
    print("rmsnorm: PASS" if ok else "rmsnorm: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
