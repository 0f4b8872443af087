"""N ranks of a kernel (issue 12): the rank launcher, the rendezvous of nki.collectives, MPI.

nki.simulate(kernel, ranks=N)(inputs) runs N ranks. Each rank is one ordinary launch of the
kernel (python/nki/_kernel.py: its own programs, interpreters and HBM) on its own thread; the
kernel function is wrapped so that every program thread of a rank knows its rank and its World.

A collective call is a Contribution (one rank's view of the call: tensors as numpy views of
simulated memory, the cross-rank metadata, the kernel line). Contributions meet in a Rendezvous
keyed by (program id, group, sequence number of this group's collectives on this rank/program).
When every member has arrived the first local member checks that the calls match, then every
local member runs its share of the collective's algorithm, phase by phase, with a barrier of the
local members between phases and at the end (so no rank reuses a source before its peers read it).

Under MPI (mpirun -n P python script.py, mpi4py) each process runs a block of the ranks; every
contribution is also sent (with copies of its sources) to the other processes that host members
of its group, so every process sees every member's contribution and computes its own ranks'
destinations. Waits poll MPI; nothing blocks forever: a bounded wait ends with an error naming
the collective, the ranks and the kernel lines.
"""
import functools
import inspect
import os
import threading
import time

import numpy as np

from . import _core, _errors
from ._errors import NkiValidationError

_tls = threading.local()  # .world, .rank: set in every program thread of a rank launch


class NkiCollectiveError(NkiValidationError):
    """A collective could not complete: ranks disagree, a rank never joined, a deadlock."""


class NkiCollectiveTimeoutError(NkiCollectiveError, TimeoutError):
    """A collective waited longer than the timeout for its peers."""


class _Aborted(NkiCollectiveError):
    """A collective given up because another rank failed (the other rank's error is reported)."""


class RankId(int):
    """The value of ncc.rank_id() and ncc.collective_permute_implicit_current_processing_rank_id():
    the rank as an int for Python code (comparisons, arithmetic, static indexing), and also usable
    where 0.3.0 wants a runtime value (both return a register in 0.3.0; nki-library passes them as
    `.ap(scalar_offset=...)`): there it becomes a register of the running core holding the rank."""
    __slots__ = ()

    def __repr__(self):
        return f"rank_id({int(self)})"


def current():
    """(world, rank) of the calling program thread, or (None, 0) outside a rank launch."""
    return getattr(_tls, "world", None), getattr(_tls, "rank", 0)


def _program_id():
    from . import _kernel
    return _kernel.program_id()


def default_timeout():
    return float(os.environ.get("NKI_SIM_COLLECTIVE_TIMEOUT", "300"))


# ---------------------------------------------------------------- contributions and rendezvous
class Contribution:
    """One rank's call of a collective. srcs: numpy arrays (views of simulated memory, or copies
    received from another process); dsts: numpy views (local ranks only); tensors: the
    destination NkiTensors (to record on-chip writes); meta: what must match across ranks;
    extra: per-rank data the algorithm needs (e.g. all_to_all_v's metadata)."""
    __slots__ = ("name", "rank", "program", "members", "where", "meta", "srcs", "dsts", "tensors",
                 "extra", "algo")

    def __init__(self, name, rank, program, members, where, meta, srcs, dsts=None, tensors=(),
                 extra=None, algo=None):
        self.name, self.rank, self.program, self.members = name, rank, program, tuple(members)
        self.where, self.meta, self.srcs, self.dsts = where, meta, srcs, dsts
        self.tensors, self.extra, self.algo = tensors, extra, algo


class Rendezvous:
    def __init__(self, key, members, local):
        self.key = key
        self.members = members                       # group order
        self.local = [m for m in members if m in local]
        self.ops = {}                                # rank -> Contribution
        self.complete = False
        self.error = None                            # (exception class, message) for everyone
        self.checked = False
        self.barrier = 0                             # arrivals at the current barrier
        self.generation = 0
        self.left = 0


def _describe_where(w):
    return w if w else "<unknown line>"


class World:
    """The ranks of one multi-rank launch as this process sees them."""

    def __init__(self, size, local, grid, timeout, kernel_name, transport=None):
        self.size = size
        self.local = set(local)
        self.grid = grid
        self.timeout = timeout
        self.kernel_name = kernel_name
        self.transport = transport
        self.cond = threading.Condition()
        self.rdv = {}
        self.seq = {}
        # (rank, program) -> ["run"] | ["wait", rdv, contribution] | ["done", text]
        self.state = {(r, p): ["run"] for r in local for p in range(grid)}
        self.remote_done = {}   # (rank, program) -> text, from other processes
        self.failure = None     # (rank, program, message) of the first failed program

    # ---- participants
    def finish(self, rank, program):
        with self.cond:
            self.state[(rank, program)] = ["done", f"returned from kernel "
                                                   f"'{self.kernel_name}'"]
            self._check_deadlock()
            self.cond.notify_all()
        if self.transport is not None:
            self.transport.notify_done(rank, program, self.state[(rank, program)][1])

    def fail(self, rank, program, exc):
        if isinstance(exc, _Aborted):
            msg = None
        else:
            msg = f"failed with {type(exc).__name__}: {exc}"
        with self.cond:
            self.state[(rank, program)] = ["done", msg or "gave up (another rank failed)"]
            if msg and self.failure is None:
                self.failure = (rank, program, msg)
            self.cond.notify_all()
        if self.transport is not None and msg:
            self.transport.notify_failure(rank, program, msg)

    # ---- called by the transport (under self.cond)
    def deliver(self, key, c):
        r = self.rdv.get(key)
        if r is None:
            r = self.rdv[key] = Rendezvous(key, c.members, self.local)
        r.ops[c.rank] = c
        self._maybe_complete(r)

    def deliver_done(self, rank, program, text):
        self.remote_done[(rank, program)] = text
        self.cond.notify_all()

    def deliver_failure(self, rank, program, msg):
        self.remote_done[(rank, program)] = msg
        if self.failure is None:
            self.failure = (rank, program, msg)
        self.cond.notify_all()

    def _maybe_complete(self, r):
        if not r.complete and len(r.ops) == len(r.members):
            r.complete = True
            for m in r.local:
                st = self.state.get((m, r.key[0]))
                if st is not None and st[0] == "wait":
                    self.state[(m, r.key[0])] = ["run"]
            self.cond.notify_all()

    # ---- the collective
    def join(self, c):
        """Take part in a collective: wait for every member, check, run this rank's share."""
        gkey = (c.rank, c.program, c.members, c.algo.group_tag)
        with self.cond:
            seq = self.seq.get(gkey, 0)
            self.seq[gkey] = seq + 1
            key = (c.program, c.members, c.algo.group_tag, seq)
            r = self.rdv.get(key)
            if r is None:
                r = self.rdv[key] = Rendezvous(key, c.members, self.local)
            r.ops[c.rank] = c
            self.state[(c.rank, c.program)] = ["wait", r, c]
            self._maybe_complete(r)
            self._check_deadlock()
        if self.transport is not None:
            self.transport.post(key, c)
        deadline = time.monotonic() + self.timeout
        self._wait(r, c, lambda: r.complete, deadline, arriving=True)
        with self.cond:
            self.state[(c.rank, c.program)] = ["run"]
            if not r.checked:
                r.checked = True
                r.error = c.algo.check(r, self)
            if r.error is not None:
                self._leave(r)
                raise r.error[0](r.error[1])
        try:
            for phase in range(c.algo.phases(r, self)):
                try:
                    c.algo.run(phase, r, c.rank, self)
                except Exception as e:  # let the other members stop waiting for this one
                    with self.cond:
                        if r.error is None:
                            r.error = (NkiCollectiveError, (
                                f"nki.collectives.{c.name} over ranks {list(r.members)}: rank "
                                f"{c.rank} failed while moving data: {type(e).__name__}: {e}"))
                        self.cond.notify_all()
                    raise r.error[0](r.error[1]) from e
                self._barrier(r, c, deadline)
            for t in c.tensors:
                _core.collective_mark_written(t)
        finally:
            with self.cond:
                self._leave(r)

    def _leave(self, r):
        r.left += 1
        if r.left == len(r.local):
            self.rdv.pop(r.key, None)

    def _barrier(self, r, c, deadline):
        with self.cond:
            gen = r.generation
            r.barrier += 1
            if r.barrier == len(r.local):
                r.barrier = 0
                r.generation += 1
                self.cond.notify_all()
                return
        self._wait(r, c, lambda: r.generation != gen, deadline, arriving=False)

    def _wait(self, r, c, ready, deadline, arriving):
        poll = 0.002 if self.transport is not None else None
        while True:
            if self.transport is not None:
                self.transport.poll(self)
            with self.cond:
                if ready():
                    return
                if r.error is not None and not arriving:
                    raise r.error[0](r.error[1])
                if r.error is not None:
                    self.state[(c.rank, c.program)] = ["run"]
                    raise r.error[0](r.error[1])
                if self.failure is not None:
                    self.state[(c.rank, c.program)] = ["run"]
                    fr, fp, fmsg = self.failure
                    raise _Aborted(f"nki.collectives.{c.name}: rank {c.rank} stopped waiting "
                                   f"because rank {fr} {fmsg}")
                if arriving:
                    gone = self._gone_member(r)
                    if gone is not None:
                        r.error = (NkiCollectiveError, self._missing_message(
                            r, c, "", head=f"rank {gone[0]} {gone[1]} without joining it"))
                        self.state[(c.rank, c.program)] = ["run"]
                        self.cond.notify_all()
                        raise r.error[0](r.error[1])
                left = deadline - time.monotonic()
                if left <= 0:
                    msg = self._missing_message(r, c, f"did not join within {self.timeout:g} s "
                                                      "(NKI_SIM_COLLECTIVE_TIMEOUT or "
                                                      "nki.simulate(..., timeout=))")
                    if not arriving:
                        msg = (f"nki.collectives.{c.name} over ranks {list(r.members)}: the ranks "
                               f"of this process did not finish their share within "
                               f"{self.timeout:g} s\n  at {_describe_where(c.where)}")
                    r.error = (NkiCollectiveTimeoutError, msg)
                    self.state[(c.rank, c.program)] = ["run"]
                    self.cond.notify_all()
                    raise NkiCollectiveTimeoutError(msg)
                self.cond.wait(min(left, poll) if poll else left)

    def _gone_member(self, r):
        prog = r.key[0]
        for m in r.members:
            if m in r.ops:
                continue
            st = self.state.get((m, prog))
            if st is not None and st[0] == "done":
                return m, st[1]
            if (m, prog) in self.remote_done:
                return m, self.remote_done[(m, prog)]
        return None

    def _missing_message(self, r, c, why, head=None):
        first = next(iter(r.ops.values()))
        seq = r.key[3]
        joined = sorted(r.ops)
        missing = [m for m in r.members if m not in r.ops]
        where = (f"nki.collectives.{first.name} #{seq} over ranks {list(r.members)}"
                 f"{'' if self.grid == 1 else f' (program {r.key[0]})'}")
        if head is not None:
            lines = [f"{where}: {head}"]
        else:
            lines = [f"{where}: ranks {missing} "
                     f"{'never joined' if 'did not' not in why else ''}".rstrip()
                     + (f": {why}" if why else "")]
        for m in joined:
            lines.append(f"  rank {m} joined at {_describe_where(r.ops[m].where)}")
        for m in missing:
            st = self.state.get((m, r.key[0]))
            if st is None:
                what = self.remote_done.get((m, r.key[0]), "runs in another process")
            elif st[0] == "wait":
                o = st[2]
                what = (f"waits in nki.collectives.{o.name} over ranks {list(o.members)} at "
                        f"{_describe_where(o.where)}")
            elif st[0] == "done":
                what = st[1]
            else:
                what = "is still running"
            lines.append(f"  rank {m} {what}")
        return "\n".join(lines)

    def _check_deadlock(self):
        """In-process: every program of every rank waits (or has finished) and no collective
        can complete: report every waiting collective, then let each waiter raise."""
        if self.transport is not None:
            return
        waiting = []
        for st in self.state.values():
            if st[0] == "run":
                return
            if st[0] == "wait":
                waiting.append(st)
        if not waiting:
            return
        msgs = []
        seen = set()
        for st in waiting:
            r, c = st[1], st[2]
            if r.complete or id(r) in seen:
                if r.complete:
                    return
                continue
            seen.add(id(r))
            msgs.append(self._missing_message(r, c, ""))
        names = sorted({st[2].name for st in waiting})
        text = (f"nki.collectives.{'/'.join(names)}: deadlock: every rank waits in a collective "
                "that cannot complete\n" + "\n".join(msgs))
        for st in waiting:
            st[1].error = (NkiCollectiveError, text)
        self.cond.notify_all()


# ---------------------------------------------------------------- MPI
class MpiTransport:
    """Contributions travel between processes as pickled messages on a private communicator."""
    TAG = 1207

    def __init__(self, comm, size):
        from mpi4py import MPI
        self.MPI = MPI
        self.comm = comm
        self.nproc = comm.Get_size()
        self.proc = comm.Get_rank()
        self.size = size
        self.lock = threading.Lock()
        self.requests = []
        self.run_id = 0
        self.stash = []  # messages of a later run, received early
        self.procs_done = set()

    def ranks_of(self, p):
        return list(range(p * self.size // self.nproc, (p + 1) * self.size // self.nproc))

    def owner(self, rank):
        for p in range(self.nproc):
            if rank in self.ranks_of(p):
                return p
        raise ValueError(rank)

    def _send(self, msg, dests):
        with self.lock:
            for d in dests:
                self.requests.append(self.comm.isend((self.run_id,) + msg, dest=d, tag=self.TAG))

    def _others(self):
        return [p for p in range(self.nproc) if p != self.proc]

    def post(self, key, c):
        dests = sorted({self.owner(m) for m in c.members} - {self.proc})
        if not dests:
            return
        srcs = [np.ascontiguousarray(s) for s in c.srcs]
        self._send(("op", key, c.name, c.rank, c.program, c.members, c.where, c.meta, srcs,
                    c.extra, c.algo), dests)

    def notify_done(self, rank, program, text):
        self._send(("done", rank, program, text), self._others())

    def notify_failure(self, rank, program, msg):
        self._send(("fail", rank, program, msg), self._others())

    def begin(self, world):
        self.run_id += 1
        self.procs_done = set()
        with self.lock:
            old, self.stash = self.stash, []
            for m in old:
                self._handle(m, world)

    def _handle(self, m, world):
        run = m[0]
        if run > self.run_id:
            self.stash.append(m)
            return
        if run < self.run_id:
            return
        kind = m[1]
        with world.cond:
            if kind == "op":
                (_, _, key, name, rank, program, members, where, meta, srcs, extra, algo) = m
                world.deliver(key, Contribution(name, rank, program, members, where, meta, srcs,
                                                None, (), extra, algo))
            elif kind == "done":
                world.deliver_done(m[2], m[3], m[4])
            elif kind == "fail":
                world.deliver_failure(m[2], m[3], m[4])
            elif kind == "proc_done":
                self.procs_done.add(m[2])
            world.cond.notify_all()

    def poll(self, world):
        # Messages are handled in the order they arrive, under the lock: a rank's contribution
        # is always delivered before its "done" notice, whichever thread polls.
        with self.lock:
            st = self.MPI.Status()
            while self.comm.iprobe(source=self.MPI.ANY_SOURCE, tag=self.TAG, status=st):
                self._handle(self.comm.recv(source=st.Get_source(), tag=self.TAG), world)
            self.requests = [q for q in self.requests if not q.Test()]

    def end(self, world, timeout):
        """Tell the other processes this one is done; drain until all are (bounded)."""
        self._send(("proc_done", self.proc), self._others())
        deadline = time.monotonic() + timeout
        while True:
            self.poll(world)
            with self.lock:
                pending = len(self.requests)
            if len(self.procs_done) == self.nproc - 1 and pending == 0:
                return
            if time.monotonic() > deadline:
                raise NkiCollectiveTimeoutError(
                    f"nki.simulate(ranks={self.size}) under MPI: processes "
                    f"{sorted(set(self._others()) - self.procs_done)} did not finish within "
                    f"{timeout:g} s")
            time.sleep(0.002)


_MPI = [None]


def mpi_world_size():
    """Processes in the MPI job this process belongs to (1 outside mpirun)."""
    for v in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"):
        if os.environ.get(v, "").isdigit():
            return int(os.environ[v])
    return 1


def _mpi_transport(size):
    """The process's transport (one for every launch, so that messages of the next launch that
    arrive early are kept whatever its number of ranks)."""
    if _MPI[0] is None:
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise NkiValidationError(
                "nki.simulate(..., backend='mpi') needs mpi4py (pip install mpi4py) and an MPI "
                f"library: {e}") from None
        _MPI[0] = MpiTransport(MPI.COMM_WORLD.Dup(), size)
    _MPI[0].size = size
    return _MPI[0]


# ---------------------------------------------------------------- the launcher
def _rank_inputs(inputs, rank):
    if hasattr(inputs, "for_rank"):  # e.g. nki-library's PerRankLazyInputGenerator
        x = inputs.for_rank(rank)
    elif callable(inputs):
        x = inputs(rank)
    else:
        x = inputs[rank]
    if isinstance(x, dict):
        return (), dict(x)
    if isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], (tuple, list)) \
            and isinstance(x[1], dict):
        return tuple(x[0]), dict(x[1])
    if isinstance(x, (tuple, list)):
        return tuple(x), {}
    return (x,), {}


def simulate_ranks(kernel, ranks, observers=None, profile=False, timeout=None, backend="auto"):
    """nki.simulate(kernel, ranks=N, ...): see nki.simulate."""
    from . import _kernel
    k = kernel if isinstance(kernel, _kernel.Kernel) else _kernel.Kernel(kernel)
    if not isinstance(ranks, int) or isinstance(ranks, bool) or ranks < 1:
        _kernel._fail(f"nki.simulate(ranks={ranks!r}): the number of ranks must be a positive int")
    if backend not in ("auto", "threads", "mpi"):
        _kernel._fail(f"nki.simulate(backend={backend!r}): use 'auto', 'threads' or 'mpi'")

    @functools.wraps(k.func)
    def run(inputs):
        """Run every rank; inputs: f(rank) -> dict/tuple, or a sequence with one entry per rank.
        Returns a list with one output per rank (None for ranks run by another MPI process)."""
        use_mpi = backend == "mpi" or (backend == "auto" and mpi_world_size() > 1)
        t = default_timeout() if timeout is None else float(timeout)
        transport = _mpi_transport(ranks) if use_mpi else None
        if transport is not None:
            if transport.nproc > ranks:
                _kernel._fail(f"nki.simulate(ranks={ranks}) under MPI with {transport.nproc} "
                              "processes: need at least one rank per process")
            local = transport.ranks_of(transport.proc)
        else:
            local = list(range(ranks))
        if not callable(inputs) and not hasattr(inputs, "for_rank") and len(inputs) != ranks:
            _kernel._fail(f"nki.simulate(ranks={ranks}): {len(inputs)} per-rank inputs given; "
                          "pass one entry per rank or a function rank -> inputs")
        grid = k.grid or 1
        try:  # computed once, not once per rank and program by the launch's argument checks
            sig = inspect.signature(k.func)
        except (TypeError, ValueError):
            sig = None
        world = World(ranks, local, grid, t, k.func.__name__, transport)
        if transport is not None:
            transport.begin(world)
        results, errors = {}, {}
        order = []

        def rank_thread(r):
            try:
                args, kwargs = _rank_inputs(inputs, r)

                @functools.wraps(k.func)
                def body(*a, **kw):
                    prog = _program_id()
                    _tls.world, _tls.rank = world, r
                    try:
                        out = k.func(*a, **kw)
                    except BaseException as e:
                        world.fail(r, prog, e)
                        raise
                    finally:
                        _tls.world = None
                    world.finish(r, prog)
                    return out

                if sig is not None:
                    body.__signature__ = sig

                rk = _kernel.Kernel(body, k.grid, k.options)
                results[r] = _kernel.launch(rk, args, kwargs, observers=observers,
                                            profile=profile)
            except BaseException as e:
                errors[r] = e
                order.append(r)
                with world.cond:  # a rank that failed before its kernel started
                    for p in range(grid):
                        if world.state[(r, p)][0] == "run":
                            world.state[(r, p)] = ["done", f"failed: {e}"]
                    if world.failure is None and not isinstance(e, _Aborted):
                        world.failure = (r, 0, f"failed with {type(e).__name__}: {e}")
                    world.cond.notify_all()

        if len(local) == 1:
            rank_thread(local[0])
        else:
            threads = [threading.Thread(target=rank_thread, args=(r,), name=f"nki-rank-{r}")
                       for r in local]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
        end_error = None
        if transport is not None:
            try:
                transport.end(world, t)
            except NkiCollectiveError as e:
                end_error = e
        if errors:
            # The root cause first: a rank's own failure, not another rank's collective error
            # about it (which can reach `order` first: a waiting rank sees the failure in the
            # world state before the failed rank's thread records its error).
            primary = ([r for r in order if not isinstance(errors[r], (_Aborted, NkiCollectiveError))]
                       or [r for r in order if not isinstance(errors[r], _Aborted)] or order)
            r = primary[0]
            e = errors[r]
            if isinstance(e, NkiCollectiveError) or f"rank {r}" in str(e):
                raise e
            try:
                new = type(e)(f"rank {r}: {e}")
            except Exception:
                raise e
            raise new.with_traceback(e.__traceback__) from None
        if end_error is not None:
            raise end_error
        return [results.get(r) for r in range(ranks)]

    run.kernel = k
    run.ranks = ranks
    return run
