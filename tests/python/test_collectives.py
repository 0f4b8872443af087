"""nki.collectives on N in-process ranks (issue 12): numpy references at 2, 4 and 8 ranks, group
splits, SBUF and coalesced variants, validation errors, mismatch and deadlock detection."""
import time

import ml_dtypes
import numpy as np
import pytest

import nki
import nki.collectives as ncc
import nki.isa as nisa
import nki.language as nl
from nki.collectives import ReplicaGroup

RANKS = [2, 4, 8]
rng = np.random.default_rng(12)


def world(n):
    return ReplicaGroup([list(range(n))])


def run(kernel, n, inputs, **kw):
    kw.setdefault("timeout", 20)
    return nki.simulate(kernel, ranks=n, **kw)(inputs)


def data(n, shape, dtype=np.float32):
    return [rng.standard_normal(shape).astype(dtype) for _ in range(n)]


# ---------------------------------------------------------------- kernels
@nki.jit
def k_all_reduce(x, rg, op):
    out = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
    ncc.all_reduce(srcs=[x], dsts=[out], replica_group=rg, op=op)
    return out


@nki.jit
def k_all_reduce_sbuf(x, rg):
    t = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.sbuf)
    nisa.dma_copy(dst=t, src=x)
    r = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.sbuf)
    ncc.all_reduce(srcs=[t], dsts=[r], replica_group=rg, op=nl.add)
    out = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
    nisa.dma_copy(dst=out, src=r)
    return out


@nki.jit
def k_all_reduce_inplace(x, rg):
    buf = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
    nisa.dma_copy(dst=buf, src=x)
    ncc.all_reduce(srcs=[buf], dsts=[buf], replica_group=rg, op=nl.add)
    return buf


@nki.jit
def k_all_reduce_coalesced(x, y, rg):
    a = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
    b = nl.ndarray(y.shape, dtype=y.dtype, buffer=nl.shared_hbm)
    ncc.all_reduce(srcs=[x, y], dsts=[a, b], replica_group=rg, op=nl.maximum)
    return a, b


@nki.jit
def k_all_gather(x, rg, n):
    out = nl.ndarray((x.shape[0] * n,) + tuple(x.shape[1:]), dtype=x.dtype, buffer=nl.shared_hbm)
    ncc.all_gather(srcs=[x], dsts=[out], replica_group=rg, collective_dim=0)
    return out


@nki.jit
def k_all_gather_sbuf(x, rg, n, dim):
    P, F = x.shape
    t = nl.ndarray((P, F), dtype=x.dtype, buffer=nl.sbuf)
    nisa.dma_copy(dst=t, src=x)
    shape = (P * n, F) if dim == 0 else (P, F * n)
    g = nl.ndarray(shape, dtype=x.dtype, buffer=nl.sbuf)
    ncc.all_gather(srcs=[t], dsts=[g], replica_group=rg, collective_dim=dim)
    out = nl.ndarray(shape, dtype=x.dtype, buffer=nl.shared_hbm)
    nisa.dma_copy(dst=out, src=g)
    return out


@nki.jit
def k_reduce_scatter(x, rg, n, op):
    out = nl.ndarray((x.shape[0] // n,) + tuple(x.shape[1:]), dtype=x.dtype, buffer=nl.shared_hbm)
    ncc.reduce_scatter(srcs=[x], dsts=[out], replica_group=rg, collective_dim=0, op=op)
    return out


@nki.jit
def k_reduce_scatter_sbuf(x, rg, n):
    P, F = x.shape
    t = nl.ndarray((P, F), dtype=x.dtype, buffer=nl.sbuf)
    nisa.dma_copy(dst=t, src=x)
    r = nl.ndarray((P // n, F), dtype=x.dtype, buffer=nl.sbuf)
    ncc.reduce_scatter(srcs=[t], dsts=[r], replica_group=rg, collective_dim=0, op=nl.add)
    out = nl.ndarray((P // n, F), dtype=x.dtype, buffer=nl.shared_hbm)
    nisa.dma_copy(dst=out, src=r)
    return out


@nki.jit
def k_all_to_all(x, rg):
    out = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
    ncc.all_to_all(srcs=[x], dsts=[out], replica_group=rg, collective_dim=0)
    return out


@nki.jit
def k_all_to_all_v(x, meta, rg, out_size, recv_counts_known, has_rdispls):
    out = nl.ndarray((out_size,), dtype=x.dtype, buffer=nl.shared_hbm)
    nisa.memset(out, 0) if False else None
    ncc.all_to_all_v(srcs=[x], dsts=[out], replica_group=rg, metadata_tensor=meta,
                     recv_counts_known=recv_counts_known, has_rdispls=has_rdispls)
    return out


@nki.jit
def k_permute(x, pairs):
    out = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
    ncc.collective_permute(srcs=[x], dsts=[out], source_target_pairs=pairs)
    return out


@nki.jit
def k_ring(x, rg, channels):
    outs = [nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm) for _ in range(channels)]
    srcs = []
    for c in range(channels):
        s = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
        nisa.dma_copy(dst=s, src=x)
        srcs.append([s])
    ncc.collective_permute_implicit(srcs_by_channel=srcs, dsts_by_channel=[[o] for o in outs],
                                    replica_group=rg, channel_ids=list(range(channels)))
    return outs


@nki.jit
def k_ring_reduce(x, y, rg, op):
    out = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
    ncc.collective_permute_implicit_reduce(srcs0_by_channel=[[x]], srcs1_by_channel=[[y]],
                                           dsts_by_channel=[[out]], replica_group=rg, op=op)
    return out


@nki.jit
def k_ids(x, rg, steps):
    ids = [ncc.collective_permute_implicit_current_processing_rank_id(i, rg) for i in range(steps)]
    return ncc.rank_id(), ids


def ring_pred(groups, r):
    g = next(g for g in groups if r in g)
    return g[(g.index(r) - 1) % len(g)]


# ---------------------------------------------------------------- references at 2, 4, 8 ranks
@pytest.mark.parametrize("n", RANKS)
@pytest.mark.parametrize("op,ref", [(nl.add, np.sum), (nl.maximum, np.max), (nl.minimum, np.min)])
def test_all_reduce(n, op, ref):
    xs = data(n, (64, 96))
    outs = run(k_all_reduce, n, lambda r: dict(x=xs[r], rg=world(n), op=op))
    want = ref(np.stack(xs), axis=0)
    for o in outs:
        np.testing.assert_allclose(o, want, rtol=1e-5, atol=1e-5)
    assert all(np.array_equal(outs[0], o) for o in outs)  # bit-identical on every rank


@pytest.mark.parametrize("n", RANKS)
def test_all_reduce_sbuf_bf16(n):
    xs = data(n, (128, 64), ml_dtypes.bfloat16)
    outs = run(k_all_reduce_sbuf, n, [(x, world(n)) for x in xs])
    want = np.sum(np.stack(xs).astype(np.float32), axis=0).astype(ml_dtypes.bfloat16)
    for o in outs:
        assert o.dtype == ml_dtypes.bfloat16
        np.testing.assert_array_equal(o.astype(np.float32), want.astype(np.float32))


@pytest.mark.parametrize("n", RANKS)
def test_all_reduce_in_place_and_coalesced(n):
    xs = data(n, (32, 40))
    ys = data(n, (8, 16))
    outs = run(k_all_reduce_inplace, n, lambda r: (xs[r], world(n)))
    for o in outs:
        np.testing.assert_allclose(o, np.sum(xs, axis=0), rtol=1e-5, atol=1e-5)
    outs = run(k_all_reduce_coalesced, n, lambda r: (xs[r], ys[r], world(n)))
    for a, b in outs:
        np.testing.assert_array_equal(a, np.max(xs, axis=0))
        np.testing.assert_array_equal(b, np.max(ys, axis=0))


@pytest.mark.parametrize("n", RANKS)
def test_all_gather(n):
    xs = data(n, (16, 24))
    outs = run(k_all_gather, n, lambda r: (xs[r], world(n), n))
    for o in outs:
        np.testing.assert_array_equal(o, np.concatenate(xs, axis=0))


@pytest.mark.parametrize("n", RANKS)
@pytest.mark.parametrize("dim", [0, 1])
def test_all_gather_sbuf(n, dim):
    xs = data(n, (128 // n if dim == 0 else 32, 48))
    outs = run(k_all_gather_sbuf, n, lambda r: (xs[r], world(n), n, dim))
    for o in outs:
        np.testing.assert_array_equal(o, np.concatenate(xs, axis=dim))


@pytest.mark.parametrize("n", RANKS)
@pytest.mark.parametrize("op,ref", [(nl.add, np.sum), (nl.maximum, np.max)])
def test_reduce_scatter(n, op, ref):
    xs = data(n, (8 * n, 20))
    outs = run(k_reduce_scatter, n, lambda r: (xs[r], world(n), n, op))
    total = ref(np.stack(xs), axis=0)
    for r, o in enumerate(outs):
        np.testing.assert_allclose(o, total[8 * r:8 * (r + 1)], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", RANKS)
def test_reduce_scatter_sbuf(n):
    xs = data(n, (128, 32))
    outs = run(k_reduce_scatter_sbuf, n, lambda r: (xs[r], world(n), n))
    total = np.sum(xs, axis=0)
    c = 128 // n
    for r, o in enumerate(outs):
        np.testing.assert_allclose(o, total[c * r:c * (r + 1)], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", RANKS)
def test_all_to_all(n):
    xs = data(n, (4 * n, 12))
    outs = run(k_all_to_all, n, lambda r: (xs[r], world(n)))
    for r, o in enumerate(outs):
        want = np.concatenate([xs[j][4 * r:4 * (r + 1)] for j in range(n)], axis=0)
        np.testing.assert_array_equal(o, want)


def a2av_case(n, recv_counts_known, has_rdispls, seed=0):
    g = np.random.default_rng(seed)
    counts = g.integers(0, 6, size=(n, n))          # counts[s, d]: elements rank s sends to d
    xs = [g.standard_normal(40).astype(np.float32) for _ in range(n)]
    metas, out_size, wants = [], 12 * n + 4, []
    for s in range(n):
        displs = np.concatenate([[0], np.cumsum(counts[s])[:-1]]) + 1   # leave element 0 unsent
        rows = [counts[s], displs]
        if recv_counts_known or has_rdispls:
            rows.append(counts[:, s])
        if has_rdispls:
            rows.append(2 * np.arange(n) * 6)          # spread blocks apart, gaps stay 0
        metas.append(np.array(rows, dtype=np.uint32))
    for d in range(n):
        want = np.zeros(out_size, np.float32)
        pos = 0
        for s in range(n):
            sd = np.concatenate([[0], np.cumsum(counts[s])[:-1]]) + 1
            block = xs[s][sd[d]:sd[d] + counts[s, d]]
            at = 2 * s * 6 if has_rdispls else pos
            want[at:at + len(block)] = block
            pos += len(block)
        wants.append(want)
    return xs, metas, out_size, wants


@nki.jit
def k_a2av(x, meta, rg, out_size, rck, hr):
    out = nl.ndarray((out_size,), dtype=x.dtype, buffer=nl.shared_hbm)
    z = nl.ndarray((1, out_size), dtype=x.dtype, buffer=nl.sbuf)
    nisa.memset(z, 0.0)
    nisa.dma_copy(dst=out.reshape((1, out_size)), src=z)
    ncc.all_to_all_v(srcs=[x], dsts=[out], replica_group=rg, metadata_tensor=meta,
                     recv_counts_known=rck, has_rdispls=hr)
    return out


@pytest.mark.parametrize("n", RANKS)
@pytest.mark.parametrize("rck,hr", [(False, False), (True, False), (True, True)])
def test_all_to_all_v(n, rck, hr):
    xs, metas, size, wants = a2av_case(n, rck, hr, seed=n)
    outs = run(k_a2av, n, lambda r: (xs[r], metas[r], world(n), size, rck, hr))
    for o, w in zip(outs, wants):
        np.testing.assert_array_equal(o, w)


def test_all_to_all_v_recv_count_mismatch():
    n = 2
    xs, metas, size, _ = a2av_case(n, True, False, seed=3)
    metas[1][2, 0] += 1
    with pytest.raises(ncc.NkiCollectiveError, match=r"all_to_all_v.*rank 1 expects"):
        run(k_a2av, n, lambda r: (xs[r], metas[r], world(n), size, True, False))


@pytest.mark.parametrize("n", RANKS)
def test_collective_permute(n):
    xs = data(n, (8, 8))
    pairs = [(r, (r + 3) % n) for r in range(n)]
    outs = run(k_permute, n, lambda r: (xs[r], pairs))
    for s, t in pairs:
        np.testing.assert_array_equal(outs[t], xs[s])


@pytest.mark.parametrize("n", RANKS)
def test_collective_permute_implicit(n):
    xs = data(n, (8, 16))
    channels = 4 if n > 2 else 2
    outs = run(k_ring, n, lambda r: (xs[r], world(n), channels))
    groups = [list(range(n))]
    for r, o in enumerate(outs):
        assert len(o) == channels
        for c in o:
            np.testing.assert_array_equal(c, xs[ring_pred(groups, r)])


@pytest.mark.parametrize("n", RANKS)
def test_collective_permute_implicit_reduce(n):
    xs, ys = data(n, (8, 16)), data(n, (8, 16))
    outs = run(k_ring_reduce, n, lambda r: (xs[r], ys[r], world(n), nl.add))
    for r, o in enumerate(outs):
        p = ring_pred([list(range(n))], r)
        np.testing.assert_allclose(o, xs[p] + ys[p], rtol=1e-6)


@pytest.mark.parametrize("n", RANKS)
def test_rank_id_and_processing_rank_id(n):
    x = np.zeros((1, 1), np.float32)
    outs = run(k_ids, n, lambda r: (x, world(n), n + 1))
    for r, (rid, ids) in enumerate(outs):
        assert rid == r
        assert ids == [(r - i) % n for i in range(n + 1)]


# ---------------------------------------------------------------- group splits
def test_group_split():
    n = 8
    groups = [[0, 2, 4, 6], [7, 5, 3, 1]]
    rg = ReplicaGroup(groups)
    xs = data(n, (8, 8))

    def members(r):
        return next(g for g in groups if r in g)

    outs = run(k_all_reduce, n, lambda r: (xs[r], rg, nl.add))
    for r, o in enumerate(outs):
        np.testing.assert_allclose(o, np.sum([xs[m] for m in members(r)], axis=0), rtol=1e-5)
    outs = run(k_all_gather, n, lambda r: (xs[r], rg, 4))
    for r, o in enumerate(outs):  # group order, not rank order
        np.testing.assert_array_equal(o, np.concatenate([xs[m] for m in members(r)]))
    outs = run(k_reduce_scatter, n, lambda r: (xs[r], rg, 4, nl.add))
    for r, o in enumerate(outs):
        k = members(r).index(r)
        np.testing.assert_allclose(o, np.sum([xs[m] for m in members(r)], axis=0)[2 * k:2 * k + 2],
                                   rtol=1e-5)
    outs = run(k_all_to_all, n, lambda r: (xs[r], rg))
    for r, o in enumerate(outs):
        k = members(r).index(r)
        np.testing.assert_array_equal(o, np.concatenate([xs[m][2 * k:2 * k + 2]
                                                         for m in members(r)]))
    outs = run(k_ring, n, lambda r: (xs[r], rg, 2))
    for r, o in enumerate(outs):
        np.testing.assert_array_equal(o[0], xs[ring_pred(groups, r)])
    outs = run(k_ids, n, lambda r: (xs[r], rg, 3))
    for r, (rid, ids) in enumerate(outs):
        g = members(r)
        assert ids == [g[(g.index(r) - i) % 4] for i in range(3)]


# ---------------------------------------------------------------- LNC=2 ranks, writeback, errors
def test_lnc2_ranks():
    import os
    if os.environ.get("NEURON_PLATFORM_TARGET_OVERRIDE", "trn3") == "trn1":
        pytest.skip("LNC=2 needs trn2/trn3")

    @nki.jit
    def k(x, rg):
        out = nl.ndarray((x.shape[0] * 2, x.shape[1]), dtype=x.dtype, buffer=nl.shared_hbm)
        p = nl.program_id(0)
        half = x.shape[0] // 2
        g = nl.ndarray((half * 2, x.shape[1]), dtype=x.dtype, buffer=nl.hbm)  # per program
        ncc.all_gather(srcs=[x[p * half:(p + 1) * half]], dsts=[g], replica_group=rg,
                       collective_dim=0)
        nisa.dma_copy(dst=out[p * 2 * half:(p + 1) * 2 * half], src=g)
        return out

    xs = data(2, (16, 8))
    outs = run(k[2], 2, lambda r: (xs[r], world(2)))
    want = np.concatenate([xs[0][:8], xs[1][:8], xs[0][8:], xs[1][8:]])
    for o in outs:
        np.testing.assert_array_equal(o, want)


def test_per_rank_inputs_forms():
    xs = data(2, (4, 4))
    a = run(k_all_reduce, 2, [dict(x=xs[0], rg=world(2), op=nl.add), (xs[1], world(2), nl.add)])
    b = run(k_all_reduce, 2, lambda r: ((xs[r],), dict(rg=world(2), op=nl.add)))
    np.testing.assert_array_equal(a[0], b[1])

    class PerRank:  # the shape of nki-library's PerRankLazyInputGenerator
        def for_rank(self, rank_id):
            return {"x": xs[rank_id], "rg": world(2), "op": nl.add}

    c = run(k_all_reduce, 2, PerRank())
    np.testing.assert_array_equal(a[1], c[0])


def expect(exc, n, kernel, inputs, *patterns, **kw):
    t0 = time.monotonic()
    with pytest.raises(exc) as info:
        run(kernel, n, inputs, **kw)
    msg = str(info.value)
    for p in patterns:
        assert p in msg, f"{p!r} not in:\n{msg}"
    assert time.monotonic() - t0 < 15
    return msg


def test_validation_rules():
    x = np.ones((8, 8), np.float32)

    @nki.jit
    def mixed(x, rg):
        t = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.sbuf)
        ncc.all_reduce(srcs=[x], dsts=[t], replica_group=rg, op=nl.add)

    expect(AssertionError, 2, mixed, lambda r: (x, world(2)), "mixing memory spaces",
           "test_collectives.py")

    @nki.jit
    def coalesced_sbuf(x, rg):
        a = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.sbuf)
        b = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.sbuf)
        ncc.all_gather(srcs=[a, b], dsts=[a, b], replica_group=rg, collective_dim=1)

    expect(AssertionError, 2, coalesced_sbuf, lambda r: (x, world(2)), "coalesced",
           "only supported", "on HBM")

    @nki.jit
    def psum(x, rg):
        a = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.psum)
        ncc.all_reduce(srcs=[a], dsts=[a], replica_group=rg, op=nl.add)

    expect(AssertionError, 2, psum, lambda r: (x, world(2)), "PSUM")

    @nki.jit
    def a2a_sbuf(x, rg):
        a = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.sbuf)
        ncc.all_to_all(srcs=[a], dsts=[a], replica_group=rg, collective_dim=0)

    expect(AssertionError, 2, a2a_sbuf, lambda r: (x, world(2)), "must reside on HBM")
    expect(AssertionError, 2, k_all_gather_sbuf, lambda r: (x, world(2), 2, 2), "collective_dim=2")

    @nki.jit
    def bad_op(x, rg):
        ncc.all_reduce(srcs=[x], dsts=[x], replica_group=rg, op=nl.multiply)

    expect(AssertionError, 2, bad_op, lambda r: (x.copy(), world(2)), "not a supported reduction")
    expect(AssertionError, 4, k_all_reduce, lambda r: (x.copy(), ReplicaGroup([[0, 1], [1, 2, 3]]),
                                                       nl.add), "names rank 1 in groups 0 and 1")
    expect(AssertionError, 2, k_all_reduce, lambda r: (x.copy(), ReplicaGroup([[0, 1, 1]]),
                                                       nl.add), "names rank 1 twice")
    expect(AssertionError, 2, k_all_reduce, lambda r: (x.copy(), ReplicaGroup([[0, 5]]), nl.add),
           "names rank 5")
    expect(AssertionError, 4, k_ring, lambda r: (x, ReplicaGroup([[0, 1], [2, 3]]), 3),
           "at most 2")

    @nki.jit
    def not_list(x, rg):
        ncc.all_reduce(srcs=x, dsts=[x], replica_group=rg, op=nl.add)

    expect(AssertionError, 2, not_list, lambda r: (x.copy(), world(2)), "must be a list")


def test_outside_rank_launch():
    x = np.ones((4, 4), np.float32)
    with pytest.raises(NotImplementedError, match="ranks=N"):
        nki.simulate(k_all_reduce)(x, world(1), nl.add)


def test_mismatched_shapes_and_dtypes():
    msg = expect(ncc.NkiCollectiveError, 4, k_all_reduce,
                 lambda r: (np.ones((8, 8 if r != 2 else 4), np.float32), world(4), nl.add),
                 "all_reduce", "ranks disagree", "rank 2: srcs [float32[8, 4]]",
                 "rank 0: srcs [float32[8, 8]]", "test_collectives.py")
    assert msg.count("k_all_reduce") >= 4
    expect(ncc.NkiCollectiveError, 2, k_all_gather,
           lambda r: (np.ones((4, 4), np.float32 if r == 0 else np.float16), world(2), 2),
           "all_gather", "ranks disagree", "float16[4, 4]")


def test_rank_that_never_joins():
    @nki.jit
    def k(x, rg):
        out = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
        if ncc.rank_id() != 3:
            ncc.all_reduce(srcs=[x], dsts=[out], replica_group=rg, op=nl.add)
        return out

    expect(ncc.NkiCollectiveError, 4, k, lambda r: (np.ones((4, 4), np.float32), world(4)),
           "all_reduce", "rank 3 returned from kernel 'k'", "rank 0 joined at",
           "test_collectives.py")


def test_deadlock_cycle():
    g01, g02, g12 = (ReplicaGroup([[0, 1], [2]]), ReplicaGroup([[0, 2], [1]]),
                     ReplicaGroup([[1, 2], [0]]))

    @nki.jit
    def k(x):
        out = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
        r = ncc.rank_id()
        order = {0: [g01, g02], 1: [g12, g01], 2: [g02, g12]}[r]
        for g in order:  # each rank waits for the next one: a cycle
            ncc.all_reduce(srcs=[x], dsts=[out], replica_group=g, op=nl.add)
        return out

    msg = expect(ncc.NkiCollectiveError, 3, k, lambda r: (np.ones((4, 4), np.float32),),
                 "deadlock", "all_reduce #0 over ranks [0, 1]", "all_reduce #0 over ranks [1, 2]",
                 "all_reduce #0 over ranks [0, 2]",
                 "rank 1 waits in nki.collectives.all_reduce over ranks [1, 2]")
    assert "test_collectives.py" in msg


def test_different_collectives_mismatch():
    @nki.jit
    def k(x, rg):
        out = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
        if ncc.rank_id() == 0:
            ncc.all_reduce(srcs=[x], dsts=[out], replica_group=rg, op=nl.add)
        else:
            ncc.all_to_all(srcs=[x], dsts=[out], replica_group=rg, collective_dim=0)
        return out

    expect(ncc.NkiCollectiveError, 2, k, lambda r: (np.ones((4, 4), np.float32), world(2)),
           "ranks call different collectives", "rank 0: nki.collectives.all_reduce",
           "rank 1: nki.collectives.all_to_all")


def test_timeout_when_a_rank_is_slow():
    @nki.jit
    def k(x, rg):
        out = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
        if ncc.rank_id() == 1:
            time.sleep(1.5)
        ncc.all_reduce(srcs=[x], dsts=[out], replica_group=rg, op=nl.add)
        return out

    expect(ncc.NkiCollectiveTimeoutError, 2, k, lambda r: (np.ones((4, 4), np.float32), world(2)),
           "all_reduce", "did not join within 0.3 s", "rank 1 is still running", timeout=0.3)


def test_failure_in_one_rank_is_reported_without_hang():
    @nki.jit
    def k(x, rg):
        out = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
        if ncc.rank_id() == 2:
            nl.ndarray((4, 4), dtype=nl.float32, buffer=nl.sbuf)[0:9]  # out of bounds
        ncc.all_reduce(srcs=[x], dsts=[out], replica_group=rg, op=nl.add)
        return out

    expect(IndexError, 4, k, lambda r: (np.ones((4, 4), np.float32), world(4)), "rank 2")


def test_ranks_argument_checked():
    with pytest.raises(AssertionError, match="positive int"):
        nki.simulate(k_all_reduce, ranks=0)
    with pytest.raises(AssertionError, match="not supported"):
        nki.simulate(k_all_reduce, ranks=2, record="graph.json")
    with pytest.raises(AssertionError, match="per-rank inputs"):
        run(k_all_reduce, 2, [(np.ones(2, np.float32), world(2), nl.add)])


# ---------------------------------------------------------------- rank_id as a runtime value
@nki.jit
def k_rank_slice(table, lookup):
    """Each rank reads table[rank]: rank_id() as the scalar_offset of a lookup (0.3.0 returns a
    register), then the looked-up value as the scalar_offset of the table."""
    _, H, W = table.shape
    out = nl.ndarray((H, W), dtype=table.dtype, buffer=nl.shared_hbm)
    r = nl.ndarray((1, 1), dtype=nl.int32, buffer=nl.sbuf)
    nisa.dma_copy(dst=r, src=lookup.ap(pattern=[[1, 1], [1, 1]], scalar_offset=ncc.rank_id(),
                                       indirect_dim=1))
    nisa.dma_copy(dst=out, src=table.ap(pattern=[[W, H], [1, W]], offset=0, scalar_offset=r,
                                        indirect_dim=0))
    return out


@pytest.mark.parametrize("n", [1, 2, 4])
def test_rank_id_as_a_scalar_offset(n):
    table = data(1, (max(n, 2), 8, 4))[0]
    lookup = np.arange(max(n, 2), dtype=np.int32)[::-1].copy().reshape(1, -1)  # rank -> n-1-rank
    if n == 1:  # a plain launch: rank 0
        np.testing.assert_array_equal(nki.simulate(k_rank_slice)(table, lookup), table[lookup[0, 0]])
        return
    outs = run(k_rank_slice, n, lambda r: (table, lookup))
    for r, o in enumerate(outs):
        np.testing.assert_array_equal(o, table[lookup[0, r]])
    assert ncc.rank_id() == 0 and isinstance(ncc.rank_id(), int)


@nki.jit
def k_ring_rows(table, rg, steps):
    """Step i of a ring reads table[processing rank of step i] with the processing rank id as the
    scalar_offset (nki-library's fine-grained all-gather places each received chunk this way)."""
    _, H, W = table.shape
    out = nl.ndarray((steps, H, W), dtype=table.dtype, buffer=nl.shared_hbm)
    for i in range(steps):
        rid = ncc.collective_permute_implicit_current_processing_rank_id(i, rg)
        t = nl.ndarray((H, W), dtype=table.dtype, buffer=nl.sbuf)
        nisa.dma_copy(dst=t, src=table.ap(pattern=[[W, H], [1, W]], offset=0, scalar_offset=rid,
                                          indirect_dim=0))
        nisa.dma_copy(dst=out[i], src=t)
    return out


def test_processing_rank_id_as_a_scalar_offset():
    n = 4
    table = data(1, (n, 8, 4))[0]
    outs = run(k_ring_rows, n, lambda r: (table, world(n), n))
    for r, o in enumerate(outs):
        np.testing.assert_array_equal(o, table[[(r - i) % n for i in range(n)]])
