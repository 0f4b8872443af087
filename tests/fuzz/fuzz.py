"""nkisim fuzzer: random kernels (tests/fuzz/gen.py) in long-lived worker processes.

    python tests/fuzz/fuzz.py --seed 1 --count 100000 --workers 2      # the long run
    python tests/fuzz/fuzz.py --seed 1 --count 3000 --time-limit 90    # the CI smoke
    python tests/fuzz/fuzz.py --seed 1 --only 1234                     # reproduce one kernel

Every kernel is generated from (seed, index). A worker runs its share of the indices in a loop,
each kernel isolated in try/except (any Python exception is a pass), and reports each start and
end on a pipe. The parent restarts a worker that dies (a crash: the kernel it had started is
recorded) or that reports nothing for --timeout seconds (a hang). After each kernel the worker
checks its guards:
  * host inputs live in the middle of a larger buffer whose 64 bytes on either side hold 0xA5;
  * (workers run with NKI_SIM_SBUF_STORAGE=map: every tile in the space's map) the whole SBUF
    and PSUM host storage (padding between partitions included) holds 0xA5 before
    the kernel; every tile the kernel allocates gets a guard tile allocated just before and
    after it (never accessed by anyone); afterwards every byte outside the kernel's own tiles -
    guard tiles, free bytes and padding - must still be 0xA5 (all of the storage is compared).
A crash, a hang or a guard violation is a failure: its kernel source is printed and the exit
status is 1.
"""
import argparse
import os
import select
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GUARD = 0xA5
HOST_GUARD_BYTES = 64


# ================================================================ worker side
def _worker(seed, indices, out, stats_file=None):
    import threading
    import warnings

    import numpy as np

    import nki
    import nki.isa as nisa
    import nki.language as nl
    from nki import _core
    sys.path.insert(0, HERE)
    from gen import generate

    warnings.simplefilter("ignore")
    real_ndarray = nl.ndarray
    state = threading.local()  # .rects, .guards of the program running on this thread
    # Storages known to hold GUARD outside the last kernel's window, by address. The arrays are
    # kept so that a freed storage's address cannot come back holding something else.
    clean = {}

    def rect_of(t, buffer):
        p0, np_, off, nbytes = t._alloc_rect
        return (0 if buffer is nl.sbuf else 1, p0, np_, off, nbytes)

    def guarded_ndarray(shape, dtype, buffer=nl.sbuf, name="", address=None):
        rects = getattr(state, "rects", None)
        if rects is None or buffer not in (nl.sbuf, nl.psum):
            return real_ndarray(shape, dtype, buffer=buffer, name=name, address=address)
        if address is None:
            _guard_tile(buffer)
        t = real_ndarray(shape, dtype, buffer=buffer, name=name, address=address)
        rects.append(rect_of(t, buffer) + (address is not None,))
        if address is None:
            _guard_tile(buffer)
        return t

    def _guard_tile(buffer):
        try:
            g = real_ndarray((128, 16), nl.uint8, buffer=buffer, name="fuzz_guard")
        except Exception:
            return  # memory full: no guard here
        r = rect_of(g, buffer)
        _, p0, np_, off, nbytes = r
        state.spaces[r[0]][p0:p0 + np_, off:off + nbytes] = GUARD  # may reuse a dead tile's bytes
        state.guards.append((g, r))

    nl.ndarray = guarded_ndarray

    pattern64 = np.uint64(int.from_bytes(bytes([GUARD]) * 8, "little"))

    def check_spaces(rects, guards):
        """Violations outside the kernel's tiles; leaves GUARD everywhere for the next kernel."""
        bad = []
        if os.environ.get("NKI_FUZZ_DEBUG"):
            print("rects", rects, "guards", [g[1] for g in guards], file=sys.stderr)
        explicit = [r for r in rects if r[5]]
        for b, space in enumerate(state.spaces):
            # The kernel's own tiles may hold anything: reset them to GUARD first. A guard tile
            # that an address= alias overlaps got sentinels on purpose: reset it too.
            mine = [r[1:5] for r in rects if r[0] == b]
            for (_, (gb, p0, np_, off, nbytes)) in guards:
                if gb == b and any(e[0] == b and p0 < e[1] + e[2] and e[1] < p0 + np_ and
                                   off < e[3] + e[4] and e[3] < off + nbytes for e in explicit):
                    mine.append((p0, np_, off, nbytes))
            for (p0, np_, off, nbytes) in mine:
                space[p0:p0 + np_, off:off + nbytes] = GUARD
            # Then every byte of the storage (guard tiles, free bytes, padding) must be GUARD.
            diff = space.view(np.uint64) != pattern64
            if diff.any():
                bytes_pp = _core.target_info(_core.current_target())[
                    "sbuf_bytes_per_partition" if b == 0 else "psum_bytes_per_partition"]
                p, w = np.argwhere(diff)[0]
                c = 8 * w + int(np.flatnonzero(space[p, 8 * w:8 * w + 8] != GUARD)[0])
                bad.append(f"{'sbuf' if b == 0 else 'psum'} byte {c} of partition {p} (outside "
                           f"every tile of the kernel; "
                           f"{'padding' if c >= bytes_pp else 'guard or free'}) was changed to "
                           f"{space[p, c]:#x}")
                space[...] = GUARD
        return bad

    def harness_for(body):
        def harness(*args):
            state.spaces = [_core._debug_space(0), _core._debug_space(1)]
            for s in state.spaces:
                key = s.ctypes.data
                if key not in clean:
                    if len(clean) > 8:
                        clean.clear()
                    s[...] = GUARD
                    clean[key] = s
            state.rects, state.guards = [], []
            result = None
            try:
                result = body(*args)
            except Exception:
                pass
            rects, guards = state.rects, state.guards
            state.rects = None
            violations = check_spaces(rects, guards)
            state.guards = None
            del guards
            state.violations.extend(violations)
            return result
        return harness

    def guarded_input(shape, dtype):
        dt = np.dtype(dtype) if dtype != "bfloat16" else np.dtype(__import__("ml_dtypes").bfloat16)
        n = int(np.prod(shape)) * dt.itemsize
        buf = np.full(n + 2 * HOST_GUARD_BYTES, GUARD, np.uint8)
        mid = buf[HOST_GUARD_BYTES:HOST_GUARD_BYTES + n]
        rng = np.random.default_rng(n)
        mid[:] = rng.integers(0, 256, n, dtype=np.uint8)
        if dt.kind == "f":  # finite values
            mid.view(dt)[...] = rng.standard_normal(mid.size // dt.itemsize).astype(dt)
        return buf, mid.view(dt).reshape(shape)

    injected = None
    if os.environ.get("NKI_FUZZ_KERNEL_FILE"):
        with open(os.environ["NKI_FUZZ_KERNEL_FILE"]) as f:
            injected = f.read()
    for idx in indices:
        out.write(f"S {idx}\n")
        out.flush()
        k = generate(seed, idx)
        if injected is not None:  # the fuzzer's own tests: a known-bad kernel for every index
            k = type(k)(injected, k.inputs, 1)
        ns = {"nl": nl, "nisa": nisa, "np": np, "_fuzz_errors": []}
        outcome = "ok"
        violations = []
        errs = e = body = h = None
        try:
            exec(compile(k.source, f"<fuzz seed={seed} kernel={idx}>", "exec"), ns)
            bufs, args = zip(*[guarded_input(s, d) for s, d in k.inputs]) if k.inputs else ((), ())
            body = ns["kernel"]
            h = harness_for(body)
            state.violations = violations

            def run():
                kern = nki.jit(h)
                return nki.simulate(kern[k.grid] if k.grid > 1 else kern)(*args)
            # Programs of an LNC2 launch run on their own threads: share the flags.
            orig = threading.Thread.run

            def run_with_state(self, _orig=orig):
                state.violations = violations
                return _orig(self)
            threading.Thread.run = run_with_state
            try:
                run()
            finally:
                threading.Thread.run = orig
            errs = ns["_fuzz_errors"]
            outcome = f"ok errors={len(errs)}/{k.source.count('    try:')}" if errs else "ok"
            for e in errs:
                msg = str(e)
                if "Unable to cast" in msg or "incompatible function arguments" in msg or \
                        type(e).__name__ in ("SystemError", "RuntimeError"):
                    out.write(f"U {idx} {type(e).__name__}: {msg.splitlines()[0][:160]}\n")
                if stats_file is not None:
                    stats_file.write(f"{type(e).__name__}\t{msg.splitlines()[0][:70] if msg else ''}\n")
            for b in bufs:
                if (b[:HOST_GUARD_BYTES] != GUARD).any() or (b[-HOST_GUARD_BYTES:] != GUARD).any():
                    violations.append("a host input's guard bytes were overwritten")
        except Exception as e:  # a clean error from the launch itself
            outcome = f"raised {type(e).__name__}"
            msg = str(e)
            if "Unable to cast" in msg or "incompatible function arguments" in msg:
                outcome = "unclear " + msg.splitlines()[0][:100].replace(" ", "_")
        # The kernel's errors hold its frames (and so its tiles) through their tracebacks; those
        # frames reach this one (f_back): drop every reference so nothing waits for the gc.
        ns.clear()
        errs = e = body = h = None
        for v in violations:
            out.write(f"G {idx} {v}\n")
        out.write(f"R {idx} {outcome}\n")
        out.flush()
    out.write("END\n")
    out.flush()


# ================================================================ parent side
class Worker:
    def __init__(self, args, indices):
        self.indices = indices  # remaining, in order
        self.current = None
        self.last = time.monotonic()
        env = dict(os.environ)
        env.setdefault("NKI_SIM_HBM_LIMIT", str(256 << 20))  # never the machine's memory
        env.setdefault("NKI_SIM_UNINIT", "off")
        # Every SBUF tile in the space's map (not in rows of its own), so that the guard bytes
        # around it are where a stray write would land.
        env.setdefault("NKI_SIM_SBUF_STORAGE", "map")
        env.pop("NKI_SIM_LOG", None)
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--seed", str(args.seed),
               "--indices", ",".join(map(str, indices[:args.batch]))]
        self.batch = indices[:args.batch]
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  stdin=subprocess.DEVNULL, env=env, bufsize=0)
        self.buf = b""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds without progress = hang")
    ap.add_argument("--time-limit", type=float, default=0, help="stop starting kernels after this")
    ap.add_argument("--batch", type=int, default=5000, help="kernels per worker process")
    ap.add_argument("--only", type=int, default=None, help="run one kernel here and show it")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--indices", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        out = os.fdopen(os.dup(1), "w")
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # kernels' prints never corrupt the protocol
        stats_path = os.environ.get("NKI_FUZZ_ERROR_LOG")
        stats_file = open(stats_path, "a") if stats_path else None
        _worker(args.seed, [int(i) for i in args.indices.split(",") if i], out, stats_file)
        return 0
    if args.only is not None:
        sys.path.insert(0, HERE)
        from gen import generate
        k = generate(args.seed, args.only)
        print(f"# seed {args.seed} kernel {args.only}: inputs {k.inputs}, grid {k.grid}\n{k.source}")
        _worker(args.seed, [args.only], sys.stdout)
        return 0
    return run_parent(args)


def run_parent(args):
    sys.path.insert(0, HERE)
    from gen import generate
    t0 = time.monotonic()
    todo = list(range(args.start, args.start + args.count))
    shares = [todo[w::args.workers] for w in range(args.workers)]
    workers = [Worker(args, s) for s in shares if s]
    stats = {"run": 0, "clean_errors": 0, "launch_errors": 0, "crash": 0, "hang": 0, "guard": 0,
             "unclear": 0}
    failures = []
    stopped = False

    def restart(w, after):
        """Replace worker w, skipping the indices up to and including `after`."""
        rest = w.indices
        if after is not None and after in rest:
            rest = rest[rest.index(after) + 1:]
        if w.p.poll() is None:
            w.p.kill()
        w.p.wait()
        return Worker(args, rest) if rest and not stopped else None

    while workers:
        if args.time_limit and time.monotonic() - t0 > args.time_limit and not stopped:
            stopped = True
        fds = {w.p.stdout.fileno(): w for w in workers}
        ready, _, _ = select.select(list(fds), [], [], 1.0)
        now = time.monotonic()
        for fd in ready:
            w = fds[fd]
            chunk = os.read(fd, 65536)
            if not chunk:  # the worker exited
                rc = w.p.wait()
                if w.current is not None:
                    sig = -rc if rc < 0 else 0
                    what = f"signal {signal.Signals(sig).name}" if sig else f"exit status {rc}"
                    stats["crash"] += 1
                    failures.append(("crash", w.current, what))
                    new = restart(w, w.current)
                elif rc != 0:  # died outside any kernel (e.g. cannot import nki): stop here
                    failures.append(("worker", w.indices[0] if w.indices else -1,
                                     f"a worker exited with status {rc} between kernels"))
                    stopped = True
                    new = restart(w, None)
                else:
                    done = w.batch[-1] if w.batch else None
                    new = restart(w, done)
                workers[workers.index(w)] = new
                continue
            w.buf += chunk
            *lines, w.buf = w.buf.split(b"\n")
            w.last = now
            for line in lines:
                parts = line.decode(errors="replace").split(" ", 2)
                if parts[0] == "S":
                    w.current = int(parts[1])
                elif parts[0] == "R":
                    w.current = None
                    idx = int(parts[1])
                    stats["run"] += 1
                    res = parts[2]
                    if res.startswith("ok errors"):
                        stats["clean_errors"] += 1
                    elif res.startswith("raised"):
                        stats["launch_errors"] += 1
                    elif res.startswith("unclear"):
                        stats["unclear"] += 1
                        print(f"note: kernel {idx}: raw binding message {res[8:]}", flush=True)
                    w.indices = w.indices[w.indices.index(idx) + 1:] if idx in w.indices else w.indices
                    if stopped:
                        w.indices = []
                        w.retire = True
                elif parts[0] == "U":
                    stats["unclear"] += 1
                    print(f"note: kernel {parts[1]}: {parts[2]}", flush=True)
                elif parts[0] == "G":
                    stats["guard"] += 1
                    failures.append(("guard", int(parts[1]), parts[2]))
        for i, w in enumerate(workers):
            if w is not None and w.current is not None and now - w.last > args.timeout:
                stats["hang"] += 1
                failures.append(("hang", w.current, f"no progress for {args.timeout:.0f} s"))
                workers[i] = restart(w, w.current)
            elif w is not None and getattr(w, "retire", False):
                w.current = None  # a kernel started after the time limit is not counted
                workers[i] = restart(w, None)
        workers = [w for w in workers if w is not None]
        if stats["run"] and stats["run"] % 5000 == 0 and ready:
            print(f"... {stats['run']} kernels, {time.monotonic() - t0:.0f} s", flush=True)
    elapsed = time.monotonic() - t0
    print(f"fuzz seed={args.seed} kernels={stats['run']} of {args.count} (from {args.start}) "
          f"in {elapsed:.0f} s: statements raising clean errors in {stats['clean_errors']} kernels, "
          f"launch errors {stats['launch_errors']}, raw binding messages {stats['unclear']}, "
          f"crashes {stats['crash']}, hangs {stats['hang']}, guard violations {stats['guard']}")
    for kind, idx, what in failures:
        if idx < 0:
            print(f"\n=== {kind.upper()}: {what}")
            continue
        k = generate(args.seed, idx)
        print(f"\n=== {kind.upper()} in kernel {idx} (seed {args.seed}): {what}\n"
              f"# reproduce: python tests/fuzz/fuzz.py --seed {args.seed} --only {idx}\n"
              f"# inputs: {k.inputs}  grid: {k.grid}\n{k.source}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
