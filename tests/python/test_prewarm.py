"""import nki prewarms the first launch's interpreter on a background thread (NKI_SIM_PREWARM).

The prewarm thread writes into the SBUF it faults in: fresh tiles must still read as the NaN
sentinel, the first launch must get that interpreter (not fault a second SBUF), a fork right after
the import must work, and NKI_SIM_PREWARM=0 must leave everything to the first launch. Each check
runs in a fresh process, where the prewarm happens."""
import os
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import os, sys, warnings
    import numpy as np
    import nki, nki.isa as nisa, nki.language as nl

    def fresh_read(a):
        out = nl.ndarray(a.shape, dtype=a.dtype, buffer=nl.shared_hbm)
        t = nl.ndarray(a.shape, dtype=a.dtype)                      # never written
        u = nl.ndarray(a.shape, dtype=a.dtype)
        nisa.tensor_copy(u, t)
        nisa.dma_copy(out, u)
        return out

    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        out = nki.simulate(fresh_read)(np.zeros((128, 512), np.float32))
    assert np.isnan(out).all(), "a fresh tile must read as the NaN sentinel"
    if sys.argv[1] == "fork":
        pid = os.fork()
        if pid == 0:
            with warnings.catch_warnings(record=True):
                warnings.simplefilter("always")
                ok = np.isnan(nki.simulate(fresh_read)(np.zeros((64, 8), np.float32))).all()
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0, status
    print(nki._core.prewarmed())
""")


def _run(mode, prewarm):
    env = dict(os.environ, NKI_SIM_PREWARM=prewarm, PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return r.stdout.split()[-1] == "True"


def test_first_launch_takes_the_prewarmed_interpreter_and_fresh_tiles_are_sentinels():
    assert _run("plain", "1")
    assert not _run("plain", "0")


def test_fork_after_import_works():
    assert _run("fork", "1")
