"""NumPy-eager peer executor of NKI kernels (the baseline the benchmarks compare against).

`rebind(func)` returns a copy of a kernel function whose globals `nki`, `nl`, `nisa` point
at the peer modules, so the unchanged kernel source runs on the peer.
"""
import sys
import types

from . import isa, language, top
from .tensor import Stats  # noqa: F401  (instruction counter, read by the runner)

nki = top
nl = language
nisa = isa


def rebind(func):
    g = {**func.__globals__, 'nki': top, 'nl': language, 'nisa': isa}
    f = types.FunctionType(func.__code__, g, func.__name__, func.__defaults__, func.__closure__)
    f.__kwdefaults__ = func.__kwdefaults__
    return f


def install_as_nki():
    """Make `import nki`, `import nki.language`, `import nki.isa` resolve to the peer."""
    sys.modules.update({'nki': top, 'nki.language': language, 'nki.isa': isa})
