"""nki.jit, nki.simulate and the launch of a kernel's programs on the simulator."""
import functools
import inspect
import os
import sys
import threading
import warnings

import numpy as np

from . import _core, _dtypes, _errors, _profile
from ._errors import NkiValidationError

_state = threading.local()  # .launch, .program_id of the program running on this thread

class NkiPreciseFpWarning(UserWarning):
    """NKI_PRECISE_FP=0 was asked for; nkisim stores every tensor in its own dtype regardless."""


def _fail(msg):
    """Raise NkiValidationError pointing at the user's line (the launch or the kernel call)."""
    loc = _errors.where(3)
    raise NkiValidationError(f"{msg}\n  at {loc}" if loc else msg)


_JIT_OPTIONS = {"debug_kernel", "show_compiler_tb", "experimental_flags", "additional_compile_opt",
                "enable_out_of_bound_check", "kernel_return", "name"}


class Kernel:
    """A kernel made by nki.jit. `kernel(*args)` runs it; `kernel[n]` launches n programs (LNC)."""

    def __init__(self, func, grid=None, options=None):
        if isinstance(func, Kernel):
            func = func.func
        self.func = func
        self.grid = grid
        self.options = dict(options or {})
        functools.update_wrapper(self, func)

    def __getitem__(self, grid):
        if isinstance(grid, (tuple, list)):
            _fail(
                f"{self.func.__name__}[{', '.join(map(str, grid))}]: NKI 0.3.0 launches take a "
                "single number, the LNC degree (kernel[1] or kernel[2]); multi-dimensional grids "
                "are not supported")
        if not isinstance(grid, int) or isinstance(grid, bool) or grid < 1:
            _fail(
                f"{self.func.__name__}[{grid!r}]: the launch degree must be a positive int "
                "(1 or 2)")
        return Kernel(self.func, grid, self.options)

    def __call__(self, *args, **kwargs):
        if _core.has_current():  # a kernel calling another kernel: just a function call
            return self.func(*args, **kwargs)
        if os.environ.get("NKI_SIMULATOR", "") not in ("", "0"):
            return launch(self, args, kwargs)
        raise RuntimeError(
            f"cannot run kernel '{self.func.__name__}': no Neuron device is available here. "
            "Set NKI_SIMULATOR=1 to run it on the nkisim CPU simulator, or call "
            f"nki.simulate({self.func.__name__})(...)")

    def with_schedule(self, edges):
        """Scheduling hints have no effect on a sequential simulator; returns the kernel."""
        return self

    def __repr__(self):
        g = f"[{self.grid}]" if self.grid else ""
        return f"<nki kernel {self.func.__name__}{g}>"


def jit(func=None, mode="auto", **kwargs):
    """Turn a kernel function into a Kernel (usable as @nki.jit or @nki.jit(...))."""
    if "platform_target" in kwargs:
        _fail(
            "nki.jit(platform_target=...) was removed in NKI 0.3.0: select the target with the "
            "NEURON_PLATFORM_TARGET_OVERRIDE environment variable (trn1, trn2 or trn3)")
    if mode != "auto":
        warnings.warn(f"nki.jit(mode={mode!r}) is ignored in NKI 0.3.0: the framework is detected "
                      "from the argument types", DeprecationWarning, stacklevel=2)
    unknown = set(kwargs) - _JIT_OPTIONS
    if unknown:
        warnings.warn(f"nki.jit: options {sorted(unknown)} are ignored by the simulator",
                      stacklevel=2)
    if func is None:
        return lambda f: Kernel(f, options=kwargs)
    return Kernel(func, options=kwargs)


def simulate(kernel, observers=None, profile=False, record=None, ranks=None, **rank_options):
    """A callable that runs `kernel` (a Kernel, kernel[n], or a plain function) on the simulator.

    observers: objects that see every executed instruction (see nki.observe); profile=True keeps
    an instruction profile of each run (nki.last_profile()); record="path" writes the executed op
    graph of each run to that file (replay it with nki._core.replay(path) or nkisim-replay).
    ranks=N: run N ranks that talk through nki.collectives (python/nki/_ranks.py); the callable
    then takes the per-rank inputs (f(rank) -> dict/tuple, or one entry per rank), returns one
    output per rank, and accepts timeout= (seconds) and backend= ('auto', 'threads', 'mpi').
    """
    if ranks is not None or rank_options:  # issue 12: multi-rank launches
        from ._ranks import simulate_ranks
        if record is not None:
            _fail("nki.simulate(record=..., ranks=...): recording the op graph of a multi-rank "
                  "launch is not supported")
        return simulate_ranks(kernel, 1 if ranks is None else ranks, observers=observers,
                              profile=profile, **rank_options)
    k = kernel if isinstance(kernel, Kernel) else Kernel(kernel)

    @functools.wraps(k.func)
    def run(*args, **kwargs):
        if _core.has_current():
            return k.func(*args, **kwargs)
        return launch(k, args, kwargs, observers=observers, profile=profile, record=record)

    run.kernel = k
    return run


# ---------------------------------------------------------------- launching
class Launch:
    """The programs of one launch: a thin handle on the C++ launch (nki._core.Launch), which owns
    the cores' interpreters, the shared HBM, the barrier and the sendrecv mailboxes."""

    def __init__(self, n, target):
        self.n = n
        self.target = target
        self.grid_ndim = 1 if n > 1 else 0
        self.core = _core.Launch(target["name"], n)
        self.interpreters = [self.core.interpreter(i) for i in range(n)]

    def shared_hbm(self, index, shape, dtype, name):
        """The program's next shared_hbm tensor (the k-th of every program is one tensor)."""
        return self.core.shared_hbm(program_id(), list(shape), _dtypes.ID[dtype], name)


def current_launch():
    return getattr(_state, "launch", None)


def program_id():
    return getattr(_state, "program_id", 0)


def _to_numpy_input(x):
    """(array for the simulator, torch tensor to return results as, writeback target)."""
    if type(x).__module__.startswith("torch"):
        import torch
        t = x.detach()
        if t.device.type != "cpu":
            _fail(f"torch tensor on {t.device}: nkisim runs on the CPU; pass "
                                     "CPU tensors")
        src = t if t.is_contiguous() else t.contiguous()
        if src.dtype == torch.bfloat16:
            arr = src.view(torch.int16).numpy().view(_dtypes.numpy_dtype("bfloat16"))
        else:
            arr = src.numpy()
        return arr, "torch", (x if src is not t else None)
    if isinstance(x, np.ndarray):
        if x.flags.c_contiguous:
            return x, "numpy", None
        arr = np.ascontiguousarray(x)
        if not x.flags.writeable:  # stays read-only: a kernel write is refused at the instruction
            arr.flags.writeable = False
            return arr, "numpy", None
        return arr, "numpy", x
    return None, None, None


def _wrap_one(x, label, buffer_id, writebacks, framework):
    """Wrap one argument (a module-level function: a recursive closure would be a reference
    cycle that keeps every launch's arguments alive until the garbage collector runs)."""
    if isinstance(x, (tuple, list)) and any(isinstance(v, np.ndarray) or
                                            type(v).__module__.startswith("torch") for v in x):
        return type(x)(_wrap_one(v, f"{label}[{i}]", buffer_id, writebacks, framework)
                       for i, v in enumerate(x))
    arr, fw, wb = _to_numpy_input(x)
    if arr is None:
        return x
    if fw == "torch":
        framework[0] = "torch"
    try:
        d = _dtypes.lookup(arr.dtype)
    except (TypeError, ValueError) as e:
        _fail(f"kernel argument '{label}': {e}")
    if wb is not None:
        writebacks.append((wb, arr))
    try:
        return _core.wrap(arr, _dtypes.ID[d], buffer_id, label)
    except _errors.ERRORS as e:
        _errors.reraise(e)


def _wrap_args(args, kwargs, buffer_id, names):
    """Wrap array arguments as HBM tensors (zero-copy); everything else passes untouched."""
    writebacks = []
    framework = ["numpy"]
    new_args = [_wrap_one(a, names[i] if i < len(names) else f"arg{i}", buffer_id, writebacks,
                          framework) for i, a in enumerate(args)]
    new_kwargs = {k: _wrap_one(v, k, buffer_id, writebacks, framework) for k, v in kwargs.items()}
    return new_args, new_kwargs, writebacks, framework[0]


def _param_names(func):
    try:
        return [p.name for p in inspect.signature(func).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return []


def _check_annotations(func, args, kwargs):
    from .typing import check_annotations
    check_annotations(func, args, kwargs)


def _output(x, framework):
    if isinstance(x, _core.Tensor):
        if x._buffer_id in (0, 1):
            _fail(
                f"the kernel returned {x!r}, an on-chip tensor; kernel outputs must be HBM tensors "
                "allocated with nl.ndarray(..., buffer=nl.shared_hbm)")
        arr = x._numpy(_dtypes.numpy_dtype(_dtypes.ALL[x._dtype_id]))
        if framework == "torch":
            import torch
            if arr.dtype == _dtypes.numpy_dtype("bfloat16"):
                return torch.from_numpy(arr.view(np.int16)).view(torch.bfloat16)
            return torch.from_numpy(arr)
        return arr
    if isinstance(x, (tuple, list)):
        return type(x)(_output(v, framework) for v in x)
    if isinstance(x, dict):
        return {k: _output(v, framework) for k, v in x.items()}
    return x


def _check_outputs(x, inputs):
    if isinstance(x, _core.Tensor):
        if x._buffer_id == 2 and x._alloc_id not in inputs:
            _fail(
                f"the kernel returned {x!r} allocated in nl.hbm (private_hbm); kernel outputs "
                "must be allocated with buffer=nl.shared_hbm")
    elif isinstance(x, (tuple, list)):
        for v in x:
            _check_outputs(v, inputs)
    elif isinstance(x, dict):
        for v in x.values():
            _check_outputs(v, inputs)


def _core_observer(o):
    return o if isinstance(o, _core.Observer) else _core.python_observer(o)


def launch(kernel, args, kwargs, observers=None, profile=False, record=None):
    info = _core.target_info("")
    n = kernel.grid or 1
    if n > info["max_lnc"]:
        _fail(
            f"{kernel.func.__name__}[{n}]: {info['name']} supports LNC degree up to "
            f"{info['max_lnc']} (set NEURON_PLATFORM_TARGET_OVERRIDE=trn2 or trn3 for LNC=2)")
    if os.environ.get("NKI_PRECISE_FP", "1") == "0":
        # AWS's simulator documents NKI_PRECISE_FP=0 as holding bfloat16/fp8 tensors in float32.
        # nkisim always stores a tensor in its own dtype (what NKI_PRECISE_FP=1 gives, and what
        # the hardware does): byte sizes, .view() bitcasts, address= offsets and SBUF capacity
        # all depend on it. See README ("NKI_PRECISE_FP").
        warnings.warn(
            "NKI_PRECISE_FP=0 is not supported by nkisim: bfloat16/float8 tensors are stored in "
            "their own dtype, as with NKI_PRECISE_FP=1 and on hardware, not in float32; every "
            "store rounds to the tensor's dtype, so results can differ from a float32-storage "
            "simulation by that rounding (compare with tolerances for the tensor dtype)",
            NkiPreciseFpWarning, stacklevel=3)
    buffer_id = 3 if n > 1 else 2  # shared_hbm under LNC2, nl.hbm otherwise
    wargs, wkwargs, writebacks, framework = _wrap_args(args, kwargs, buffer_id,
                                                             _param_names(kernel.func))
    _check_annotations(kernel.func, wargs, wkwargs)
    inputs = {a._alloc_id for a in list(wargs) + list(wkwargs.values()) if isinstance(a, _core.Tensor)}
    L = Launch(n, info)
    L.grid_ndim = 1 if kernel.grid else 0
    print_profile = os.environ.get("NKI_SIM_PROFILE", "") not in ("", "0")
    attached = [_core_observer(o) for o in list(observers or ()) + list(_profile.global_observers())]
    prof = _core.ProfileObserver() if profile or print_profile else None
    if prof is not None:
        attached.append(prof)
    rec = _core.Recorder(os.fspath(record)) if record is not None else None
    if rec is not None:
        attached.append(rec)
    for it in L.interpreters:
        for o in attached:
            it.add_observer(o)
    results = [None] * n
    errors = [None] * n

    def program(i):
        _state.launch, _state.program_id, _state.shared_count = L, i, 0
        _core.set_current(L.interpreters[i])
        try:
            results[i] = kernel.func(*wargs, **wkwargs)
            _core.check_capacity()  # SBUF/PSUM by live ranges, now that every use is known
        except BaseException as e:  # reported by the launching thread
            errors[i] = e
            if n > 1:  # release the other programs' waits; they stop at their next instruction
                L.core.fail(i, f"{type(e).__name__}: {e}")
        finally:
            L.core.finish(i)
            _core.clear_current()
            _state.launch = None

    try:
        if n == 1:
            program(0)
        else:
            threads = [threading.Thread(target=program, args=(i,), name=f"nki-program-{i}")
                       for i in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        for it in L.interpreters:
            for o in attached:
                it.remove_observer(o)
        L.core.release()
    if rec is not None:
        rec.finish()  # final HBM contents; the file is complete now
    if prof is not None:
        _profile._last[0] = _profile.Profile(prof.rows(), kernel.func.__name__)
        if print_profile:
            print(_profile._last[0], file=sys.stderr)
    if any(e is not None for e in errors):
        results.clear()  # release the outputs (and their tiles) at once
    _raise_first(errors, f"{kernel.func.__name__}[{n}]")
    for wb, arr in writebacks:
        _writeback(wb, arr)
    out = results[0]
    _check_outputs(out, inputs)
    last_launch.stats = {"instructions": sum(i.instruction_count() for i in L.interpreters),
                         "by_op": [i.instruction_counts() for i in L.interpreters]}
    return _output(out, framework)


def _raise_first(errors, label="the launch"):
    """Raise the error of the program that failed first (a program stopped because another one
    failed is not the cause); the other programs' errors are attached as notes and kept in
    err.nki_program_errors. No reference cycle is left behind: the tracebacks hold program()'s
    frame, whose closure holds `errors`, so the list is emptied first."""
    failed = [(i, e) for i, e in enumerate(errors) if e is not None]
    errors.clear()
    if not failed:
        return
    causes = [(i, e) for i, e in failed if not isinstance(e, _core.NkiLaunchAbortedError)]
    i, root = (causes or failed)[0]
    if len(failed) > 1 or i > 0:
        root.nki_program_errors = {j: e for j, e in failed if e is not root}
        if hasattr(root, "add_note"):
            root.add_note(f"(raised in program {i} of {label})")
            for j, e in failed:
                if e is not root:
                    root.add_note(f"program {j} of {label} also failed: {type(e).__name__}: "
                                  f"{str(e).splitlines()[0] if str(e) else ''}")
    del failed, causes
    try:
        raise root
    finally:
        root = None


def _writeback(original, arr):
    if isinstance(original, np.ndarray):
        np.copyto(original, arr)
    else:  # torch
        import torch
        src = torch.from_numpy(arr.view(np.int16)).view(torch.bfloat16) \
            if arr.dtype == _dtypes.numpy_dtype("bfloat16") else torch.from_numpy(arr)
        with torch.no_grad():
            original.copy_(src.reshape(original.shape))


class _LastLaunch:
    """Statistics of the most recent launch (nki.simulate.stats)."""
    stats = None


last_launch = _LastLaunch()
