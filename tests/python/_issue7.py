"""Helpers shared by the issue-7 instruction tests (vector/scalar engines)."""
import nki
import nki.isa as nisa
import numpy as np

from conftest import kernel_raises

V = nisa.NkiValidationError


def fails(fn, match, exc=V):
    """Run the kernel `fn()` (no inputs) and check that it raises `exc` matching `match`."""
    with kernel_raises(exc, match=match):
        nki.simulate(fn)()


ALU_REF = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply,
    "maximum": np.maximum, "minimum": np.minimum,
    "greater": lambda a, b: (a > b).astype(np.float32),
    "less_equal": lambda a, b: (a <= b).astype(np.float32),
    "equal": lambda a, b: (a == b).astype(np.float32),
    "logical_and": lambda a, b: ((a != 0) & (b != 0)).astype(np.float32),
}
