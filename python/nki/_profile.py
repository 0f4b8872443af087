"""Instruction profiles (nki.simulate(kernel, profile=True), NKI_SIM_PROFILE=1, nki.last_profile())."""
import contextlib
import threading


class Profile:
    """What a launch executed, per (instruction, engine): counts, elements and bytes per memory.

    ``rows`` is a list of dicts (instruction, engine, count, elements, read_hbm, read_sbuf,
    read_psum, written_hbm, written_sbuf, written_psum); ``str(profile)`` is a table.
    """

    def __init__(self, rows, kernel=""):
        self.kernel = kernel
        self.rows = sorted(rows, key=lambda r: (-r["count"], r["instruction"], r["engine"]))

    @property
    def instructions(self):
        return sum(r["count"] for r in self.rows)

    def count(self, instruction, engine=None):
        return sum(r["count"] for r in self.rows
                   if r["instruction"] == instruction and engine in (None, r["engine"]))

    def __str__(self):
        head = ["instruction", "engine", "count", "elements", "read KiB hbm/sbuf/psum",
                "written KiB hbm/sbuf/psum"]
        mb = lambda r, k: "/".join(f"{r[f'{k}_{m}'] / 1024:.1f}" for m in ("hbm", "sbuf", "psum"))
        body = [[r["instruction"], r["engine"], str(r["count"]), str(r["elements"]), mb(r, "read"),
                 mb(r, "written")] for r in self.rows]
        w = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
        line = lambda cells: "  ".join(c.ljust(w[i]) for i, c in enumerate(cells)).rstrip()
        title = f"nkisim profile{' of ' + self.kernel if self.kernel else ''}: " \
                f"{self.instructions} instructions"
        return "\n".join([title, line(head), line(["-" * x for x in w])] + [line(b) for b in body])

    __repr__ = __str__


_last = [None]
_global = threading.local()


def last_profile():
    """The Profile of the most recent launch that was profiled (profile=True or NKI_SIM_PROFILE=1)."""
    return _last[0]


def global_observers():
    return getattr(_global, "observers", ())


@contextlib.contextmanager
def observe(*observers):
    """Attach observers to every kernel launched on this thread inside the block.

    An observer is an nki._core.Observer (e.g. nki._core.ProfileObserver()) or any object with
    on_instruction(event) and, optionally, on_allocate(info) and on_free(info); event is a dict
    (name, engine, core, seq, params, bytes_read, bytes_written, elements, where).
    """
    before = global_observers()
    _global.observers = tuple(before) + observers
    try:
        yield observers[0] if len(observers) == 1 else observers
    finally:
        _global.observers = before
