"""Row softmax of a [256, 1024] float32 matrix, written with nki.isa instructions.

    softmax(x)[r, :] = exp(x[r, :] - max(x[r, :])) / sum(exp(x[r, :] - max(x[r, :])))

Each row of a 128-row tile sits in its own partition, so every step below is a per-partition
operation: four instructions per tile, with the row statistics held in [128, 1] tiles (one value
per partition) that instructions broadcast along the row.

    .venv/bin/python examples/softmax.py      # any Python that can import nki
"""
import sys

import numpy as np

import nki
import nki.isa as nisa
import nki.language as nl

P = nl.tile_size.pmax  # 128 rows per tile


@nki.jit
def softmax_kernel(x):
    """Softmax along the last axis of an [R, C] float32 HBM tensor (R a multiple of 128)."""
    rows, cols = x.shape
    out = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)

    for i in nl.affine_range(rows // P):
        r = nl.ds(i * P, P)
        xt = nl.ndarray((P, cols), dtype=nl.float32, buffer=nl.sbuf)
        nisa.dma_copy(dst=xt, src=x[r, :])

        # 1. Row maximum, negated (negate=True), so it can be used directly as a bias below.
        #    Subtracting the max keeps exp() from overflowing; it does not change the result.
        neg_max = nl.ndarray((P, 1), dtype=nl.float32, buffer=nl.sbuf)
        nisa.tensor_reduce(dst=neg_max, op=nl.maximum, data=xt, axis=1, negate=True,
                           keepdims=True)

        # 2. e = exp(x + bias) on the Scalar engine, with bias = -max of each row. The same
        #    instruction sums the e values of each row in the engine's accumulator registers
        #    (reduce_cmd=reset_reduce: start from zero) and writes the sums to row_sum.
        e = nl.ndarray((P, cols), dtype=nl.float32, buffer=nl.sbuf)
        row_sum = nl.ndarray((P, 1), dtype=nl.float32, buffer=nl.sbuf)
        nisa.activation(dst=e, op=nl.exp, data=xt, bias=neg_max,
                        reduce_op=nl.add, reduce_res=row_sum,
                        reduce_cmd=nisa.reduce_cmd.reset_reduce)

        # 3. 1 / row_sum on the Vector engine (more precise than activation(op=nl.reciprocal)).
        inv_sum = nl.ndarray((P, 1), dtype=nl.float32, buffer=nl.sbuf)
        nisa.reciprocal(dst=inv_sum, data=row_sum)

        # 4. Scale every row by its own 1 / sum: a [P, 1] operand is broadcast along the row.
        y = nl.ndarray((P, cols), dtype=x.dtype, buffer=nl.sbuf)
        nisa.tensor_scalar(dst=y, data=e, op0=nl.multiply, operand0=inv_sum)

        nisa.dma_copy(dst=out[r, :], src=y)
    return out


def main():
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((256, 1024)) * 4).astype(np.float32)

    out = nki.simulate(softmax_kernel)(x)

    # Reference in float64. The kernel computes in float32, so each output has a few float32
    # roundings (exp, the row sum of 1024 terms, 1/sum, the product): expect ~1e-7..1e-6 error.
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(axis=1, keepdims=True))
    expected = e / e.sum(axis=1, keepdims=True)

    # Every softmax output is > 0, so the element-wise relative error is well defined. (It is
    # dominated by the rounding of x - max to float32 before exp: about 2e-6 here.)
    err = np.abs(out.astype(np.float64) - expected)
    abs_err = float(err.max())
    rel_err = float(np.max(err / expected))
    tolerance = 1e-5
    ok = rel_err <= tolerance  # False for NaN
    print(f"x {x.shape} {x.dtype} -> softmax {out.shape}, "
          f"{nki.last_launch.stats['instructions']} instructions")
    print(f"row sums of the output: min {out.sum(axis=1).min():.7f}, max {out.sum(axis=1).max():.7f}")
    print(f"max abs error: {abs_err:.3e}  max rel error: {rel_err:.3e}  (tolerance {tolerance:.0e})")
    print("softmax: PASS" if ok else "softmax: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
