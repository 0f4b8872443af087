"""nki.collectives across MPI processes (issue 12). Run with

    mpirun -n 4 python tests/python/mpi_collectives.py

(tests/python/test_collectives_mpi.py does, with --allow-run-as-root --oversubscribe). Each
process runs a block of the ranks; every process checks its own ranks against numpy and prints
one PASS line. 8 ranks = 2 per process, 4 ranks = 1 per process.
"""
import sys

import numpy as np

import nki
import nki.collectives as ncc
import nki.isa as nisa
import nki.language as nl
from nki.collectives import ReplicaGroup


@nki.jit
def many(x, rg, sub, n):
    """all_reduce (HBM and SBUF), all_gather, reduce_scatter, all_to_all, a ring step and a
    permute, one after the other; `sub` splits the ranks into two groups."""
    R, C = x.shape
    ar = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
    ncc.all_reduce(srcs=[x], dsts=[ar], replica_group=rg, op=nl.add)
    t = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.sbuf)
    nisa.dma_copy(dst=t, src=x)
    tm = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.sbuf)
    ncc.all_reduce(srcs=[t], dsts=[tm], replica_group=sub, op=nl.maximum)
    mx = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
    nisa.dma_copy(dst=mx, src=tm)
    ag = nl.ndarray((R * n, C), dtype=x.dtype, buffer=nl.shared_hbm)
    ncc.all_gather(srcs=[x], dsts=[ag], replica_group=rg, collective_dim=0)
    rs = nl.ndarray((R // n, C), dtype=x.dtype, buffer=nl.shared_hbm)
    ncc.reduce_scatter(srcs=[x], dsts=[rs], replica_group=rg, collective_dim=0, op=nl.add)
    a2a = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
    ncc.all_to_all(srcs=[x], dsts=[a2a], replica_group=rg, collective_dim=0)
    ring = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
    ncc.collective_permute_implicit(srcs_by_channel=[[x]], dsts_by_channel=[[ring]],
                                    replica_group=sub)
    perm = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
    ncc.collective_permute(srcs=[x], dsts=[perm],
                           source_target_pairs=[(r, (r + 1) % n) for r in range(n)])
    return ar, mx, ag, rs, a2a, ring, perm


def check(n):
    xs = [np.random.default_rng(r).standard_normal((2 * n, 16)).astype(np.float32)
          for r in range(n)]
    half = n // 2
    groups = [list(range(half)), list(range(half, n))]
    rg, sub = ReplicaGroup([list(range(n))]), ReplicaGroup(groups)
    outs = nki.simulate(many, ranks=n, timeout=60)(lambda r: (xs[r], rg, sub, n))
    total = np.sum(xs, axis=0)
    done = []
    for r, o in enumerate(outs):
        if o is None:
            continue  # a rank of another process
        g = groups[r // half]
        ar, mx, ag, rs, a2a, ring, perm = o
        np.testing.assert_allclose(ar, total, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(mx, np.max([xs[m] for m in g], axis=0))
        np.testing.assert_array_equal(ag, np.concatenate(xs))
        np.testing.assert_allclose(rs, total[2 * r:2 * r + 2], rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(a2a, np.concatenate([xs[j][2 * r:2 * r + 2]
                                                           for j in range(n)]))
        np.testing.assert_array_equal(ring, xs[g[(g.index(r) - 1) % len(g)]])
        np.testing.assert_array_equal(perm, xs[(r - 1) % n])
        done.append(r)
    return done


@nki.jit
def skip_last(x, rg):
    out = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
    if ncc.rank_id() != 3:
        ncc.all_reduce(srcs=[x], dsts=[out], replica_group=rg, op=nl.add)
    return out


@nki.jit
def mismatched(x, rg):
    out = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
    ncc.all_reduce(srcs=[x], dsts=[out], replica_group=rg, op=nl.add)
    return out


def expect_error(kernel, inputs, *patterns):
    try:
        nki.simulate(kernel, ranks=4, timeout=30)(inputs)
    except ncc.NkiCollectiveError as e:
        msg = str(e)
        missing = [p for p in patterns if p not in msg]
        if missing:
            raise AssertionError(f"{missing} not in error message:\n{msg}")
        return msg
    raise AssertionError(f"{kernel.__name__}: no error")


def main():
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    p = comm.Get_rank()
    mine8 = check(8)
    mine4 = check(4)
    rg = ReplicaGroup([[0, 1, 2, 3]])
    # only processes that host a waiting rank report; rank 3's process just finishes
    if p != 3:
        expect_error(skip_last, lambda r: (np.ones((4, 4), np.float32), rg), "all_reduce",
                     "rank 3 returned from kernel 'skip_last'")
    else:
        try:
            nki.simulate(skip_last, ranks=4, timeout=30)(
                lambda r: (np.ones((4, 4), np.float32), rg))
        except ncc.NkiCollectiveError:
            pass
    expect_error(mismatched, lambda r: (np.ones((4, 4 if r != 1 else 8), np.float32), rg),
                 "ranks disagree", "rank 1: srcs [float32[4, 8]]")
    # and it still works after errors
    assert check(4) == mine4
    print(f"PASS process {p}/{comm.Get_size()}: ranks {mine8} of 8, {mine4} of 4", flush=True)


if __name__ == "__main__":
    sys.exit(main())
