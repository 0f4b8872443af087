"""The fuzzer (tests/fuzz) finds what it is meant to find, and a short seeded run is clean.

The long run is `python tests/fuzz/fuzz.py --seed 1 --count 100000` (README); CI runs a bounded
smoke from scripts/test.sh. Here: a few hundred kernels, and the detectors (crash, hang, on-chip
and host guard bytes) each proven on a kernel that does the bad thing on purpose.
"""
import os
import subprocess
import sys

import pytest

FUZZ = os.path.join(os.path.dirname(__file__), "..", "fuzz", "fuzz.py")


def fuzz(*args, kernel=None, tmp_path=None, timeout=240):
    env = dict(os.environ)
    if kernel is not None:
        path = tmp_path / "kernel.py"
        path.write_text(kernel)
        env["NKI_FUZZ_KERNEL_FILE"] = str(path)
    p = subprocess.run([sys.executable, FUZZ, *args], capture_output=True, text=True, env=env,
                       timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def test_a_short_seeded_run_is_clean():
    rc, out = fuzz("--seed", "7", "--count", "200", "--workers", "2")
    assert "kernels=200 of 200" in out, out
    assert "crashes 0, hangs 0, guard violations 0" in out, out
    assert rc == 0, out


def test_the_same_seed_gives_the_same_kernels():
    sys.path.insert(0, os.path.dirname(FUZZ))
    from gen import INSTRUCTIONS, generate
    assert generate(3, 41) == generate(3, 41)
    assert generate(3, 41) != generate(3, 42)
    # Every implemented instruction is exercised within a few hundred kernels.
    text = "".join(generate(1, i).source for i in range(400))
    for name in INSTRUCTIONS:
        assert f"nisa.{name}(" in text, name
    # Extreme values appear as literals.
    assert "9223372036854775807" in text and "4294967296" in text


BAD_KERNELS = {
    "crash": ("import os\ndef kernel(*a):\n    os.abort()\n", "CRASH in kernel 0 (seed 1): signal SIGABRT"),
    "hang": ("import time\ndef kernel(*a):\n    time.sleep(60)\n", "HANG in kernel 0 (seed 1): no progress"),
    "sbuf": ("from nki import _core\ndef kernel(*a):\n    _core._debug_space(0)[3, 100000] = 7\n",
             "GUARD in kernel 0 (seed 1): sbuf byte 100000 of partition 3"),
    "padding": ("from nki import _core\ndef kernel(*a):\n    s = _core._debug_space(1)\n"
                "    s[5, s.shape[1] - 1] = 1\n", "psum byte 16575 of partition 5"),
    "guard tile": ("import nki.language as nl\nfrom nki import _core\ndef kernel(*a):\n"
                   "    t = nl.ndarray((128, 8), dtype=nl.uint8, buffer=nl.sbuf)\n"
                   "    p0, n, off, size = t._alloc_rect\n"
                   "    _core._debug_space(0)[0, off + size] = 0\n",
                   "sbuf byte 24 of partition 0 (outside every tile of the kernel; guard or free)"),
    "host": ("import ctypes\ndef kernel(*a):\n    x = a[0]._numpy(__import__('numpy').dtype('uint8'))\n"
             "    ctypes.memset(x.ctypes.data - 1, 0, 1)\n",
             "a host input's guard bytes were overwritten"),
}


@pytest.mark.parametrize("what", list(BAD_KERNELS))
def test_the_fuzzer_reports(what, tmp_path):
    src, expected = BAD_KERNELS[what]
    # Kernel 0 of seed 1 has inputs (the host-guard case needs one).
    # A short hang timeout only where the hang is the point: a loaded machine may take seconds
    # for an ordinary kernel.
    rc, out = fuzz("--seed", "1", "--count", "1", "--workers", "1",
                   "--timeout", "3" if what == "hang" else "120", kernel=src, tmp_path=tmp_path)
    assert rc == 1, out
    assert expected in out, out
    assert "# reproduce: python tests/fuzz/fuzz.py --seed 1 --only 0" in out
