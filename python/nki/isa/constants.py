"""Enums of nki.isa (also importable as nki.isa.constants).

The instruction enums (engine, reduce_cmd, dge_mode, oob_mode, matmul_perf_mode) are built from
the simulator's C++ declarations (nki._core.enums()), so names and values exist in one place.
"""
import enum

from .. import _core


def _make(name):
    e = enum.Enum(name, _core.enums()[name], module=__name__, qualname=name)
    _core.register_enum(name, list(e))  # instructions recognise members by identity
    return e


engine = _make("engine")
reduce_cmd = _make("reduce_cmd")
dge_mode = _make("dge_mode")
oob_mode = _make("oob_mode")
matmul_perf_mode = _make("matmul_perf_mode")


class nc_version(enum.IntEnum):
    """Orders against members and plain ints: get_nc_version() >= nc_version.gen3, >= 3."""
    gen2 = 2
    gen3 = 3
    gen4 = 4


dma_engine = _make("dma_engine")
