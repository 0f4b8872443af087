"""nki.isa: the NKI 0.3.0 instruction set, executed by the nkisim interpreter.

Every instruction here is generated from the simulator's C++ declaration table
(include/nkisim/ops.def): nki._core.instructions holds one callable per declared instruction,
which parses its arguments, validates and executes in C++. This module only gives them their
0.3.0 signatures and docs. Instructions of 0.3.0 the simulator does not implement yet exist by
name and raise NkiUnsupportedError.
"""
import inspect as _inspect

from .. import _core, _errors
from .._errors import (NkiAllocationError, NkiOutOfBoundsError, NkiTypeError,  # noqa: F401
                       NkiLaunchAbortedError, NkiRaceError, NkiRaceWarning,
                       NkiUninitializedReadError,
                       NkiUninitializedReadWarning, NkiUnsupportedError,
                       NkiValidationError)
from . import _api030, constants
from .constants import (dge_mode, dma_engine, engine, matmul_perf_mode, nc_version,  # noqa: F401
                        oob_mode, reduce_cmd)

# Deprecated aliases of engine members, still common in kernels.
tensor_engine = engine.tensor
vector_engine = engine.vector
scalar_engine = engine.scalar
gpsimd_engine = engine.gpsimd
unknown_engine = engine.unknown


VirtualRegister = _core.VirtualRegister  # a core's 32-bit sequencer register (issue 9)


def register_alloc(x=None):
    """Allocate a VirtualRegister on the running core, uninitialised (x=None) or holding the int x.

    Registers drive nl.dynamic_range bounds, `while reg:` loops and dynamic addresses; write them
    with register_move / register_load, read them back with register_store."""
    if x is not None and (isinstance(x, bool) or not isinstance(x, int)):
        import numpy as _np
        if not isinstance(x, _np.integer):
            _errors.fail(NkiTypeError, f"nki.isa.register_alloc: x: expected an int or None, found "
                                       f"{type(x).__name__} {x!r}")
    try:
        return _core.register_alloc(None if x is None else int(x))
    except _errors.ERRORS as e:
        _errors.reraise(e)


def get_nc_version():
    """The nc_version of the simulated target (NEURON_PLATFORM_TARGET_OVERRIDE, default trn3)."""
    if _core.has_current():
        name = _core.current_target()
    else:
        name = _core.target_info("")["name"]
    return nc_version(_core.target_info(name)["version"])


# The declared instructions.
globals().update(_core.instructions)

# The rest of the 0.3.0 instruction set: present by name (with its 0.3.0 signature), refusing
# clearly until implemented.
def _absent(fname):
    def f(*args, **kwargs):
        _errors.fail(NkiUnsupportedError,
                     f"nki.isa.{fname} is not implemented by nkisim yet (NKI 0.3.0 instruction); "
                     f"the implemented instructions are: {', '.join(_core.op_names())}")
    f.__name__ = fname
    f.__qualname__ = fname
    f.__module__ = __name__
    return f


for _n in _api030.SIGNATURES:
    if _n not in _core.instructions and _n not in globals():
        globals()[_n] = _absent(_n)
del _n


def signature_030(fname, nl):
    """The inspect.Signature NKI 0.3.0 publishes for nki.isa.<fname>."""
    names = {"engine": engine, "reduce_cmd": reduce_cmd, "dge_mode": dge_mode, "oob_mode": oob_mode,
             "matmul_perf_mode": matmul_perf_mode, "dma_engine": dma_engine, "nl": nl}
    return _inspect.signature(eval(f"lambda {_api030.SIGNATURES[fname]}: None", names))  # noqa: S307


def _finish(nl):
    """Give each declared instruction its 0.3.0 signature and a doc (needs nki.language, whose
    functions are the operator defaults)."""
    names = {"engine": engine, "reduce_cmd": reduce_cmd, "dge_mode": dge_mode,
             "oob_mode": oob_mode, "matmul_perf_mode": matmul_perf_mode, "dma_engine": dma_engine,
             "nl": nl}
    P = _inspect.Parameter
    for fname in _api030.SIGNATURES:
        if fname not in _core.instructions and fname != "register_alloc":
            globals()[fname].__signature__ = signature_030(fname, nl)
    for d in _core.declarations:
        obj = _core.instructions[d["name"]]
        params, lines = [], []
        for p in d["params"] + [{"name": "name", "kind": "str or None", "role": "", "buffers": [],
                                 "default": "None", "enum": None}]:
            default = P.empty if p["default"] is None else eval(p["default"], names)  # noqa: S307
            params.append(P(p["name"], P.POSITIONAL_OR_KEYWORD, default=default))
            what = f"nki.isa.{p['enum']} member" if p["enum"] else p["kind"]
            where = f", {p['role']}, in {' or '.join(p['buffers'])}" if p["buffers"] else ""
            lines.append(f"    {p['name']}: {what}{where}")
        engines = ", ".join(sorted({e for es in d["engines"] for e in es}))
        doc = (f"{d['summary']}\n\nRuns on the {d['default_engine']} engine"
               + (f" (engine= may choose {engines})" if engines else "")
               + f"; available from {('trn1', 'trn2', 'trn3')[d['first_gen'] - 2]}.\n\n"
               "Parameters:\n" + "\n".join(lines))
        if "name" not in _api030.SIGNATURES.get(d["name"], "name"):
            params, lines = params[:-1], lines[:-1]  # register_*: 0.3.0 has no name= parameter
        obj.__signature__ = _inspect.Signature(params)
        obj.__name__ = obj.__qualname__ = d["name"]
        obj.__module__ = __name__
        obj.__doc__ = doc


from .._object import NKIObject  # noqa: E402,F401  (the same class as nki.language.NKIObject)
