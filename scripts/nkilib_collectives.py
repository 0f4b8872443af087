"""Run nki-library 2.29's collective tests on nkisim's rank launcher (issue 12).

    NKILIB_PATH=/work/ext/nki-library .venv/bin/python scripts/nkilib_collectives.py [pytest args]

nki-library's collective tests (test/integration/nkilib/experimental/collectives/) describe each
case as KernelArgs handed to a `test_manager` fixture: the kernel, the LNC degree, the number of
collective ranks, per-rank inputs (PerRankLazyInputGenerator: generator(rank_id) -> dict, or one
dict for every rank) and per-rank goldens. Its own simulation mode runs one rank only. This
script runs those test files with pytest, without nki-library's conftest (which needs AWS's
tooling), giving them:
  - a `test_manager` whose execute() runs the kernel with nki.simulate(kernel[lnc], ranks=N)
    and compares every rank's outputs with its golden (the test's own tolerances);
  - small stand-ins for the harness modules the tests import (test.utils.common_dataclasses,
    test.utils.test_orchestrator, test.utils.pytest_test_metadata), written for nkisim: they
    implement only the fields these tests use.
Exits 0 with a message (nothing run) when NKILIB_PATH is unset or does not hold nki-library.
This stands in for the nki-library pytest plugin of issue 11 (python/nki/testing/), which was
not on main when this was written.
"""
import os
import sys
import time
import types

TESTS = "test/integration/nkilib/experimental/collectives"


# ---------------------------------------------------------------- stand-ins for test.utils
class CompilerArgs:
    def __init__(self, logical_nc_config=None, **other):
        self.logical_nc_config = logical_nc_config
        self.other = other


class InferenceArgs:
    def __init__(self, collective_ranks=1, **other):
        self.collective_ranks = collective_ranks
        self.other = other


class ValidationArgs:
    def __init__(self, golden_output=None, relative_accuracy=1e-5, absolute_accuracy=1e-8,
                 **other):
        self.golden_output = golden_output
        self.relative_accuracy = relative_accuracy
        self.absolute_accuracy = absolute_accuracy


class KernelArgs:
    def __init__(self, kernel_func, compiler_input=None, kernel_input=None, validation_args=None,
                 inference_args=None, **other):
        self.kernel_func = kernel_func
        self.compiler_input = compiler_input or CompilerArgs()
        self.kernel_input = kernel_input
        self.validation_args = validation_args
        self.inference_args = inference_args or InferenceArgs()


class PerRankLazyGenerator:
    def __init__(self, generator):
        self.generator = generator
        self._cache = {}

    def for_rank(self, rank_id):
        if rank_id not in self._cache:
            self._cache[rank_id] = self.generator(rank_id=rank_id)
        return self._cache[rank_id]


class PerRankLazyInputGenerator(PerRankLazyGenerator):
    pass


class PerRankLazyGoldenGenerator(PerRankLazyGenerator):
    pass


class LazyGoldenGenerator:
    def __init__(self, output_ndarray=None, lazy_golden_generator=None):
        self.output_ndarray = output_ndarray
        self.lazy_golden_generator = lazy_golden_generator

    @property
    def golden(self):
        if self.lazy_golden_generator is not None:
            return self.lazy_golden_generator()
        return self.output_ndarray


def pytest_test_metadata(**_):
    return lambda cls: cls


RESULTS = []


class Orchestrator:
    """The test_manager: runs KernelArgs on nki.simulate(..., ranks=N) and checks every rank."""

    def execute(self, ka):
        import numpy as np

        import nki
        n = int(ka.inference_args.collective_ranks or 1)
        lnc = int(ka.compiler_input.logical_nc_config or 1)
        kernel = ka.kernel_func if isinstance(ka.kernel_func, nki.Kernel) else nki.jit(ka.kernel_func)
        if lnc > 1:
            kernel = kernel[lnc]
        src = ka.kernel_input or {}
        if isinstance(src, PerRankLazyGenerator):
            inputs = src.for_rank
        else:  # the same inputs for every rank: each rank gets its own copy of the arrays
            def inputs(r):
                return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in src.items()}
        t0 = time.perf_counter()
        outs = nki.simulate(kernel, ranks=n, timeout=float(os.environ.get(
            "NKI_SIM_COLLECTIVE_TIMEOUT", "120")))(inputs)
        RESULTS.append((n, lnc, time.perf_counter() - t0))
        va = ka.validation_args
        if va is None or va.golden_output is None:
            return
        g = va.golden_output
        # As nki-library's validator does: a per-rank golden checks every rank, a single golden
        # checks rank 0.
        checked = outs if isinstance(g, PerRankLazyGenerator) else outs[:1]
        for r, out in enumerate(checked):
            golden = g.for_rank(r) if isinstance(g, PerRankLazyGenerator) else (
                g.golden if isinstance(g, LazyGoldenGenerator) else g)
            got = out if isinstance(out, (tuple, list)) else (out,)
            assert len(got) == len(golden), (
                f"rank {r}: the kernel returned {len(got)} outputs, the golden has {len(golden)}")
            for (name, want), have in zip(golden.items(), got):
                have, want = np.asarray(have), np.asarray(want)
                if have.size == want.size:  # as the harness's validator: read in the golden's shape
                    have = have.reshape(want.shape)
                np.testing.assert_allclose(
                    have.astype(np.float32), want.astype(np.float32),
                    rtol=va.relative_accuracy, atol=va.absolute_accuracy,
                    err_msg=f"rank {r} of {n}, output '{name}'")


def _install(root):
    """Register `test` (nki-library's test tree on disk) with stand-in `test.utils` modules."""
    test = types.ModuleType("test")
    test.__path__ = [os.path.join(root, "test")]
    utils = types.ModuleType("test.utils")
    utils.__path__ = []
    cd = types.ModuleType("test.utils.common_dataclasses")
    for name in ("CompilerArgs", "InferenceArgs", "ValidationArgs", "KernelArgs",
                 "PerRankLazyInputGenerator", "PerRankLazyGoldenGenerator", "LazyGoldenGenerator"):
        setattr(cd, name, globals()[name])
    orch = types.ModuleType("test.utils.test_orchestrator")
    orch.Orchestrator = Orchestrator
    meta = types.ModuleType("test.utils.pytest_test_metadata")
    meta.pytest_test_metadata = pytest_test_metadata
    for m in (test, utils, cd, orch, meta):
        sys.modules[m.__name__] = m
    test.utils = utils
    src = os.path.join(root, "src")
    if src not in sys.path:
        sys.path.insert(0, src)


# ---------------------------------------------------------------- pytest plugin hooks
def pytest_configure(config):
    for m in ("fast", "slow", "collectives", "fgcc", "fg_allgather", "sb2sb"):
        config.addinivalue_line("markers", f"{m}: nki-library marker")


def _fixture():
    import pytest

    @pytest.fixture
    def test_manager():
        return Orchestrator()
    return test_manager


def main(argv):
    root = os.environ.get("NKILIB_PATH", "")
    if not root or not os.path.isdir(os.path.join(root, TESTS)):
        why = "is unset" if not root else f"= {root!r} does not hold nki-library's collective tests"
        print(f"nkilib_collectives: NKILIB_PATH {why}: nothing run")
        return 0
    import pytest
    _install(root)
    plugin = types.ModuleType("nkisim_nkilib_collectives")
    plugin.pytest_configure = pytest_configure
    plugin.test_manager = _fixture()
    args = [os.path.join(root, TESTS), "--noconftest", "-p", "no:cacheprovider",
            "--rootdir", root, "-c", os.devnull, "-q", "-rfEs"] + argv
    rc = pytest.main(args, plugins=[plugin])
    if RESULTS:
        total = sum(t for _, _, t in RESULTS)
        print(f"nkilib_collectives: {len(RESULTS)} multi-rank launches, {total:.1f} s in the "
              f"launcher")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
