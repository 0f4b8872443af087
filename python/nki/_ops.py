"""Operator identifiers: nki.language functions double as the `op` arguments of nki.isa.

The tables map those function objects to the simulator's operator ids (nkisim::AluOp and
nkisim::ActFn, same order).
"""
from . import _errors

ALU_NAMES = ["none", "invert", "bitwise_and", "bitwise_or", "bitwise_xor", "left_shift",
             "right_shift", "add", "subtract", "multiply", "maximum", "minimum", "equal",
             "not_equal", "greater_equal", "greater", "less_equal", "less", "logical_and",
             "logical_or", "logical_xor", "rsqrt", "reciprocal", "abs", "power"]
ACT_NAMES = ["copy", "square", "sigmoid", "relu", "gelu", "gelu_dx", "gelu_apprx_tanh",
             "gelu_apprx_sigmoid", "gelu_apprx_sigmoid_dx", "silu", "silu_dx", "tanh", "softplus",
             "mish", "erf", "erf_dx", "exp", "log", "sin", "arctan", "sqrt", "rsqrt", "reciprocal",
             "sign", "abs"]
ALU = {}  # nl function -> AluOp id
ACT = {}  # nl function -> ActFn id
ALU_OR_NONE = {None: 0}  # ALU plus "no op"


def register(namespace):
    """Fill the tables from the nki.language namespace."""
    for i, n in enumerate(ALU_NAMES[1:], start=1):
        ALU[namespace[n]] = i
    for i, n in enumerate(ACT_NAMES):
        ACT[namespace[n]] = i
    ALU_OR_NONE.update(ALU)


def _name(op):
    return f"nl.{op.__name__}" if callable(op) and hasattr(op, "__name__") else repr(op)


def alu(op, instr, operand, optional=False):
    if op is None and optional:
        return 0
    try:
        return ALU[op]
    except (KeyError, TypeError):
        pass
    _errors.fail(_errors.NkiValidationError,
                 f"nki.isa.{instr}: {operand}: {_name(op)} is not an ALU operator; use one of "
                 + ", ".join("nl." + n for n in ALU_NAMES[1:]))


def act(op, instr, operand):
    try:
        return ACT[op]
    except (KeyError, TypeError):
        pass
    _errors.fail(_errors.NkiValidationError,
                 f"nki.isa.{instr}: {operand}: {_name(op)} is not an activation function; use one of "
                 + ", ".join("nl." + n for n in ACT_NAMES))
