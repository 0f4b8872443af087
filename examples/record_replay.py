"""Record and replay: run the quickstart kernel once in Python while recording its op graph, then
re-run that graph in C++ without Python and check it reproduces every HBM byte.

    .venv/bin/python examples/record_replay.py [graph.opg]
    build/cpp/nkisim-replay graph.opg          # the same replay from the C++ tool

nki.simulate(kernel, record=path) writes every executed instruction (operands as allocation +
access pattern), every on-chip allocation, the HBM inputs and the final HBM contents;
nki._core.replay(path) (C++: nkisim::replay, include/nkisim/opgraph.hpp) replays it.
"""
import os
import sys
import tempfile

import numpy as np

import nki

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quickstart import add_kernel  # noqa: E402


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(tempfile.mkdtemp(), "quickstart.opg")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((128, 512), dtype=np.float32)
    b = rng.standard_normal((128, 512), dtype=np.float32)

    c = nki.simulate(add_kernel, record=path)(a, b)  # run in Python, recording the op graph
    result = nki._core.replay(path)                  # re-run it in C++ on fresh interpreters

    expected = a + b
    abs_err = float(np.max(np.abs(c.astype(np.float64) - expected)))
    rel_err = abs_err / float(np.max(np.abs(expected)))
    print(f"recorded {os.path.getsize(path)} bytes to {path}")
    print(result["summary"])
    print(f"max abs error: {abs_err:.3e}  max rel error: {rel_err:.3e}  (tolerance 1e-05)")
    ok = result["bit_exact"] and rel_err <= 1e-5
    print("record_replay: PASS" if ok else "record_replay: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
