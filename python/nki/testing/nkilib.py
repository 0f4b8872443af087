"""pytest plugin: run nki-library's own test suite in its simulation mode on nkisim.

From a checkout of aws-neuron/nki-library (tag 2.29, NKI 0.3.0), with nkisim installed:

    NEURON_PYTHONHASHSEED=0 PYTHONPATH=src/nkilib_src \\
        pytest -p nki.testing.nkilib test/integration --test-mode simulation --platform-target trn2

Loading the plugin (before nki-library's conftest runs) makes the harness find nkisim:

- The module layout the harness imports (`test/utils/simulation_setup.py`) is registered at run
  time, pointing at the nki package: `nki_cpu_simulator`, `nki_cpu_simulator.nki` (= `nki`), and
  its `.isa`, `.isa.constants`, `.language`, `.language.dtypes`, `.typing`, `.builtin`,
  `.compiler`, `.tensor`. No package is installed under AWS's name; nothing outside this process
  changes. `nki.cpu_simulate(kernel)[lnc](**inputs)` is nkisim's launcher, and the
  NKI_NC_VERSION the harness sets (gen2/gen3/gen4) selects the simulated target.
- Stand-ins, each registered only when the real module cannot be imported:
  `neuron_dtypes` (AWS internal, see nki.testing._neuron_dtypes), `neuronxcc.nki.typing`
  (= nki.typing), `neuronxcc.starfish.support.dtype` (its `static_cast`), and the two files the
  public repository lacks: `test/utils/perf_analysis_private.py` (`analyze_trace`, used only for
  hardware profiles: it raises) and `test/utils/scripts/remote_lock_scripts.py` (`LockStatus`,
  `LockResult`, used only to lock remote hardware hosts).
- The 2.29 harness reads `Orchestrator._compiled_kernel`, which only its compilation step sets;
  the plugin gives the class a `None` default so simulation mode does not fail on it.
- The 2.29 simulation step passes the kernel one input dict, so collective tests (per-rank
  inputs, `collective_ranks` > 1) cannot run there. The plugin runs them as that many ranks on
  nkisim's launcher (nki.simulate(..., ranks=N)) and writes each rank's outputs where the
  harness's validator reads them on hardware (`output_worker_<rank>/`).
- Tests marked `trace_only` / `compile_only` (23 in test_tensor_view.py) would go to the NKI
  compiler's tracer (`nki.compiler.frontend`, part of neuronx-cc) even in simulation mode; when
  that is not installed the plugin drops the marker so they run on the simulator instead.

Set NKILIB_SIM_PLUGIN_VERBOSE=1 to log each stand-in as it is used.
"""
import dataclasses
import enum
import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
import types

import pytest

import nki
import nki.isa
import nki.isa.constants
import nki.language
import nki.typing

_log = logging.getLogger("nki.testing.nkilib")
_PREFIX = "nki_cpu_simulator"


def _module(name, doc, **attrs):
    m = types.ModuleType(name, doc)
    m.__dict__.update(attrs)
    return m


def _real_available(top):
    """True when a real (non-stand-in) top-level package `top` can be imported."""
    if top in sys.modules:
        return not getattr(sys.modules[top], "__nkisim_standin__", False)
    return importlib.util.find_spec(top) is not None


# ---------------------------------------------------------------- nki_cpu_simulator.* aliases
def _simulator_modules():
    builtin = _module(
        "nki.builtin",
        "Builtins the NKI simulator's harness installs as `builtins.builtin`. nki-library's kernels "
        "run as plain Python on nkisim, so nothing needs replacing: this namespace is Python's own "
        "builtins.", **{k: v for k, v in vars(__import__("builtins")).items() if not k.startswith("_")})
    compiler = _module(
        "nki.compiler",
        "nki.compiler has no simulator counterpart: simulation mode skips compilation.")
    tensor = _module("nki.tensor", "nki.tensor: the tensor class of the simulator.",
                     NkiTensor=nki.language.NkiTensor)
    for name, mod in (("builtin", builtin), ("compiler", compiler), ("tensor", tensor)):
        full = f"nki.{name}"
        if full not in sys.modules:
            sys.modules[full] = mod
            setattr(nki, name, mod)
    return {
        "nki": nki, "nki.isa": nki.isa, "nki.isa.constants": nki.isa.constants,
        "nki.language": nki.language, "nki.language.dtypes": nki.language.dtypes,
        "nki.typing": nki.typing, "nki.builtin": sys.modules["nki.builtin"],
        "nki.compiler": sys.modules["nki.compiler"], "nki.tensor": sys.modules["nki.tensor"],
    }


def _register_simulator():
    if _PREFIX in sys.modules:
        return
    top = _module(_PREFIX, "nkisim registered under the name nki-library's harness imports "
                           "(nki.testing.nkilib); not an installed package.")
    top.__path__ = []
    top.__nkisim_standin__ = True
    sys.modules[_PREFIX] = top
    for name, mod in _simulator_modules().items():
        sys.modules[f"{_PREFIX}.{name}"] = mod
    top.nki = nki


# ---------------------------------------------------------------- stand-ins
class LockStatus(enum.Enum):
    """Stand-in for nki-library's remote_lock_scripts.LockStatus (remote hardware locking)."""
    ALLOCATED = "allocated"
    RELEASED = "released"
    NO_CORES = "no_cores"
    DRAINING = "draining"
    DRAINED = "drained"
    UNDRAINED = "undrained"
    FLOCK_TIMEOUT = "flock_timeout"
    ERROR = "error"

    @classmethod
    def from_exit_code(cls, code):
        return cls.FLOCK_TIMEOUT if code == 124 else cls.ERROR


@dataclasses.dataclass
class LockResult:
    """Stand-in for nki-library's remote_lock_scripts.LockResult."""
    status: LockStatus
    cores: list = dataclasses.field(default_factory=list)
    max_lock_expiry: float = 0.0
    message: str = ""

    @classmethod
    def from_json(cls, text):
        d = json.loads(text)
        return cls(status=LockStatus(d.get("status", "error")), cores=d.get("cores") or [],
                   max_lock_expiry=d.get("max_lock_expiry") or 0.0, message=d.get("message", ""))


def analyze_trace(*args, **kwargs):
    """Stand-in for nki-library's private perf_analysis_private.analyze_trace."""
    raise NotImplementedError("perf_analysis_private.analyze_trace is AWS-internal (not in the public "
                              "nki-library); performance analysis needs hardware profiles and is "
                              "not available on nkisim")


def _standin_modules():
    """name -> factory of the stand-in module (built on first import)."""
    from . import _neuron_dtypes

    def neuron_dtypes():
        m = _module("neuron_dtypes", _neuron_dtypes.__doc__)
        m.__dict__.update({k: v for k, v in vars(_neuron_dtypes).items() if not k.startswith("__")})
        return m

    def package(name, doc):
        def make():
            m = _module(name, doc)
            m.__path__ = []
            return m
        return make

    def neuronxcc_dtype():
        return _module("neuronxcc.starfish.support.dtype", "Stand-in: static_cast of neuron_dtypes.",
                       static_cast=_neuron_dtypes.static_cast)

    doc = "nkisim stand-in for part of neuronx-cc (the real package is not installed)."
    return {
        "neuron_dtypes": ("neuron_dtypes", neuron_dtypes),
        "neuronxcc": ("neuronxcc", package("neuronxcc", doc)),
        "neuronxcc.nki": ("neuronxcc", package("neuronxcc.nki", doc)),
        "neuronxcc.nki.typing": ("neuronxcc", lambda: nki.typing),
        "neuronxcc.starfish": ("neuronxcc", package("neuronxcc.starfish", doc)),
        "neuronxcc.starfish.support": ("neuronxcc", package("neuronxcc.starfish.support", doc)),
        "neuronxcc.starfish.support.dtype": ("neuronxcc", neuronxcc_dtype),
    }


def _is_nkilib_utils(pkg_name):
    """True when `pkg_name` is nki-library's test/utils package (it holds simulation_setup.py)."""
    pkg = sys.modules.get(pkg_name)
    paths = list(getattr(pkg, "__path__", []) or [])
    return any(os.path.exists(os.path.join(p, "simulation_setup.py")) for p in paths)


class _StandinFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last on sys.meta_path: supplies a stand-in only when nothing real was found."""

    def __init__(self):
        self.table = _standin_modules()

    def _factory(self, fullname):
        entry = self.table.get(fullname)
        if entry is not None:
            top, make = entry
            if top in sys.modules and not getattr(sys.modules[top], "__nkisim_standin__", False):
                return None  # the real package is imported; its submodule is simply missing
            return make
        head, _, tail = fullname.rpartition(".")
        if tail == "perf_analysis_private" and _is_nkilib_utils(head):
            return lambda: _module(fullname, "nkisim stand-in: AWS-internal perf analysis.",
                                   analyze_trace=analyze_trace)
        if tail == "scripts" and _is_nkilib_utils(head):
            def make():
                m = _module(fullname, "nkisim stand-in package (not in the public repository).")
                m.__path__ = []
                return m
            return make
        if tail == "remote_lock_scripts" and head.endswith(".scripts") and \
                _is_nkilib_utils(head.rpartition(".")[0]):
            return lambda: _module(fullname, "nkisim stand-in: remote hardware locking.",
                                   LockStatus=LockStatus, LockResult=LockResult)
        return None

    def find_spec(self, fullname, path=None, target=None):
        make = self._factory(fullname)
        if make is None:
            return None
        spec = importlib.machinery.ModuleSpec(fullname, self, is_package=False)
        spec._nkisim_make = make
        return spec

    def create_module(self, spec):
        m = spec._nkisim_make()
        m.__nkisim_standin__ = True
        if os.environ.get("NKILIB_SIM_PLUGIN_VERBOSE"):
            _log.warning("nki.testing.nkilib: using the stand-in for %s", spec.name)
        return m

    def exec_module(self, module):
        pass


_FINDER = None


def install():
    """Register the nki_cpu_simulator layout and the stand-ins (idempotent)."""
    global _FINDER
    _register_simulator()
    if _FINDER is None:
        _FINDER = _StandinFinder()
        sys.meta_path.append(_FINDER)


def _patch_orchestrator():
    """Give nki-library's Orchestrator a `_compiled_kernel = None` default (2.29 harness bug), and
    a simulation step that runs collective tests on every rank."""
    for name, mod in list(sys.modules.items()):
        if name.endswith("utils.test_orchestrator") and mod is not None:
            cls = getattr(mod, "Orchestrator", None)
            if cls is None:
                continue
            if not hasattr(cls, "_compiled_kernel"):
                cls._compiled_kernel = None
            step = getattr(cls, "_run_simulator_inference", None)
            if step is not None and not getattr(step, "_nkisim_ranks", False):
                cls._run_simulator_inference = _with_ranks(step, mod)


def _with_ranks(single, harness):
    """The harness's simulation step, extended to collective tests: 2.29 hands the kernel one
    input dict (a PerRankLazyInputGenerator then fails). With `collective_ranks` = N > 1 the
    kernel runs as N ranks (nki.simulate(kernel[lnc], ranks=N), inputs from `for_rank`) and each
    rank's outputs go to `output_worker_<rank>/`, where the harness's validator looks for them on
    hardware; everything else takes the harness's own path."""
    def run(self, kernel_under_test):
        n = int(getattr(kernel_under_test.inference_args, "collective_ranks", 1) or 1)
        if n <= 1:
            return single(self, kernel_under_test)
        try:
            return _run_ranks(self, kernel_under_test, n, harness)
        except harness.InferenceException:
            raise
        except Exception as e:  # as the harness reports its own simulation failures
            raise harness.InferenceException(str(e)) from e
    run._nkisim_ranks = True
    run.__doc__ = single.__doc__
    return run


def _run_ranks(self, ka, n, harness):
    import numpy as np

    os.environ["NKI_NC_VERSION"] = ka.compiler_input.platform_target.get_nc_gen()
    lnc = int(ka.compiler_input.logical_nc_config or 1)
    kernel = ka.kernel_func if isinstance(ka.kernel_func, nki.Kernel) else nki.jit(ka.kernel_func)
    if lnc > 1:
        kernel = kernel[lnc]
    src = ka.kernel_input or {}

    def inputs(rank):
        d = src.for_rank(rank) if hasattr(src, "for_rank") else {
            k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in src.items()}
        return {k.removesuffix(".must_alias_input"): v for k, v in d.items()}

    timeout = float(os.environ.get("NKI_SIM_COLLECTIVE_TIMEOUT", "120"))
    outs = nki.simulate(kernel, ranks=n, timeout=timeout)(inputs)
    if ka.validation_args is None:
        raise ValueError("Simulation mode requires validation_args to verify outputs")
    golden = ka.validation_args.golden_output
    base = os.path.join(self.fs_config.artifacts_output_directory_path,
                        harness.INF_ARTIFACT_DIR_NAME)
    for rank, out in enumerate(outs):
        want = harness.normalize_golden_output(golden, rank)
        got = [] if out is None else list(out) if isinstance(out, (list, tuple)) else [out]
        if len(got) != len(want):
            raise RuntimeError(f"rank {rank}: the kernel returned {len(got)} outputs but the "
                               f"golden has {len(want)} ({list(want)})")
        tensors = {name: np.asarray(o, dtype=g.dtype)
                   for (name, g), o in zip(want.items(), got)}
        self.__dump_tensors__(os.path.join(base, f"output_worker_{rank}"), tensors, lambda x: x)
    return base


install()


# ---------------------------------------------------------------- pytest hooks
_TRACE_MARKERS = ("trace_only", "compile_only")


def _compiler_available():
    try:
        return importlib.util.find_spec("nki.compiler.frontend") is not None
    except (ImportError, ValueError):
        return False


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """In simulation mode without the NKI compiler, run trace-only / compile-only tests on the
    simulator: their per-test marker would send them to the compiler's tracer
    (nki.compiler.frontend, part of neuronx-cc), and running a kernel checks more than tracing it."""
    try:
        mode = config.getoption("test_mode")
    except ValueError:
        return
    if mode != "simulation" or _compiler_available():
        return
    for item in items:
        node = item
        while node is not None:
            if any(m.name in _TRACE_MARKERS for m in node.own_markers):
                node.own_markers[:] = [m for m in node.own_markers if m.name not in _TRACE_MARKERS]
                item.user_properties.append(("nkisim", "trace-only test run on the simulator"))
            node = node.parent


def pytest_collection_finish(session):
    _patch_orchestrator()


def pytest_runtest_setup(item):
    _patch_orchestrator()
