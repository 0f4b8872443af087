"""nki-library 2.29's collective tests on the rank launcher (issue 12), a few cases through
scripts/nkilib_collectives.py. Skipped unless NKILIB_PATH points at an nki-library checkout."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTS = "test/integration/nkilib/experimental/collectives"


def test_nkilib_collective_cases():
    lib = os.environ.get("NKILIB_PATH", "")
    if not lib or not os.path.isdir(os.path.join(lib, TESTS)):
        pytest.skip("NKILIB_PATH does not point at nki-library (2.29) with its collective tests")
    cases = "m128_k512_fp32_tp8 or m256_k512_bf16_tp4_lnc2 or test_all_reduce or test_all_to_all"
    p = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "nkilib_collectives.py"),
                        "-k", cases], capture_output=True, text=True, timeout=600, cwd=lib)
    assert p.returncode == 0, (p.stdout + p.stderr)[-4000:]
    assert " passed" in p.stdout and "failed" not in p.stdout, p.stdout[-2000:]
