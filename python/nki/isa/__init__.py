"""nki.isa: the NKI 0.3.0 instruction set, executed by the nkisim interpreter.

Each function normalises its arguments (operators, enums, defaults) and makes one call into
nki._core, which validates and executes the instruction. Destination first, as in NKI.
"""
from .. import _core, _errors, _ops
from .._errors import (NkiAllocationError, NkiOutOfBoundsError, NkiUninitializedReadError,
                       NkiUninitializedReadWarning, NkiUnsupportedError, NkiValidationError)
from . import constants
from .constants import (dge_mode, dma_engine, engine, matmul_perf_mode, nc_version, oob_mode,
                        reduce_cmd)

# Deprecated aliases of engine members, still common in kernels.
tensor_engine = engine.tensor
vector_engine = engine.vector
scalar_engine = engine.scalar
gpsimd_engine = engine.gpsimd
unknown_engine = engine.unknown

_ERR = _errors.ERRORS
_reraise = _errors.reraise


def _enum(value, cls, instr, param):
    if value.__class__ is cls:
        return value.value
    _errors.fail(NkiValidationError,
                 f"nki.isa.{instr}: {param}: must be a member of nki.isa.{cls.__name__} "
                 f"(e.g. nki.isa.{cls.__name__}.{next(iter(cls)).name}), found "
                 f"{type(value).__name__} {value!r}")


# Keyed by identity: Enum.__hash__ is a Python-level call, too slow for every instruction.
_ENGINE = {id(m): m.value for m in engine}


def _engine(value, instr):
    v = _ENGINE.get(id(value))
    if v is not None:
        return v
    return _enum(value, engine, instr, "engine")


class VirtualRegister:
    """A sequencer register. Registers and dynamic control flow are not simulated yet."""

    def __init__(self, *a, **k):
        raise NkiUnsupportedError("nki.isa.VirtualRegister: registers are not supported by nkisim yet")


_A = _ops.ALU                 # nl function -> ALU op id
_AO = _ops.ALU_OR_NONE        # the same, plus None -> 0
_F = _ops.ACT                 # nl function -> activation id
_E = _ENGINE                  # id(engine member) -> value
_RC = {id(m): m.value for m in reduce_cmd}
_DGE = {id(m): m.value for m in dge_mode}
_OOB = {id(m): m.value for m in oob_mode}


def _bad_call(instr, exc, tensors, checks):
    """Turn a failed fast-path lookup or argument conversion into a precise error."""
    for param, value in tensors.items():
        if value is not None and not isinstance(value, _core.Tensor):
            _errors.fail(NkiValidationError, f"nki.isa.{instr}: {param}: expected an NkiTensor "
                                             f"(a tile or HBM tensor), found {type(value).__name__}")
    for check in checks:
        check()
    _errors.fail(NkiValidationError, f"nki.isa.{instr}: invalid arguments: {exc}")


def get_nc_version():
    """The nc_version of the simulated target (NEURON_PLATFORM_TARGET_OVERRIDE, default trn3)."""
    if _core.has_current():
        name = _core.current_target()
    else:
        name = _core.target_info("")["name"]
    return nc_version(_core.target_info(name)["version"])


def dma_copy(dst, src, oob_mode=oob_mode.error, dge_mode=dge_mode.unknown, engine=engine.unknown,
             name=None):
    try:
        _core.dma_copy(dst, src, _OOB[id(oob_mode)], _DGE[id(dge_mode)], _E[id(engine)], name)
    except _ERR as e:
        _reraise(e)
    except (KeyError, TypeError) as e:
        _bad_call("dma_copy", e, {"dst": dst, "src": src},
                  [lambda: _enum(oob_mode, constants.oob_mode, "dma_copy", "oob_mode"),
                   lambda: _enum(dge_mode, constants.dge_mode, "dma_copy", "dge_mode"),
                   lambda: _engine(engine, "dma_copy")])


def tensor_copy(dst, src, engine=engine.unknown, name=None):
    try:
        _core.tensor_copy(dst, src, _E[id(engine)], name)
    except _ERR as e:
        _reraise(e)
    except (KeyError, TypeError) as e:
        _bad_call("tensor_copy", e, {"dst": dst, "src": src}, [lambda: _engine(engine, "tensor_copy")])


def memset(dst, value, engine=engine.unknown, name=None):
    try:
        _core.memset(dst, value, _E[id(engine)], name)
    except _ERR as e:
        _reraise(e)
    except (KeyError, TypeError) as e:
        _bad_call("memset", e, {"dst": dst}, [lambda: _engine(engine, "memset")])


def iota(dst, pattern, offset=0, channel_multiplier=0, name=None):
    try:
        pat = [(int(p[0]), int(p[1])) for p in pattern]
    except (TypeError, IndexError, ValueError):
        _errors.fail(NkiValidationError,
                     f"nki.isa.iota: pattern: must be a list of [step, num] pairs, found {pattern!r}")
    try:
        _core.iota(dst, pat, int(offset), int(channel_multiplier), name)
    except _ERR as e:
        _reraise(e)


def tensor_tensor(dst, data1, data2, op, engine=engine.unknown, name=None):
    try:
        _core.tensor_tensor(dst, data1, data2, _A[op], _E[id(engine)], name)
    except _ERR as e:
        _reraise(e)
    except (KeyError, TypeError) as e:
        _bad_call("tensor_tensor", e, {"dst": dst, "data1": data1, "data2": data2},
                  [lambda: _ops.alu(op, "tensor_tensor", "op"),
                   lambda: _engine(engine, "tensor_tensor")])


def tensor_scalar(dst, data, op0, operand0, reverse0=False, op1=None, operand1=None,
                  reverse1=False, engine=engine.unknown, name=None):
    try:
        _core.tensor_scalar(dst, data, _A[op0], operand0, reverse0, _AO[op1], operand1, reverse1,
                            _E[id(engine)], name)
    except _ERR as e:
        _reraise(e)
    except (KeyError, TypeError) as e:
        _bad_call("tensor_scalar", e, {"dst": dst, "data": data},
                  [lambda: _ops.alu(op0, "tensor_scalar", "op0"),
                   lambda: _ops.alu(op1, "tensor_scalar", "op1", optional=True),
                   lambda: _engine(engine, "tensor_scalar")])


def activation(dst, op, data, bias=None, scale=1.0, reduce_op=None, reduce_res=None,
               reduce_cmd=reduce_cmd.idle, name=None):
    try:
        _core.activation(dst, _F[op], data, bias, scale, _AO[reduce_op], reduce_res,
                         _RC[id(reduce_cmd)], name)
    except _ERR as e:
        _reraise(e)
    except (KeyError, TypeError) as e:
        _bad_call("activation", e, {"dst": dst, "data": data, "reduce_res": reduce_res},
                  [lambda: _ops.act(op, "activation", "op"),
                   lambda: _ops.alu(reduce_op, "activation", "reduce_op", optional=True),
                   lambda: _enum(reduce_cmd, constants.reduce_cmd, "activation", "reduce_cmd")])


def activation_reduce(dst, op, data, reduce_op, reduce_res, bias=None, scale=1.0, name=None):
    activation(dst, op, data, bias=bias, scale=scale, reduce_op=reduce_op, reduce_res=reduce_res,
               reduce_cmd=constants.reduce_cmd.reset_reduce, name=name)


def tensor_reduce(dst, op, data, axis, negate=False, keepdims=False, name=None):
    axes = [int(axis)] if isinstance(axis, int) or hasattr(axis, "__index__") else [int(a) for a in axis]
    try:
        _core.tensor_reduce(dst, _ops.alu(op, "tensor_reduce", "op"), data, axes, bool(negate),
                            bool(keepdims), name)
    except _ERR as e:
        _reraise(e)


def nc_matmul(dst, stationary, moving, is_stationary_onezero=False, is_moving_onezero=False,
              is_transpose=False, accumulate=None, tile_position=(), tile_size=(),
              perf_mode=matmul_perf_mode.none, name=None):
    mode = _enum(perf_mode, matmul_perf_mode, "nc_matmul", "perf_mode")
    try:
        _core.nc_matmul(dst, stationary, moving, bool(is_stationary_onezero),
                        bool(is_moving_onezero), bool(is_transpose), accumulate,
                        [int(v) for v in (tile_position or ())], [int(v) for v in (tile_size or ())],
                        0 if mode == "none" else 1, name)
    except _ERR as e:
        _reraise(e)


def nc_transpose(dst, data, engine=engine.unknown, name=None):
    try:
        _core.nc_transpose(dst, data, _engine(engine, "nc_transpose"), name)
    except _ERR as e:
        _reraise(e)


def reciprocal(dst, data, name=None):
    try:
        _core.reciprocal(dst, data, name)
    except _ERR as e:
        _reraise(e)


def _absent(fname):
    def f(*args, **kwargs):
        _errors.fail(NkiUnsupportedError,
                     f"nki.isa.{fname} is not implemented by nkisim yet (NKI 0.3.0 instruction); "
                     f"the implemented instructions are: {', '.join(_core.op_names())}")
    f.__name__ = fname
    f.__qualname__ = fname
    return f


# The rest of the 0.3.0 instruction set: present by name, refusing clearly until implemented.
for _n in ["nc_matmul_mx", "activation_reduce_", "scalar_tensor_tensor", "tensor_scalar_reduce",
           "tensor_scalar_cumulative", "tensor_tensor_scan", "exponential", "bn_stats", "bn_aggr",
           "max8", "nc_find_index8", "nc_match_replace8", "nc_stream_shuffle",
           "tensor_copy_predicated", "select_reduce", "range_select", "quantize_mx", "dropout",
           "affine_select", "tensor_partition_reduce", "local_gather", "nc_n_gather",
           "sequence_bounds", "nonzero_with_count", "dma_transpose", "dma_compute", "rng", "rand2",
           "rand_set_state", "rand_get_state", "set_rng_seed", "register_alloc", "register_move",
           "register_load", "register_store", "core_barrier", "sendrecv",
           "tensor_copy_dynamic_src", "tensor_copy_dynamic_dst"]:
    if _n.endswith("_"):
        continue
    globals()[_n] = _absent(_n)
del _n
from .._object import NKIObject  # noqa: E402,F401  (the same class as nki.language.NKIObject)
