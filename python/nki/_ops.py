"""Operator identifiers: nki.language functions double as the `op` arguments of nki.isa.

The simulator recognises them by identity; the names and their order come from its C++ tables
(nki._core.alu_names(), nki._core.act_names()).
"""
from . import _core

ALU_NAMES = ["none"] + _core.alu_names()
ACT_NAMES = _core.act_names()


def register(namespace):
    """Tell the simulator which nki.language functions are its operators."""
    _core.register_operators({n: namespace[n] for n in ALU_NAMES[1:]},
                             {n: namespace[n] for n in ACT_NAMES})
