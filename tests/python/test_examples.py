"""Run every script in examples/ the way a user would (`python examples/NAME.py`).

Each example checks itself against numpy, prints a 'max abs error: ...  max rel error: ...' line
and exits non-zero when the error is above its tolerance, so a test only has to look at the exit
code and at that line.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nki

REPO = Path(__file__).resolve().parents[2]
EXAMPLES_DIR = REPO / "examples"
REQUIRED = ["quickstart", "tiled_add", "tiled_matmul", "transpose2d", "softmax", "rmsnorm"]
EXAMPLES = sorted(set(REQUIRED) | {p.stem for p in EXAMPLES_DIR.glob("*.py")})
TIMEOUT_S = 120  # each example takes about a second; the limit only catches hangs
ERROR_LINE = re.compile(r"max abs error: \S+\s+max rel error: \S+")


def _env():
    """The caller's environment, made to import the same nki package as this test process."""
    env = dict(os.environ)
    root = Path(nki.__file__).resolve().parent.parent
    if root.name not in ("site-packages", "dist-packages"):  # a source checkout, e.g. ./python
        parts = [str(root)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_and_matches_numpy(name):
    script = EXAMPLES_DIR / f"{name}.py"
    assert script.is_file(), f"examples/{name}.py is missing"
    try:
        proc = subprocess.run([sys.executable, str(script)], cwd=REPO, env=_env(),
                              capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"examples/{name}.py did not finish within {TIMEOUT_S} s\n"
                    f"stdout:\n{e.stdout or ''}\nstderr:\n{e.stderr or ''}")
    output = f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.returncode == 0, f"examples/{name}.py exited with {proc.returncode}\n{output}"
    assert ERROR_LINE.search(proc.stdout), f"examples/{name}.py printed no max-error line\n{output}"
    assert f"{name}: PASS" in proc.stdout, output
