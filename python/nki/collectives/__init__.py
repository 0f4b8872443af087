"""nki.collectives: communication between the ranks of a multi-rank launch (NKI 0.3.0).

Run a kernel that calls these with nki.simulate(kernel, ranks=N)(inputs) (threads in one
process) or under mpirun (one or more ranks per process, data over MPI); see python/nki/_ranks.py
for the rendezvous. Every call checks the documented rules (memory spaces, coalescing,
collective_dim, reduction ops, groups) and that all ranks of the group make the same call.
"""
import numpy as np

from .. import _core, _dtypes, _errors
from .. import _ranks
from .._errors import NkiUnsupportedError, NkiValidationError
from .._ranks import NkiCollectiveError, NkiCollectiveTimeoutError  # noqa: F401
from ..language import NKIObject

__all__ = ["ReplicaGroup", "all_reduce", "all_gather", "reduce_scatter", "all_to_all",
           "all_to_all_v", "collective_permute", "collective_permute_implicit",
           "collective_permute_implicit_reduce",
           "collective_permute_implicit_current_processing_rank_id", "rank_id",
           "NkiCollectiveError", "NkiCollectiveTimeoutError"]


class ReplicaGroup(NKIObject):
    """Groups of ranks taking part in a collective, e.g. ReplicaGroup([[0, 1], [2, 3]]).
    Sub-groups must not overlap; each runs its own instance of the collective."""

    def __init__(self, groups):
        self.groups = [list(g) for g in groups]

    def __repr__(self):
        return f"ReplicaGroup({self.groups})"

    def __eq__(self, other):
        return isinstance(other, ReplicaGroup) and self.groups == other.groups

    __hash__ = None


# ---------------------------------------------------------------- helpers
def _where():
    return _errors.where(2)


def _fail(name, msg, cls=NkiValidationError):
    loc = _where()
    text = f"nki.collectives.{name}: {msg}"
    raise cls(f"{text}\n  at {loc}" if loc else text)


def _context(name):
    world, rank = _ranks.current()
    if world is None:
        _fail(name, "collectives need a multi-rank launch: run the kernel with "
                    "nki.simulate(kernel, ranks=N)(inputs) (or under mpirun)", NkiUnsupportedError)
    return world, rank


_SPACE = {0: "sbuf", 1: "psum", 2: "hbm", 3: "hbm"}


def _dt(t):
    return _dtypes.ALL[t._dtype_id]


def _desc(t):
    return f"{_dt(t)}{list(t.shape)} in {_SPACE[t._buffer_id].upper()}"


def _tensor_list(name, label, x, exactly_one=False):
    if isinstance(x, _core.Tensor) or not isinstance(x, (list, tuple)):
        _fail(name, f"{label} must be a list of tensors, found {type(x).__name__}")
    if not x:
        _fail(name, f"{label} is empty: pass a list of tensors")
    for i, t in enumerate(x):
        if not isinstance(t, _core.Tensor):
            _fail(name, f"{label}[{i}] must be a tensor, found {type(t).__name__}")
    if exactly_one and len(x) != 1:
        _fail(name, f"{label} has {len(x)} tensors: coalesced collective communication is not "
                    "supported here, each list must contain exactly one tensor")
    return list(x)


def _space(name, tensors, hbm_only=False):
    spaces = {_SPACE[t._buffer_id] for t in tensors}
    if "psum" in spaces:
        t = next(t for t in tensors if t._buffer_id == 1)
        _fail(name, f"{t!r} is in PSUM: collective tensors must be on HBM or SBUF")
    if len(spaces) > 1:
        _fail(name, "mixing memory spaces is not supported: all tensors must be on HBM or all on "
                    "SBUF, found " + ", ".join(_desc(t) for t in tensors))
    space = spaces.pop()
    if hbm_only and space != "hbm":
        _fail(name, f"tensors must reside on HBM (SBUF is not supported for {name}), found "
                    + ", ".join(_desc(t) for t in tensors))
    return space


def _coalesce(name, space, srcs, dsts):
    if len(srcs) != len(dsts):
        _fail(name, f"{len(srcs)} sources but {len(dsts)} destinations: srcs and dsts must pair up")
    if len(srcs) > 1 and space != "hbm":
        _fail(name, f"coalesced collective communication ({len(srcs)} tensors) is only supported "
                    "when the tensors are on HBM; these are on SBUF")


def _same_dtype(name, s, d, i):
    if _dt(s) != _dt(d):
        _fail(name, f"srcs[{i}] is {_desc(s)} but dsts[{i}] is {_desc(d)}: source and destination "
                    "dtypes must match")


_OPS = None


def _op_name(name, op):
    global _OPS
    if _OPS is None:
        from .. import language as nl
        _OPS = {id(nl.add): "add", id(nl.minimum): "minimum", id(nl.maximum): "maximum"}
    n = _OPS.get(id(op))
    if n is None:
        _fail(name, f"op={getattr(op, '__name__', op)!r} is not a supported reduction: use nl.add, "
                    "nl.minimum or nl.maximum")
    return n


def _members(name, world, rank, replica_group):
    """The caller's sub-group (global rank ids, group order), after checking the whole group."""
    if not isinstance(replica_group, ReplicaGroup):
        _fail(name, f"replica_group must be a nki.collectives.ReplicaGroup, found "
                    f"{type(replica_group).__name__}")
    seen = {}
    mine = None
    for gi, g in enumerate(replica_group.groups):
        if not g:
            _fail(name, f"{replica_group!r}: group {gi} is empty")
        for r in g:
            if isinstance(r, bool) or not isinstance(r, (int, np.integer)):
                _fail(name, f"{replica_group!r}: rank {r!r} is not an int")
            r = int(r)
            if not 0 <= r < world.size:
                _fail(name, f"{replica_group!r} names rank {r}, but the launch has ranks "
                            f"0..{world.size - 1}")
            if r in seen:
                where = "twice in group %d" % gi if seen[r] == gi else \
                    f"in groups {seen[r]} and {gi} (sub-groups must not overlap)"
                _fail(name, f"{replica_group!r} names rank {r} {where}")
            seen[r] = gi
        if rank in [int(r) for r in g]:
            mine = tuple(int(r) for r in g)
    if mine is None:
        _fail(name, f"rank {rank} is not in any group of {replica_group!r}")
    return mine


def _view(t):
    return t._numpy(_dtypes.numpy_dtype(_dt(t)))


def _tmeta(ts):
    return tuple((str(_dt(t)), tuple(t.shape)) for t in ts)


def _fmt(ts):
    return "[" + ", ".join(f"{d}{list(s)}" for d, s in ts) + "]"


_UFUNC = {"add": np.add, "minimum": np.minimum, "maximum": np.maximum}


def _reduce_into(out, sources, op):
    """out = op-reduction of sources in order: float32 math for low-precision floats, rounded once."""
    uf = _UFUNC[op]
    if len(sources) == 1:
        np.copyto(out, sources[0], casting="unsafe")
        return
    if out.dtype.kind in "iu" or out.dtype in (np.float32, np.float64):
        uf(sources[0], sources[1], out=out)
        for s in sources[2:]:
            uf(out, s, out=out)
        return
    acc = sources[0].astype(np.float32)
    for s in sources[1:]:
        uf(acc, s.astype(np.float32), out=acc)
    np.copyto(out, acc, casting="unsafe")


def _chunk(a, axis, i, n):
    size = a.shape[axis] // n
    idx = [slice(None)] * a.ndim
    idx[axis] = slice(i * size, (i + 1) * size)
    return a[tuple(idx)]


# ---------------------------------------------------------------- algorithms
class _Algo:
    """How one collective runs once every member has arrived. Instances travel over MPI."""
    group_tag = None
    steps = 1

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def check(self, r, world):
        ops = [r.ops[m] for m in r.members]
        first = ops[0]
        if any(o.name != first.name for o in ops):
            return (NkiCollectiveError, _mismatch(r, "ranks call different collectives",
                                                  lambda o: f"nki.collectives.{o.name}"))
        if any(o.meta != first.meta for o in ops):
            return (NkiCollectiveError, _mismatch(r, "ranks disagree on " + self.meta_what,
                                                  self.describe))
        err = self.check_more(r)
        if err:
            return (NkiCollectiveError, f"nki.collectives.{first.name} over ranks "
                                        f"{list(r.members)}: {err}")
        # Snapshot the sources first when a destination of this process overlaps a source
        # (in-place collectives): every member then reads the values from before the call.
        dsts = [d for m in r.local for d in (r.ops[m].dsts or ())]
        srcs = [s for m in r.local for s in r.ops[m].srcs]
        r.snapshot = any(np.may_share_memory(d, s) for d in dsts for s in srcs)
        return None

    meta_what = "the tensors"

    def describe(self, o):
        return f"srcs {_fmt(o.meta[0])} dsts {_fmt(o.meta[1])}" + \
            "".join(f" {k}={v}" for k, v in o.meta[2:])

    def check_more(self, r):
        return None

    def phases(self, r, world):
        return self.steps + (1 if r.snapshot else 0)

    def run(self, phase, r, me, world):
        if r.snapshot:
            if phase == 0:
                c = r.ops[me]
                c.srcs = [np.array(s) for s in c.srcs]
                return
            phase -= 1
        self.step(phase, r, me, world)


def _mismatch(r, what, describe):
    first = r.ops[r.members[0]]
    lines = [f"nki.collectives.{first.name} #{r.key[3]} over ranks {list(r.members)}: {what}"]
    for m in r.members:
        o = r.ops[m]
        lines.append(f"  rank {m}: {describe(o)} at {o.where or '<unknown line>'}")
    return "\n".join(lines)


class _AllReduce(_Algo):
    """Each member of this process reduces its share of the rows once and writes the result
    into every local member's destination (the share is still in cache for the copies)."""

    def step(self, phase, r, me, world):
        c = r.ops[me]
        n = len(r.local)
        j = r.local.index(me)
        for t, dst in enumerate(c.dsts):
            rows = dst.shape[0] if dst.ndim else 1
            lo, hi = rows * j // n, rows * (j + 1) // n
            if hi <= lo:
                continue
            mine = dst[lo:hi]
            _reduce_into(mine, [r.ops[m].srcs[t][lo:hi] for m in r.members], self.op)
            for m in r.local:
                if m != me:
                    np.copyto(r.ops[m].dsts[t][lo:hi], mine)


class _AllGather(_Algo):
    def step(self, phase, r, me, world):
        c = r.ops[me]
        n = len(r.members)
        for t, dst in enumerate(c.dsts):
            for i, m in enumerate(r.members):
                np.copyto(_chunk(dst, self.dim, i, n), r.ops[m].srcs[t])


def _my_chunks(r, me, t, dim):
    """Rank `me`'s chunk (along dim) of every member's t-th source, in member order."""
    n, i = len(r.members), r.members.index(me)
    return [_chunk(r.ops[m].srcs[t], dim, i, n) for m in r.members]


class _ReduceScatter(_Algo):
    def step(self, phase, r, me, world):
        for t, dst in enumerate(r.ops[me].dsts):
            _reduce_into(dst, _my_chunks(r, me, t, self.dim), self.op)


class _AllToAll(_Algo):
    def step(self, phase, r, me, world):
        n = len(r.members)
        for t, dst in enumerate(r.ops[me].dsts):
            for j, part in enumerate(_my_chunks(r, me, t, self.dim)):
                np.copyto(_chunk(dst, self.dim, j, n), part)


class _AllToAllV(_Algo):
    meta_what = "the dtypes and flags"

    def describe(self, o):
        return f"src {o.meta[0]} dst {o.meta[1]} " + " ".join(f"{k}={v}" for k, v in o.meta[2:])

    def _plan(self, r, me):
        """[(source rank, src offset, count, dst offset)] for rank `me`; raises ValueError."""
        i = r.members.index(me)
        mine = r.ops[me].extra
        plan, pos = [], 0
        for j, m in enumerate(r.members):
            meta = r.ops[m].extra
            cnt, disp = int(meta["table"][0][i]), int(meta["table"][1][i])
            if disp + cnt > meta["src_size"]:
                raise ValueError(f"rank {m} sends elements [{disp}, {disp + cnt}) of its "
                                 f"{meta['src_size']}-element source to rank {me} (metadata row 0/"
                                 f"1, column {i})")
            if self.recv_counts_known and int(mine["table"][2][j]) != cnt:
                raise ValueError(f"rank {me} expects {int(mine['table'][2][j])} elements from "
                                 f"rank {m} (metadata row 2, column {j}) but rank {m} sends {cnt}")
            at = int(mine["table"][3][j]) if self.has_rdispls else pos
            if at + cnt > mine["dst_size"]:
                raise ValueError(f"rank {me} receives {cnt} elements from rank {m} at element {at}"
                                 f", past the end of its {mine['dst_size']}-element destination")
            plan.append((m, disp, cnt, at))
            pos += cnt
        return plan

    def check_more(self, r):
        for me in r.members:
            try:
                self._plan(r, me)
            except ValueError as e:
                return f"{e}\n  at {r.ops[me].where}"
        return None

    def step(self, phase, r, me, world):
        c = r.ops[me]
        dst = c.dsts[0]
        flat = dst.reshape(-1) if dst.flags.c_contiguous else np.array(dst).reshape(-1)
        for m, disp, cnt, at in self._plan(r, me):
            if cnt:
                s = r.ops[m].srcs[0]
                sflat = s.reshape(-1)
                flat[at:at + cnt] = sflat[disp:disp + cnt]
        if not dst.flags.c_contiguous:
            np.copyto(dst, flat.reshape(dst.shape))


class _Permute(_Algo):
    def step(self, phase, r, me, world):
        c = r.ops[me]
        src = dict((t, s) for s, t in self.pairs).get(me)
        if src is not None:
            np.copyto(c.dsts[0], r.ops[src].srcs[0])


class _Ring(_Algo):
    def step(self, phase, r, me, world):
        c = r.ops[me]
        n = len(r.members)
        pred = r.members[(r.members.index(me) - 1) % n]
        p = r.ops[pred]
        for ch, dst in enumerate(c.dsts):
            if self.op is None:
                np.copyto(dst, p.srcs[ch])
            else:
                _reduce_into(dst, [p.srcs[2 * ch], p.srcs[2 * ch + 1]], self.op)


def _join(name, world, rank, members, srcs, dsts, meta, algo, extra=None, overwrite=True):
    if overwrite:  # every destination is written whole: no sentinel fill needed first
        for d in dsts:
            _core.collective_claim(d, srcs)
    c = _ranks.Contribution(name, rank, _ranks._program_id(), members, _where(), meta,
                            [_view(s) for s in srcs], [_view(d) for d in dsts],
                            [d for d in dsts if d._buffer_id in (0, 1)], extra, algo)
    try:
        world.join(c)
    except NkiValidationError as e:
        msg = str(e)
        if "\n  at " not in msg and c.where:
            msg = f"{msg}\n  at {c.where}"
        raise type(e)(msg) from None


# ---------------------------------------------------------------- the 0.3.0 API
def all_reduce(srcs, dsts, replica_group, op):
    """Every rank of each group receives in dsts[i] the element-wise `op` (nl.add, nl.minimum,
    nl.maximum) of all the group's srcs[i]. HBM or SBUF; lists of several tensors on HBM only."""
    name = "all_reduce"
    world, rank = _context(name)
    srcs, dsts = _tensor_list(name, "srcs", srcs), _tensor_list(name, "dsts", dsts)
    space = _space(name, srcs + dsts)
    _coalesce(name, space, srcs, dsts)
    opn = _op_name(name, op)
    for i, (s, d) in enumerate(zip(srcs, dsts)):
        _same_dtype(name, s, d, i)
        if tuple(s.shape) != tuple(d.shape):
            _fail(name, f"srcs[{i}] is {_desc(s)} but dsts[{i}] is {_desc(d)}: shapes must match")
    members = _members(name, world, rank, replica_group)
    _join(name, world, rank, members, srcs, dsts,
          (_tmeta(srcs), _tmeta(dsts), ("op", opn), ("space", space)), _AllReduce(op=opn))


def all_gather(srcs, dsts, replica_group, collective_dim):
    """dsts[i] = the group's srcs[i] concatenated in group order along collective_dim (0 on HBM;
    0 or 1 on SBUF, 2-D tiles). HBM or SBUF; lists of several tensors on HBM only."""
    name = "all_gather"
    world, rank = _context(name)
    srcs, dsts = _tensor_list(name, "srcs", srcs), _tensor_list(name, "dsts", dsts)
    space = _space(name, srcs + dsts)
    _coalesce(name, space, srcs, dsts)
    members = _members(name, world, rank, replica_group)
    n = len(members)
    dim = _collective_dim(name, collective_dim, (0,) if space == "hbm" else (0, 1), space)
    for i, (s, d) in enumerate(zip(srcs, dsts)):
        _same_dtype(name, s, d, i)
        if space == "sbuf" and (len(s.shape) != 2 or len(d.shape) != 2):
            _fail(name, f"SBUF collectives operate on 2-D tiles (partition, free), found "
                        f"{_desc(s)} -> {_desc(d)}")
        want = list(s.shape)
        if dim >= len(want):
            _fail(name, f"collective_dim={dim} but srcs[{i}] is {_desc(s)}")
        want[dim] *= n
        if list(d.shape) != want:
            _fail(name, f"dsts[{i}] is {_desc(d)} but gathering {n} ranks' {_desc(s)} along dim "
                        f"{dim} gives {want}")
    _join(name, world, rank, members, srcs, dsts,
          (_tmeta(srcs), _tmeta(dsts), ("collective_dim", dim), ("space", space)),
          _AllGather(dim=dim))


def reduce_scatter(srcs, dsts, replica_group, collective_dim, op):
    """The group's srcs[i] reduced with `op`, split along collective_dim (0) into one chunk per
    rank: the rank at position k of its group receives chunk k. HBM or SBUF."""
    name = "reduce_scatter"
    world, rank = _context(name)
    srcs, dsts = _tensor_list(name, "srcs", srcs), _tensor_list(name, "dsts", dsts)
    space = _space(name, srcs + dsts)
    _coalesce(name, space, srcs, dsts)
    opn = _op_name(name, op)
    dim = _collective_dim(name, collective_dim, (0,), space)
    members = _members(name, world, rank, replica_group)
    n = len(members)
    for i, (s, d) in enumerate(zip(srcs, dsts)):
        _same_dtype(name, s, d, i)
        want = list(s.shape)
        if want[0] % n:
            _fail(name, f"srcs[{i}] is {_desc(s)}: dim 0 ({want[0]}) does not split into {n} "
                        "equal chunks")
        want[0] //= n
        if list(d.shape) != want:
            _fail(name, f"dsts[{i}] is {_desc(d)} but each of {n} ranks receives a {want} chunk "
                        f"of {_desc(s)}")
    _join(name, world, rank, members, srcs, dsts,
          (_tmeta(srcs), _tmeta(dsts), ("op", opn), ("collective_dim", dim), ("space", space)),
          _ReduceScatter(op=opn, dim=dim))


def all_to_all(srcs, dsts, replica_group, collective_dim):
    """srcs[i] split along collective_dim (0) into one chunk per rank; chunk k goes to the rank
    at position k of the group, which concatenates what it receives in group order. HBM only."""
    name = "all_to_all"
    world, rank = _context(name)
    srcs, dsts = _tensor_list(name, "srcs", srcs), _tensor_list(name, "dsts", dsts)
    space = _space(name, srcs + dsts, hbm_only=True)
    _coalesce(name, space, srcs, dsts)
    dim = _collective_dim(name, collective_dim, (0,), space)
    members = _members(name, world, rank, replica_group)
    n = len(members)
    for i, (s, d) in enumerate(zip(srcs, dsts)):
        _same_dtype(name, s, d, i)
        if tuple(s.shape) != tuple(d.shape):
            _fail(name, f"srcs[{i}] is {_desc(s)} but dsts[{i}] is {_desc(d)}: shapes must match")
        if s.shape[0] % n:
            _fail(name, f"srcs[{i}] is {_desc(s)}: dim 0 ({s.shape[0]}) does not split into {n} "
                        "equal chunks")
    _join(name, world, rank, members, srcs, dsts,
          (_tmeta(srcs), _tmeta(dsts), ("collective_dim", dim)), _AllToAll(dim=dim))


def all_to_all_v(srcs, dsts, replica_group, metadata_tensor, recv_counts_known=False,
                 has_rdispls=False):
    """Variable-size all-to-all over flat (row-major) element buffers. metadata_tensor: uint32
    [2..4, group size]; row 0 send counts and row 1 send displacements per destination rank,
    row 2 receive counts (recv_counts_known), row 3 receive displacements (has_rdispls;
    otherwise received blocks are packed in group order). One src and one dst, on HBM."""
    name = "all_to_all_v"
    world, rank = _context(name)
    srcs = _tensor_list(name, "srcs", srcs, exactly_one=True)
    dsts = _tensor_list(name, "dsts", dsts, exactly_one=True)
    _space(name, srcs + dsts, hbm_only=True)
    _same_dtype(name, srcs[0], dsts[0], 0)
    members = _members(name, world, rank, replica_group)
    n = len(members)
    if not isinstance(metadata_tensor, _core.Tensor):
        _fail(name, f"metadata_tensor must be a tensor, found {type(metadata_tensor).__name__}")
    if _dt(metadata_tensor) != "uint32":
        _fail(name, f"metadata_tensor is {_desc(metadata_tensor)}: it must be uint32")
    rows = 4 if has_rdispls else 3 if recv_counts_known else 2
    ms = tuple(metadata_tensor.shape)
    if len(ms) != 2 or ms[1] != n or not rows <= ms[0] <= 4:
        _fail(name, f"metadata_tensor is {_desc(metadata_tensor)} but needs shape ({rows}..4, {n}) "
                    f"(rows: send counts, send displacements"
                    f"{', receive counts' if recv_counts_known else ''}"
                    f"{', receive displacements' if has_rdispls else ''}; one column per rank of "
                    f"the group)")
    table = np.array(_view(metadata_tensor), dtype=np.int64)
    extra = {"table": table, "src_size": int(np.prod(srcs[0].shape)),
             "dst_size": int(np.prod(dsts[0].shape))}
    _join(name, world, rank, members, srcs, dsts,
          (str(_dt(srcs[0])), str(_dt(dsts[0])), ("recv_counts_known", bool(recv_counts_known)),
           ("has_rdispls", bool(has_rdispls))),
          _AllToAllV(recv_counts_known=bool(recv_counts_known), has_rdispls=bool(has_rdispls)),
          extra, overwrite=False)


def collective_permute(srcs, dsts, source_target_pairs):
    """For each (source, target) pair, the source rank's srcs[0] lands in the target's dsts[0].
    HBM only, one tensor per list. Ranks named in no pair return at once."""
    name = "collective_permute"
    world, rank = _context(name)
    srcs = _tensor_list(name, "srcs", srcs, exactly_one=True)
    dsts = _tensor_list(name, "dsts", dsts, exactly_one=True)
    _space(name, srcs + dsts, hbm_only=True)
    _same_dtype(name, srcs[0], dsts[0], 0)
    if tuple(srcs[0].shape) != tuple(dsts[0].shape):
        _fail(name, f"srcs[0] is {_desc(srcs[0])} but dsts[0] is {_desc(dsts[0])}: shapes must "
                    "match")
    try:
        pairs = [(int(a), int(b)) for a, b in source_target_pairs]
    except (TypeError, ValueError):
        _fail(name, f"source_target_pairs must be a list of (source, target) rank pairs, found "
                    f"{source_target_pairs!r}")
    sources, targets = set(), set()
    for a, b in pairs:
        for x in (a, b):
            if not 0 <= x < world.size:
                _fail(name, f"pair ({a}, {b}) names rank {x}, but the launch has ranks "
                            f"0..{world.size - 1}")
        if a in sources:
            _fail(name, f"rank {a} is the source of more than one pair in {pairs}")
        if b in targets:
            _fail(name, f"rank {b} is the target of more than one pair in {pairs}")
        sources.add(a)
        targets.add(b)
    members = tuple(sorted(sources | targets))
    if rank not in members:
        return
    _join(name, world, rank, members, srcs, dsts,
          (_tmeta(srcs), _tmeta(dsts), ("pairs", tuple(pairs))), _Permute(pairs=tuple(pairs)),
          overwrite=rank in targets)


def _channels(name, world, members, by_channel, channel_ids):
    try:
        ids = [int(c) for c in channel_ids]
    except (TypeError, ValueError):
        _fail(name, f"channel_ids must be a list of ints, found {channel_ids!r}")
    if ids != list(range(len(ids))) or not ids:
        _fail(name, f"channel_ids={list(channel_ids)}: channel ids must be consecutive integers "
                    "starting from 0")
    limit = 4 if len(members) == world.size else 2
    if len(ids) > limit:
        _fail(name, f"{len(ids)} channels: at most {limit} for "
                    f"{'a group of every rank' if limit == 4 else 'a group of only some ranks'}")
    for label, lists in by_channel:
        if not isinstance(lists, (list, tuple)) or len(lists) != len(ids):
            _fail(name, f"{label} must be a list with one tensor list per channel "
                        f"({len(ids)} channels in channel_ids)")
    return ids


def collective_permute_implicit(srcs_by_channel, dsts_by_channel, replica_group, channel_ids=[0]):
    """One ring step per channel: every rank sends srcs_by_channel[c][0] to its successor in its
    group and receives its predecessor's into dsts_by_channel[c][0]."""
    name = "collective_permute_implicit"
    world, rank = _context(name)
    members = _members(name, world, rank, replica_group)
    ids = _channels(name, world, members, [("srcs_by_channel", srcs_by_channel),
                                           ("dsts_by_channel", dsts_by_channel)], channel_ids)
    srcs, dsts = [], []
    for c in ids:
        srcs += _tensor_list(name, f"srcs_by_channel[{c}]", srcs_by_channel[c], exactly_one=True)
        dsts += _tensor_list(name, f"dsts_by_channel[{c}]", dsts_by_channel[c], exactly_one=True)
    space = _space(name, srcs + dsts)
    for i, (s, d) in enumerate(zip(srcs, dsts)):
        _same_dtype(name, s, d, i)
        if tuple(s.shape) != tuple(d.shape):
            _fail(name, f"channel {i}: source {_desc(s)} and destination {_desc(d)} differ in "
                        "shape")
    _join(name, world, rank, members, srcs, dsts,
          (_tmeta(srcs), _tmeta(dsts), ("channels", len(ids)), ("space", space)), _Ring(op=None))


def collective_permute_implicit_reduce(srcs0_by_channel, srcs1_by_channel, dsts_by_channel,
                                       replica_group, op, channel_ids=[0]):
    """Ring step with reduction: every rank sends op(srcs0[c][0], srcs1[c][0]) to its successor
    and receives its predecessor's reduced data into dsts_by_channel[c][0]."""
    name = "collective_permute_implicit_reduce"
    world, rank = _context(name)
    opn = _op_name(name, op)
    members = _members(name, world, rank, replica_group)
    ids = _channels(name, world, members, [("srcs0_by_channel", srcs0_by_channel),
                                           ("srcs1_by_channel", srcs1_by_channel),
                                           ("dsts_by_channel", dsts_by_channel)], channel_ids)
    srcs, dsts = [], []
    for c in ids:
        a = _tensor_list(name, f"srcs0_by_channel[{c}]", srcs0_by_channel[c], exactly_one=True)
        b = _tensor_list(name, f"srcs1_by_channel[{c}]", srcs1_by_channel[c], exactly_one=True)
        d = _tensor_list(name, f"dsts_by_channel[{c}]", dsts_by_channel[c], exactly_one=True)
        for x in (a[0], b[0]):
            _same_dtype(name, x, d[0], c)
            if tuple(x.shape) != tuple(d[0].shape):
                _fail(name, f"channel {c}: source {_desc(x)} and destination {_desc(d[0])} "
                            "differ in shape")
        srcs += [a[0], b[0]]
        dsts += d
    space = _space(name, srcs + dsts)
    _join(name, world, rank, members, srcs, dsts,
          (_tmeta(srcs), _tmeta(dsts), ("op", opn), ("channels", len(ids)), ("space", space)),
          _Ring(op=opn))


def collective_permute_implicit_current_processing_rank_id(iteration_id, replica_group,
                                                           channel_id=0):
    """The rank whose data is processed at ring step `iteration_id`: the caller's own rank at step
    0, then its predecessors around its group's ring. 0.3.0 returns a register: an int here that
    `.ap(scalar_offset=...)` also takes (see rank_id)."""
    name = "collective_permute_implicit_current_processing_rank_id"
    world, rank = _context(name)
    members = _members(name, world, rank, replica_group)
    if isinstance(iteration_id, bool) or not isinstance(iteration_id, (int, np.integer)):
        _fail(name, f"iteration_id must be an int (the ring step), found "
                    f"{type(iteration_id).__name__}", NkiUnsupportedError)
    if isinstance(channel_id, bool) or not isinstance(channel_id, (int, np.integer)) \
            or not 0 <= int(channel_id) < 4:
        _fail(name, f"channel_id={channel_id!r} must be an int from 0 to num_channels - 1")
    n = len(members)
    return _ranks.RankId(members[(members.index(rank) - int(iteration_id)) % n])


def rank_id():
    """The rank of the calling kernel in its launch (0..N-1 of nki.simulate(kernel, ranks=N));
    0 in a single-rank launch. An int that `.ap(scalar_offset=...)` also takes (0.3.0 returns a
    register)."""
    return _ranks.RankId(_ranks.current()[1])


def _collective_dim(name, dim, allowed, space):
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or int(dim) not in allowed:
        _fail(name, f"collective_dim={dim!r}: only {' or '.join(map(str, allowed))} is supported "
                    f"for {space.upper()} tensors")
    return int(dim)
