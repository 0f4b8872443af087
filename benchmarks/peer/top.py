"""Peer top-level `nki`: jit and simulate (eager execution of the kernel body)."""
import numpy as np

from . import isa, language  # noqa: F401  (nki.isa / nki.language attributes)
from .tensor import Tensor, wrap_input


class Kernel:
    def __init__(self, func):
        self.func = func

    def __call__(self, *args, **kwargs):
        return simulate(self)(*args, **kwargs)


def jit(func=None, mode='auto', **kwargs):
    if func is None:
        return lambda f: Kernel(f)
    return Kernel(func)


def _unwrap(r):
    if isinstance(r, Tensor):
        return r.data
    if isinstance(r, (tuple, list)):
        return type(r)(_unwrap(x) for x in r)
    return r


def simulate(kernel):
    func = getattr(kernel, 'func', kernel)

    def run(*args, **kwargs):
        args = [wrap_input(a) if isinstance(a, np.ndarray) else a for a in args]
        kwargs = {k: wrap_input(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        return _unwrap(func(*args, **kwargs))
    return run
