"""Bad inputs: each must raise the right nki.isa exception class with a message that names the
instruction (or API), the operand and the rule, points at the kernel source line, and leaves the
process able to run the next kernel.

Exception classes: NkiValidationError (an AssertionError), NkiOutOfBoundsError (also an
IndexError), NkiAllocationError (a NkiValidationError), NkiUnsupportedError (a
NotImplementedError).
"""
import dataclasses
import inspect
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
import nki.typing as nt
from conftest import kernel_raises, psum, sanity_check, sbuf

V = nisa.NkiValidationError
OOB = nisa.NkiOutOfBoundsError
ALLOC = nisa.NkiAllocationError
UNSUP = nisa.NkiUnsupportedError

F = np.ones((128, 8), np.float32)
I = np.ones((128, 8), np.int32)


def test_exception_hierarchy():
    assert issubclass(V, AssertionError)
    assert issubclass(OOB, IndexError) and issubclass(OOB, V)
    assert issubclass(ALLOC, V)
    assert issubclass(UNSUP, NotImplementedError)
    assert not issubclass(UNSUP, V)


@dataclasses.dataclass
class Case:
    kernel: object
    args: tuple
    exc: type
    match: str
    target: str = None
    grid: int = None


CASES = []


def case(exc, match, *args, target=None, grid=None):
    """Register a kernel that must fail with `exc` whose message matches `match` (re.search)."""
    def deco(fn):
        CASES.append(pytest.param(Case(fn, args, exc, match, target, grid), id=fn.__name__))
        return fn
    return deco


# ---------------------------------------------------------------- shapes and layouts
@case(ALLOC, r"cannot allocate sbuf tensor .*partition dimension 129 must be in \[1, 128\]")
def partition_dim_over_128():
    nl.ndarray((129, 4), dtype=nl.float32, buffer=nl.sbuf)


@case(ALLOC, r"cannot allocate psum tensor .*partition dimension 256 must be in \[1, 128\]")
def psum_partition_dim_over_128():
    nl.ndarray((256, 4), dtype=nl.float32, buffer=nl.psum)


@case(V, r"nki\.isa\.tensor_tensor: data2: 4 elements per partition \(shape \[128, 4\]\) must "
         r"equal those of data1, 8")
def tensor_tensor_free_size_mismatch():
    a, b, o = sbuf((128, 8), nl.float32), sbuf((128, 4), nl.float32), sbuf((128, 8), nl.float32)
    nisa.tensor_tensor(o, a, b, nl.add)


@case(V, r"nki\.isa\.tensor_tensor: data2: partition dimension 64 \(shape \[64, 8\]\) must equal "
         r"that of data1, 128")
def tensor_tensor_partition_mismatch():
    a, b, o = sbuf((128, 8), nl.float32), sbuf((64, 8), nl.float32), sbuf((128, 8), nl.float32)
    nisa.tensor_tensor(o, a, b, nl.add)


@case(V, r"nki\.isa\.tensor_copy: dst: partition dimension 64 .* must equal that of src, 128")
def tensor_copy_dst_shape_mismatch():
    nisa.tensor_copy(sbuf((64, 8), nl.float32), sbuf((128, 8), nl.float32))


@case(V, r"nki\.isa\.reciprocal: dst: 16 elements per partition .* must equal those of data, 8")
def reciprocal_dst_shape_mismatch():
    nisa.reciprocal(sbuf((128, 16), nl.float32), sbuf((128, 8), nl.float32))


@case(V, r"nki\.isa\.dma_copy: dst: holds 512 elements \(shape \[128, 4\]\) but src holds 1024 "
         r"\(shape \[128, 8\]\); element counts must match", F)
def dma_copy_element_count_mismatch(a):
    nisa.dma_copy(sbuf((128, 4), nl.float32), a)


# ---------------------------------------------------------------- buffers
@case(V, r"nki\.isa\.dma_copy: src: must be in sbuf or hbm, found a tensor in psum")
def dma_copy_from_psum():
    p = psum((128, 8))
    nisa.memset(p, 0.0)
    nisa.dma_copy(sbuf((128, 8), nl.float32), p)


@case(V, r"nki\.isa\.tensor_tensor: data2: data1 and data2 cannot both be in psum")
def tensor_tensor_both_inputs_in_psum():
    a, b = psum((128, 8)), psum((128, 8))
    nisa.tensor_tensor(sbuf((128, 8), nl.float32), a, b, nl.add)


@case(V, r"nki\.isa\.nc_matmul: stationary: must be in sbuf, found a tensor in psum")
def matmul_stationary_in_psum():
    nisa.nc_matmul(psum((16, 8)), psum((32, 16)), sbuf((32, 8), nl.float32))


@case(V, r"nki\.isa\.nc_matmul: moving: must be in sbuf, found a tensor in psum")
def matmul_moving_in_psum():
    nisa.nc_matmul(psum((16, 8)), sbuf((32, 16), nl.float32), psum((32, 8)))


@case(V, r"nki\.isa\.nc_matmul: dst: must be in psum, found a tensor in sbuf")
def matmul_dst_in_sbuf():
    nisa.nc_matmul(sbuf((16, 8), nl.float32), sbuf((32, 16), nl.float32),
                   sbuf((32, 8), nl.float32))


@case(V, r"nki\.isa\.nc_matmul: stationary: must be in sbuf, found a tensor in private_hbm", F)
def matmul_stationary_in_hbm(a):
    nisa.nc_matmul(psum((8, 8)), a, sbuf((128, 8), nl.float32))


@case(V, r"nki\.isa\.memset: dst: must be in sbuf, found a tensor in psum")
def memset_gpsimd_into_psum():
    nisa.memset(psum((16, 8)), 0.0, engine=nisa.engine.gpsimd)


@case(V, r"nki\.isa\.tensor_copy: dst: must be in sbuf, found a tensor in psum")
def tensor_copy_gpsimd_touches_psum():
    nisa.tensor_copy(psum((16, 8)), sbuf((16, 8), nl.float32), engine=nisa.engine.gpsimd)


@case(V, r"nki\.isa\.iota: dst: must be in sbuf, found a tensor in psum")
def iota_into_psum():
    nisa.iota(psum((16, 8)), [[1, 8]])


@case(V, r"nki\.isa\.tensor_tensor: data1: must be in sbuf, found a tensor in psum")
def power_on_gpsimd_reads_psum():
    nisa.tensor_tensor(sbuf((16, 8), nl.float32), psum((16, 8)), sbuf((16, 8), nl.float32),
                       nl.power)


@case(V, r"nki\.isa\.nc_transpose: dst: must be in psum, found a tensor in sbuf")
def transpose_tensor_engine_into_sbuf():
    nisa.nc_transpose(sbuf((8, 16), nl.float32), sbuf((16, 8), nl.float32),
                      engine=nisa.engine.tensor)


@case(V, r"nki\.isa\.tensor_copy: dst: must be in sbuf or psum, found a tensor in private_hbm", F)
def tensor_copy_into_hbm(a):
    nisa.tensor_copy(a, sbuf((128, 8), nl.float32))


def _read_only(shape):
    a = np.ones(shape, np.float32)
    a.setflags(write=False)
    return a


@case(V, r"nki\.isa\.dma_copy: dst: .*'a'.* wraps a read-only array", _read_only((128, 8)))
def dma_copy_into_read_only_input(a):
    nisa.dma_copy(a, sbuf((128, 8), nl.float32))


# ---------------------------------------------------------------- nc_matmul rules
@case(V, r"nki\.isa\.nc_matmul: moving: if either input is float32/tfloat32 both must be, found "
         r"stationary float32 and moving bfloat16")
def matmul_fp32_with_bf16():
    nisa.nc_matmul(psum((16, 8)), sbuf((32, 16), nl.float32), sbuf((32, 8), nl.bfloat16))


@case(V, r"nki\.isa\.nc_matmul: stationary: dtype must be one of .*found int8")
def matmul_int8_input():
    nisa.nc_matmul(psum((16, 8)), sbuf((32, 16), nl.int8), sbuf((32, 8), nl.int8))


@case(V, r"nki\.isa\.nc_matmul: moving: free size 513 exceeds the maximum 512 on trn2",
      target="trn2")
def matmul_moving_free_over_limit():
    nisa.nc_matmul(psum((2, 513)), sbuf((32, 2), nl.bfloat16), sbuf((32, 513), nl.bfloat16))


@case(V, r"nki\.isa\.nc_matmul: stationary: free size 129 exceeds the maximum 128")
def matmul_stationary_free_over_limit():
    nisa.nc_matmul(psum((128, 8)), sbuf((32, 129), nl.bfloat16), sbuf((32, 8), nl.bfloat16))


@case(V, r"nki\.isa\.nc_matmul: dst: must have shape \[16, 8\] \(stationary free x moving free\), "
         r"found \[8, 16\]")
def matmul_dst_shape_mismatch():
    nisa.nc_matmul(psum((8, 16)), sbuf((32, 16), nl.bfloat16), sbuf((32, 8), nl.bfloat16))


@case(V, r"nki\.isa\.nc_matmul: moving: partition \(contraction\) dimension 32 must equal "
         r"stationary's 64")
def matmul_contraction_mismatch():
    nisa.nc_matmul(psum((16, 8)), sbuf((64, 16), nl.bfloat16), sbuf((32, 8), nl.bfloat16))


@case(V, r"nki\.isa\.nc_matmul: dst: dtype must be float32 on trn2, found bfloat16", target="trn2")
def matmul_bf16_psum_on_trn2():
    nisa.nc_matmul(psum((16, 8), nl.bfloat16), sbuf((32, 16), nl.bfloat16),
                   sbuf((32, 8), nl.bfloat16))


@case(V, r"nki\.isa\.nc_matmul: dst: spans PSUM bytes \[1024, 3071\] which cross a 2 KiB bank "
         r"boundary", target="trn2")
def matmul_dst_crosses_psum_bank():
    d = psum((64, 1024))
    nisa.nc_matmul(d[:, 256:768], sbuf((32, 64), nl.bfloat16), sbuf((32, 512), nl.bfloat16))


@case(V, r"nki\.isa\.nc_matmul: tile_size: row size must be 128, 64 or 32, found 48")
def matmul_bad_tile_size():
    nisa.nc_matmul(psum((16, 8)), sbuf((32, 16), nl.bfloat16), sbuf((32, 8), nl.bfloat16),
                   tile_position=(0, 0), tile_size=(48, 128))


@case(V, r"nki\.isa\.nc_matmul: perf_mode: double_row needs trn2 or newer", target="trn1")
def matmul_double_row_on_trn1():
    nisa.nc_matmul(psum((16, 8)), sbuf((32, 2, 16), nl.float8_e4m3),
                   sbuf((32, 2, 8), nl.float8_e4m3), perf_mode=nisa.matmul_perf_mode.double_row)


@case(V, r"nki\.isa\.nc_matmul: perf_mode: double_row takes float8_e4m3/float8_e5m2 inputs, "
         r"found bfloat16")
def matmul_double_row_bf16():
    nisa.nc_matmul(psum((16, 8)), sbuf((32, 2, 16), nl.bfloat16),
                   sbuf((32, 2, 8), nl.bfloat16), perf_mode=nisa.matmul_perf_mode.double_row)


@case(V, r"nki\.isa\.nc_matmul: perf_mode: double_row takes float8_e4m3/float8_e5m2 inputs")
def matmul_perf_mode_as_string():
    nisa.nc_matmul(psum((16, 8)), sbuf((32, 16), nl.bfloat16), sbuf((32, 8), nl.bfloat16),
                   perf_mode="double_row")


# ---------------------------------------------------------------- memset
@case(V, r"nki\.isa\.memset: value: must match dst dtype int32: pass an int, found the float 2")
def memset_float_into_int():
    nisa.memset(sbuf((16, 8), nl.int32), 2.0)


@case(V, r"nki\.isa\.memset: value: must match dst dtype uint8")
def memset_numpy_float_into_uint8():
    nisa.memset(sbuf((16, 8), nl.uint8), np.float32(1.0))


@case(V, r"nki\.isa\.memset: value: packed dtype float8_e4m3fn_x4 can only be set to 0, found 1")
def memset_x4_non_zero():
    nisa.memset(sbuf((16, 8), nl.float8_e4m3fn_x4), 1)


@case(nisa.NkiTypeError, r"nki\.isa\.memset: value: expected a Python number, found [\w.]*Tensor")
def memset_tile_value():
    nisa.memset(sbuf((16, 8), nl.float32), sbuf((16, 1), nl.float32))


# ---------------------------------------------------------------- ops and operands
@case(V, r"nki\.isa\.tensor_tensor: \w+: bitvec op bitwise_and needs integer dtypes, found float32")
def bitvec_on_float_tiles():
    a, b, o = (sbuf((16, 8), nl.float32) for _ in range(3))
    nisa.tensor_tensor(o, a, b, nl.bitwise_and)


@case(V, r"nki\.isa\.tensor_scalar: data: bitvec operators need integer dtypes, found data "
         r"bfloat16")
def tensor_scalar_bitvec_on_float():
    nisa.tensor_scalar(sbuf((16, 8), nl.bfloat16), sbuf((16, 8), nl.bfloat16), nl.left_shift, 1)


@case(V, r"nki\.isa\.tensor_reduce: data: bitvec reduction needs integer dtypes, found float32")
def tensor_reduce_bitvec_on_float():
    nisa.tensor_reduce(sbuf((16, 1), nl.float32), nl.bitwise_or, sbuf((16, 8), nl.float32), 1)


@case(V, r"nki\.isa\.tensor_tensor: op: nl\.exp is not an ALU operator")
def activation_function_as_alu_op():
    a, b, o = (sbuf((16, 8), nl.float32) for _ in range(3))
    nisa.tensor_tensor(o, a, b, nl.exp)


@case(V, r"nki\.isa\.tensor_tensor: op: must be a binary ALU operator .* found rsqrt")
def unary_op_in_tensor_tensor():
    a, b, o = (sbuf((16, 8), nl.float32) for _ in range(3))
    nisa.tensor_tensor(o, a, b, nl.rsqrt)


@case(V, r"nki\.isa\.activation: op: nl\.add is not an activation function")
def alu_op_as_activation():
    nisa.activation(sbuf((16, 8), nl.float32), nl.add, sbuf((16, 8), nl.float32))


@case(V, r"nki\.isa\.activation: op: 'exp' is not an activation function")
def activation_op_as_string():
    nisa.activation(sbuf((16, 8), nl.float32), "exp", sbuf((16, 8), nl.float32))


@case(V, r"nki\.isa\.activation: reduce_res: must have shape \(128, 1\), found \[128, 2\]")
def reduce_res_wrong_shape():
    x = sbuf((128, 8), nl.float32)
    nisa.memset(x, 1.0)
    nisa.activation(sbuf((128, 8), nl.float32), nl.exp, x, reduce_op=nl.add,
                    reduce_res=sbuf((128, 2), nl.float32),
                    reduce_cmd=nisa.reduce_cmd.reset_reduce)


@case(V, r"nki\.isa\.activation: reduce_op: must be nl\.add on trn1, found maximum",
      target="trn1")
def activation_reduce_op_not_add():
    nisa.activation(sbuf((16, 8), nl.float32), nl.exp, sbuf((16, 8), nl.float32),
                    reduce_op=nl.maximum, reduce_res=sbuf((16, 1), nl.float32),
                    reduce_cmd=nisa.reduce_cmd.reset_reduce)


@case(V, r"nki\.isa\.activation: scale: a vector operand of an arithmetic op must be float32, "
         r"found bfloat16")
def activation_scale_tile_not_fp32():
    nisa.activation(sbuf((16, 8), nl.float32), nl.exp, sbuf((16, 8), nl.float32),
                    scale=sbuf((16, 1), nl.bfloat16))


@case(V, r"nki\.isa\.activation: bias: must be a \(P, 1\) vector on trn1, not a Python number",
      target="trn1")
def activation_scalar_bias_on_trn1():
    nisa.activation(sbuf((16, 8), nl.float32), nl.exp, sbuf((16, 8), nl.float32), bias=1.0)


@case(V, r"nki\.isa\.activation: bias: op=nl\.reciprocal cannot take a bias on trn1",
      target="trn1")
def activation_reciprocal_bias_on_trn1():
    nisa.activation(sbuf((16, 8), nl.float32), nl.reciprocal, sbuf((16, 8), nl.float32),
                    bias=sbuf((16, 1), nl.float32))


@case(V, r"nki\.isa\.tensor_scalar: operand0: a vector operand of an arithmetic op must be "
         r"float32, found bfloat16")
def tensor_scalar_operand_tile_not_fp32():
    nisa.tensor_scalar(sbuf((16, 8), nl.float32), sbuf((16, 8), nl.float32), nl.multiply,
                       sbuf((16, 1), nl.bfloat16))


@case(V, r"nki\.isa\.tensor_scalar: operand0: a vector operand must have shape \(16, 1\), one "
         r"value per partition, found shape \[16, 2\]")
def tensor_scalar_operand_tile_wrong_shape():
    nisa.tensor_scalar(sbuf((16, 8), nl.float32), sbuf((16, 8), nl.float32), nl.multiply,
                       sbuf((16, 2), nl.float32))


@case(V, r"nki\.isa\.tensor_scalar: operand1: is required when op1 is given")
def tensor_scalar_op1_without_operand1():
    nisa.tensor_scalar(sbuf((16, 8), nl.float32), sbuf((16, 8), nl.float32), nl.multiply, 2.0,
                       op1=nl.add)


@case(V, r"nki\.isa\.tensor_scalar: operand1: must be None when op1 is None")
def tensor_scalar_operand1_without_op1():
    nisa.tensor_scalar(sbuf((16, 8), nl.float32), sbuf((16, 8), nl.float32), nl.multiply, 2.0,
                       operand1=1.0)


@case(V, r"nki\.isa\.tensor_scalar: op1: op0 and op1 must both be bitvec or both arithmetic "
         r"operators, found bitwise_and and add")
def tensor_scalar_mixed_op_classes():
    nisa.tensor_scalar(sbuf((16, 8), nl.int32), sbuf((16, 8), nl.int32), nl.bitwise_and, 3,
                       op1=nl.add, operand1=1)


@case(V, r"nki\.isa\.tensor_scalar: engine: the gpsimd engine only runs tensor_scalar with "
         r"op0=nl\.rsqrt")
def tensor_scalar_gpsimd_multiply():
    nisa.tensor_scalar(sbuf((16, 8), nl.float32), sbuf((16, 8), nl.float32), nl.multiply, 2.0,
                       engine=nisa.engine.gpsimd)


@case(V, r"nki\.isa\.tensor_scalar: engine: the scalar engine on trn2 only supports \(multiply, "
         r"add\), \(multiply, None\) and \(add, None\), found \(subtract, none\)", target="trn2")
def tensor_scalar_scalar_engine_subtract_on_trn2():
    nisa.tensor_scalar(sbuf((16, 8), nl.float32), sbuf((16, 8), nl.float32), nl.subtract, 2.0,
                       engine=nisa.engine.scalar)


@case(V, r"nki\.isa\.tensor_copy: engine: tensor_copy does not run on the scalar engine of trn1",
      target="trn1")
def tensor_copy_scalar_engine_on_trn1():
    nisa.tensor_copy(sbuf((16, 8), nl.float32), sbuf((16, 8), nl.float32),
                     engine=nisa.engine.scalar)


@case(V, r"nki\.isa\.tensor_copy: engine: runs on scalar, gpsimd, vector on trn3, not on the "
         r"tensor engine")
def tensor_copy_on_tensor_engine():
    nisa.tensor_copy(sbuf((16, 8), nl.float32), sbuf((16, 8), nl.float32),
                     engine=nisa.engine.tensor)


@case(V, r"nki\.isa\.tensor_copy: src: packed dtype float8_e4m3fn_x4 cannot be computed on")
def tensor_copy_cast_from_packed():
    nisa.tensor_copy(sbuf((16, 8), nl.float32), sbuf((16, 8), nl.float8_e4m3fn_x4))


# ---------------------------------------------------------------- enums
@case(V, r"nki\.isa\.tensor_copy: engine: must be a member of nki\.isa\.engine .*found int 7")
def engine_as_raw_int():
    nisa.tensor_copy(sbuf((16, 8), nl.float32), sbuf((16, 8), nl.float32), engine=7)


@case(V, r"nki\.isa\.activation: reduce_cmd: must be a member of nki\.isa\.reduce_cmd .*found "
         r"int 5")
def reduce_cmd_as_raw_int():
    nisa.activation(sbuf((16, 8), nl.float32), nl.exp, sbuf((16, 8), nl.float32),
                    reduce_op=nl.add, reduce_res=sbuf((16, 1), nl.float32), reduce_cmd=5)


@case(V, r"nki\.isa\.dma_copy: dge_mode: must be a member of nki\.isa\.dge_mode .*found int 4", F)
def dge_mode_as_raw_int(a):
    nisa.dma_copy(sbuf((128, 8), nl.float32), a, dge_mode=4)


@case(V, r"nki\.isa\.dma_copy: oob_mode: must be a member of nki\.isa\.oob_mode .*found str 'ignore'", F)
def oob_mode_as_raw_int(a):
    nisa.dma_copy(sbuf((128, 8), nl.float32), a, oob_mode="ignore")


@case(V, r"nl\.ndarray: buffer must be one of nl\.sbuf, nl\.psum, nl\.hbm, nl\.private_hbm, "
         r"nl\.shared_hbm, found 'sbuf'")
def string_buffer():
    nl.ndarray((16, 8), dtype=nl.float32, buffer="sbuf")


@case(V, r"nl\.ndarray: dtype: unknown dtype 'float64'")
def unknown_dtype_name():
    nl.ndarray((16, 8), dtype="float64", buffer=nl.sbuf)


# ---------------------------------------------------------------- tensor_reduce axes
@case(V, r"nki\.isa\.tensor_reduce: axis: axis 0 is not a free dimension of data with shape "
         r"\[16, 8\].*partition axis 0 cannot be reduced")
def tensor_reduce_axis_0():
    nisa.tensor_reduce(sbuf((16, 8), nl.float32), nl.add, sbuf((16, 8), nl.float32), axis=0)


@case(V, r"nki\.isa\.tensor_reduce: axis: axes \(1\) must be the trailing contiguous free "
         r"dimensions of data \[16, 4, 8\], ending at axis 2")
def tensor_reduce_non_trailing_axis():
    # 0.2.0 accepted axis=1 as "the last dim" of a 3-D tile; 0.3.0 must reject it.
    nisa.tensor_reduce(sbuf((16, 8), nl.float32), nl.add, sbuf((16, 4, 8), nl.float32), axis=1)


@case(V, r"nki\.isa\.tensor_reduce: axis: axes \(1, 3\) must be the trailing contiguous free "
         r"dimensions")
def tensor_reduce_non_contiguous_axes():
    nisa.tensor_reduce(sbuf((16, 3), nl.float32), nl.add, sbuf((16, 2, 3, 4), nl.float32),
                       axis=(1, 3))


@case(V, r"nki\.isa\.tensor_reduce: dst: must hold 4 elements per partition \(data \[16, 4, 8\] "
         r"reduced over axes \(2\)\), found shape \[16, 8\]")
def tensor_reduce_dst_shape_mismatch():
    nisa.tensor_reduce(sbuf((16, 8), nl.float32), nl.add, sbuf((16, 4, 8), nl.float32), axis=2)


@case(V, r"nki\.isa\.tensor_reduce: op: must be a reduction operator .*found greater")
def tensor_reduce_non_reduction_op():
    nisa.tensor_reduce(sbuf((16, 1), nl.float32), nl.greater, sbuf((16, 8), nl.float32), axis=1)


# ---------------------------------------------------------------- indexing and views
@case(OOB, r"slice 0:129 of dimension 0 of sbuf float32\[128, 8\] \(size 128\) is out of bounds")
def slice_past_partitions():
    t = sbuf((128, 8), nl.float32)
    nisa.memset(t[0:129, :], 0.0)


@case(OOB, r"index 8 is out of bounds for dimension 1 of sbuf float32\[128, 8\] \(size 8\)")
def int_index_out_of_bounds():
    t = sbuf((128, 8), nl.float32)
    nisa.memset(t[:, 8], 0.0)


@case(OOB, r"too many indices for sbuf float32\[128, 8\]: 3 given, 2 dimensions")
def too_many_indices():
    t = sbuf((128, 8), nl.float32)
    t[0, 0, 0]


@case(OOB, r"slice 4:20 of dimension 1 of private_hbm float32\[128, 8\] 'a' \(size 8\) is out of "
         r"bounds", F)
def hbm_slice_out_of_bounds(a):
    a[:, 4:20]


@case(OOB, r"slice 3:3 of dimension 1 .* selects no elements")
def empty_slice():
    t = sbuf((16, 8), nl.float32)
    nisa.memset(t[:, 3:3], 0.0)  # creating the empty view is allowed, using it is not


@case(V, r"slice step 2 on the partition dimension of sbuf float32\[128, 8\]: SBUF/PSUM access "
         r"patterns cannot stride across partitions")
def strided_partition_slice():
    t = sbuf((128, 8), nl.float32)
    nisa.memset(t[0:128:2, :], 0.0)


@case(V, r"slice step -1 on dimension 1 .* steps must be positive")
def negative_slice_step():
    sbuf((16, 8), nl.float32)[:, ::-1]


@case(V, r"\.ap\(\) on sbuf float32\[16, 16\]: the first pair is the partition pair and its step "
         r"must be the free size of a partition \(16 elements\), found 32")
def ap_skipping_partitions():
    sbuf((16, 16), nl.float32).ap([[32, 8], [1, 16]])


@case(OOB, r"\.ap\(\) of sbuf float32\[16, 16\] reaches elements \[8, 23\] of each partition, "
           r"which holds 16 elements")
def ap_out_of_bounds():
    view = sbuf((16, 16), nl.float32).ap([[16, 16], [1, 16]], offset=8)  # allowed until used
    nisa.memset(view, 0.0)


@case(V, r"cannot reshape private_hbm float32\[128, 8\] 'a' \(1024 elements\) to \[3, 5\]", F)
def reshape_to_wrong_size(a):
    a.reshape((3, 5))


@case(V, r"reshape of on-chip sbuf float32\[128, 8\] to \[64, 16\] must keep the partition "
         r"dimension 128")
def reshape_moves_partition_dim():
    sbuf((128, 8), nl.float32).reshape((64, 16))


@case(UNSUP, r"assigning into sbuf float32\[16, 8\] with t\[\.\.\.\] = value is not supported")
def setitem_on_tile():
    t = sbuf((16, 8), nl.float32)
    t[0:4, :] = 1.0


@case(V, r"reshape of private_hbm float32\[128, 4\] 'a' needs a contiguous view", F)
def reshape_of_strided_view(a):
    a[:, ::2].reshape((512,))


@case(OOB, r"\.ap\(\) of private_hbm float32\[8, 8\] 'a' reaches elements \[0, 1407\] of the "
           r"buffer, which holds 1024 elements", F)
def ap_out_of_bounds_on_hbm(a):
    nisa.dma_copy(sbuf((8, 8), nl.float32), a.ap([[200, 8], [1, 8]]))


@case(V, r"nki\.isa\.tensor_scalar: operand0: must be in sbuf or psum, found a tensor in "
         r"private_hbm", np.ones((16, 1), np.float32))
def tensor_scalar_operand_tile_in_hbm(v):
    nisa.tensor_scalar(sbuf((16, 8), nl.float32), sbuf((16, 8), nl.float32), nl.add, v)


@case(V, r"nki\.isa\.activation: bias: cannot be tfloat32")
def activation_bias_tfloat32():
    nisa.activation(sbuf((16, 8), nl.float32), nl.exp, sbuf((16, 8), nl.float32),
                    bias=sbuf((16, 1), nl.tfloat32))


@case(V, r"nki\.isa\.activation: reduce_cmd: load_reduce is not available on activation")
def activation_load_reduce():
    nisa.activation(sbuf((16, 8), nl.float32), nl.exp, sbuf((16, 8), nl.float32),
                    reduce_op=nl.add, reduce_res=sbuf((16, 1), nl.float32),
                    reduce_cmd=nisa.reduce_cmd.load_reduce)


@case(V, r"nki\.isa\.tensor_reduce: negate: is only valid with arithmetic operators")
def tensor_reduce_negate_bitvec():
    nisa.tensor_reduce(sbuf((16, 1), nl.int32), nl.bitwise_or, sbuf((16, 8), nl.int32), 1,
                       negate=True)


# ---------------------------------------------------------------- allocation
@case(ALLOC, r"sbuf capacity exceeded on core 0: at instruction #3 \(memset\) the tensors live "
             r"at once need 262144 bytes per partition, more than the 245752 bytes")
def sbuf_capacity_overflow():
    tiles = []
    for i in range(4):  # all four written, then all four read: live at once
        t = nl.ndarray((128, 16384), dtype=nl.float32, buffer=nl.sbuf, name=f"big{i}")
        nisa.memset(t, float(i))
        tiles.append(t)
    for t in tiles:
        nisa.tensor_scalar(t, t, nl.add, 1.0)


@case(ALLOC, r"cannot allocate sbuf tensor 'huge': 262144 bytes per partition exceed the sbuf "
             r"partition size of 212984 bytes", target="trn2")
def sbuf_tile_larger_than_partition():
    nl.ndarray((128, 65536), dtype=nl.float32, buffer=nl.sbuf, name="huge")


@case(ALLOC, r"psum capacity exceeded on core 0: .* need 18432 bytes per partition, more than "
             r"the 16384 bytes of a psum partition")
def psum_overflow():
    tiles = []
    for i in range(9):  # nine 2 KiB accumulators live at once
        t = nl.ndarray((128, 512), dtype=nl.float32, buffer=nl.psum, name=f"acc{i}")
        nisa.memset(t, 0.0)
        tiles.append(t)
    for t in tiles:
        nisa.tensor_scalar(t, t, nl.add, 1.0)


@case(ALLOC, r"cannot allocate psum tensor 'p': 16388 bytes per partition exceed the psum "
             r"partition size of 16384 bytes")
def psum_tile_larger_than_psum():
    nl.ndarray((128, 4097), dtype=nl.float32, buffer=nl.psum, name="p")


@case(ALLOC, r"cannot place sbuf tensor 't' at address=\(0, 245652\): it needs partitions "
             r"\[0, 128\) and bytes \[245652, 246676\)")
def address_past_end_of_sbuf():
    nl.ndarray((128, 256), dtype=nl.float32, buffer=nl.sbuf, name="t", address=(0, 245652))


@case(ALLOC, r"cannot place sbuf tensor 't' at address=\(100, 0\): it needs partitions "
             r"\[100, 164\)")
def address_past_last_partition():
    nl.ndarray((64, 16), dtype=nl.float32, buffer=nl.sbuf, name="t", address=(100, 0))


@case(ALLOC, r"cannot place psum tensor 'p' at address=\(0, 16000\)")
def address_past_end_of_psum():
    nl.ndarray((16, 512), dtype=nl.float32, buffer=nl.psum, name="p", address=(0, 16000))


@case(V, r"nl\.ndarray: address= places on-chip tensors only; 'h' is in shared_hbm")
def address_on_hbm():
    nl.ndarray((16, 16), dtype=nl.float32, buffer=nl.shared_hbm, name="h", address=(0, 0))


# ---------------------------------------------------------------- DMA modes
@case(V, r"nki\.isa\.dma_copy: dge_mode: hwdge copies bytes and needs equal dtypes, found src "
         r"float32 and dst bfloat16", F)
def hwdge_with_dtype_change(a):
    nisa.dma_copy(sbuf((128, 8), nl.bfloat16), a, dge_mode=nisa.dge_mode.hwdge)


@case(V, r"nki\.isa\.dma_copy: dge_mode: hwdge needs trn2 or newer", F, target="trn1")
def hwdge_on_trn1(a):
    nisa.dma_copy(sbuf((128, 8), nl.float32), a, dge_mode=nisa.dge_mode.hwdge)


@case(V, r"nki\.isa\.dma_copy: engine: a trigger engine is only valid with dge_mode=hwdge", F)
def dma_trigger_engine_without_hwdge(a):
    nisa.dma_copy(sbuf((128, 8), nl.float32), a, engine=nisa.engine.sync)


@case(V, r"nki\.isa\.dma_copy: engine: runs on scalar, sync on trn3, not on the vector engine", F)
def dma_trigger_engine_vector(a):
    nisa.dma_copy(sbuf((128, 8), nl.float32), a, dge_mode=nisa.dge_mode.hwdge,
                  engine=nisa.engine.vector)


# ---------------------------------------------------------------- iota / transpose
@case(V, r"nki\.isa\.iota: pattern: describes 8 elements per partition but dst \[16, 4\] has 4")
def iota_pattern_size_mismatch():
    nisa.iota(sbuf((16, 4), nl.int32), [[1, 8]])


@case(V, r"nki\.isa\.iota: pattern: needs 1 to 4 \[step, num\] pairs, found 5")
def iota_pattern_too_many_dims():
    nisa.iota(sbuf((16, 32), nl.int32), [[1, 2]] * 5)


@case(nisa.NkiTypeError, r"nki\.isa\.iota: pattern: expected a list of \[step, num\] pairs")
def iota_pattern_malformed():
    nisa.iota(sbuf((16, 4), nl.int32), [1, 4])


@case(V, r"nki\.isa\.nc_transpose: data: the vector engine transposes at most \[32, 32\], found "
         r"\[64, 64\]")
def vector_transpose_too_big():
    nisa.nc_transpose(sbuf((64, 64), nl.float32), sbuf((64, 64), nl.float32),
                      engine=nisa.engine.vector)


@case(V, r"nki\.isa\.nc_transpose: data: the tensor engine transposes at most \[128, 128\], "
         r"found \[16, 129\]")
def tensor_transpose_too_big():
    nisa.nc_transpose(psum((128, 16)), sbuf((16, 129), nl.float32))


@case(V, r"nki\.isa\.nc_transpose: dst: dtype must equal data dtype float32, found bfloat16")
def transpose_dtype_change():
    nisa.nc_transpose(psum((8, 16), nl.bfloat16), sbuf((16, 8), nl.float32))


@case(V, r"nki\.isa\.nc_transpose: dst: must have shape \[8, 16\] \(data \[16, 8\] transposed\), "
         r"found \[16, 8\]")
def transpose_dst_not_transposed():
    nisa.nc_transpose(psum((16, 8)), sbuf((16, 8), nl.float32))


# ---------------------------------------------------------------- not implemented / launch grid
@case(UNSUP, r"nki\.isa\.some_future_instruction is not implemented by nkisim yet")
def not_implemented_instruction():
    nisa._absent("some_future_instruction")(None)


@case(UNSUP, r"nl\.some_future_op is not implemented by nkisim yet")
def not_implemented_language_op():
    nl._absent("some_future_op")(None)


@case(V, r"nki\.isa\.nc_matmul_mx: is not available on trn2 \(it needs trn3 or newer\)", target="trn2")
def mx_matmul_on_trn2():
    nisa.nc_matmul_mx(psum((16, 8)), sbuf((32, 16), nl.float8_e5m2_x4), sbuf((32, 8), nl.float8_e5m2_x4),
                      sbuf((4, 16), nl.uint8), sbuf((4, 8), nl.uint8))


@case(V, r"nki\.isa\.set_rng_seed: src_seeds: must hold a 32-bit value \(int32, uint32 or float32\), "
         r"found int16")
def rng_seed_of_the_wrong_dtype():
    s = sbuf((1, 1), nl.int16)
    nisa.memset(s, 3)
    nisa.set_rng_seed(s)


@case(V, r"nl\.program_id\(axis=1\): NKI 0\.3\.0 grids have one axis")
def program_id_axis_1():
    nl.program_id(axis=1)


@case(V, r"nl\.ndarray: shared_hbm allocation #0 \('out'\) is float32\[8, 8\] in program 1 but "
         r"float32\[4, 4\] in another program", grid=2)
def lnc2_programs_allocate_different_shared_tensors():
    n = 4 if nl.program_id() == 0 else 8
    if nl.program_id() == 1:
        import time
        time.sleep(0.05)  # let program 0 allocate first
    nl.ndarray((n, n), dtype=nl.float32, buffer=nl.shared_hbm, name="out")


@case(V, r"nki\.isa\.tensor_tensor: data2: 4 elements per partition", grid=2)
def lnc2_error_in_one_program():
    w = 8 if nl.program_id() == 0 else 4
    a, b, o = sbuf((16, 8), nl.float32), sbuf((16, w), nl.float32), sbuf((16, 8), nl.float32)
    nisa.memset(a, 0.0)
    nisa.memset(b, 0.0)
    nisa.tensor_tensor(o, a, b, nl.add)


# ---------------------------------------------------------------- extreme integers (issue 13)
# Each was a crash, a hang or a silent out-of-bounds access found by a random kernel generator.
@case(V, r"nl\.ndarray: shape \[128, 4611686018427387904\] of float32 holds more than 2\*\*63 - 1 bytes")
def sbuf_size_overflow():
    t = nl.ndarray((128, 2**62), dtype=nl.float32, buffer=nl.sbuf)
    nisa.memset(t, 1.0)


@case(ALLOC, r"cannot place sbuf tensor .* at address=\(0, 9223372036854775800\): it needs "
             r"partitions \[0, 4\) and bytes \[9223372036854775800, 2\*\*63 or more\)")
def address_byte_offset_wraps():
    t = nl.ndarray((4, 8), dtype=nl.float32, buffer=nl.sbuf, address=(0, 2**63 - 8))
    nisa.memset(t, 1.0)


@case(ALLOC, r"address=\(4294967295, 0\): it needs partitions \[4294967295, 4294967299\)")
def address_partition_minus_one_after_narrowing():
    t = nl.ndarray((4, 8), dtype=nl.float32, buffer=nl.sbuf, address=(2**32 - 1, 0))
    nisa.memset(t, 1.0)


@case(ALLOC, r"address=\(4294967296, 4\): it needs partitions \[4294967296, 4294967300\)")
def address_partition_zero_after_narrowing():
    nl.ndarray((4, 8), dtype=nl.float32, buffer=nl.sbuf, address=(2**32, 4))


@case(OOB, r"\.ap\(\) on private_hbm float16\[5, 2\] 'a': pattern entry 0 has step "
           r"4611686018427387904, longer than the whole tensor \(10 float16 elements\)",
      np.ones((5, 2), np.float16))
def ap_huge_step_on_input(a):
    out = nl.ndarray((2,), dtype=a.dtype, buffer=nl.shared_hbm)
    nisa.dma_copy(out, a.ap([[2**62, 2]], offset=1))


@case(OOB, r"\.ap\(\) of private_hbm uint16\[1, 1\] 'a' reaches elements "
           r"\[9223372036854775807, 9223372036854775807\] of the buffer, which holds 400",
      np.ones((200, 2), np.uint16))
def ap_offset_near_int64_max(a):
    out = nl.ndarray((1, 1), dtype=a.dtype, buffer=nl.shared_hbm)
    nisa.dma_copy(out, a.ap([[2, 1], [1, 1]], offset=2**63 - 1))


@case(OOB, r"\.ap\(\) on sbuf float32\[16, 8\]: pattern entry 1 has step 4611686018427387904")
def ap_huge_step_on_tile():
    t = nl.ndarray((16, 8), dtype=nl.float32, buffer=nl.sbuf)
    nisa.memset(t.ap([[16, 1], [2**62, 5]]), 1.0)


@case(OOB, r"pattern entry 0 has step -4611686018427387904", np.ones((5, 2), np.float16))
def ap_huge_negative_step(a):
    out = nl.ndarray((2,), dtype=a.dtype, buffer=nl.shared_hbm)
    nisa.dma_copy(out, a.ap([[-2**62, 2**31]], offset=1))


@case(V, r"\.ap\(\) of private_hbm float16\[1099511627776\] 'a': the view addresses "
         r"1099511627776 elements; at most 67108864", np.ones((5, 2), np.float16))
def ap_step_zero_repeats_without_end(a):
    a.ap([[0, 2**40]])


@case(V, r"nl\.ndarray: shape \[2147483648, 2147483648\] of uint32 holds more than")
def hbm_size_overflow():
    nl.zeros((2**31, 2**31), dtype=nl.uint32, buffer=nl.hbm)


@case(ALLOC, r"cannot allocate private_hbm tensor 'huge' of 1099511627776 bytes: the simulated "
             r"HBM holds at most \d+ bytes")
def hbm_larger_than_the_machine():
    nl.ndarray((2**40,), dtype=nl.uint8, buffer=nl.hbm, name="huge")


@case(V, r"cannot reshape private_hbm float32\[4, 4\] 'a' \(16 elements\) to "
         r"\[4294967296, 4294967296, -1\]", np.ones((4, 4), np.float32))
def reshape_product_overflow(a):
    a.reshape((2**32, 2**32, -1))


@case(V, r"\.ap\(\) on sbuf uint8\[2, 3\]: it holds 3 bytes per partition, less than one int32 "
         r"element")
def ap_dtype_larger_than_a_partition():
    nl.ndarray((2, 3), dtype=nl.uint8, buffer=nl.sbuf).ap([[1, 1], [1, 1]], dtype=nl.int32)


@case(V, r"nl\.ndarray: shape \[100, 9223372036854775807\] of uint32 holds more than")
def psum_size_overflow():
    t = nl.ndarray((100, 2**63 - 1), dtype=nl.uint32, buffer=nl.psum)
    nisa.memset(t, 1)


@case(OOB, r"reshape: shape\[0\] is 18446744073709551616, outside the int64 range",
      np.ones((4, 4), np.float32))
def reshape_beyond_int64(a):
    a.reshape(2**64, 1)


@case(OOB, r"index 1180591620717411303424 is out of bounds for private_hbm float32\[4, 4\] 'a'",
      np.ones((4, 4), np.float32))
def index_beyond_int64(a):
    a[2**70]


@case(OOB, r"\.ap\(\): offset is -18446744073709551616, outside the int64 range",
      np.ones((4, 4), np.float32))
def ap_offset_beyond_int64(a):
    a.ap([[1, 4]], offset=-2**64)


@case(TypeError, r"nl\.ndarray: shape\[1\] must be an int, found str 'a'")
def ndarray_shape_of_wrong_type():
    nl.ndarray((2, "a"), dtype=nl.float32)


@case(TypeError, r"nl\.ndarray: shape must be a tuple of ints, found float 2\.5")
def ndarray_shape_float():
    nl.ndarray(2.5, dtype=nl.float32)


@case(TypeError, r"nl\.ndarray: address\[1\] must be an int, found NoneType None")
def ndarray_address_of_wrong_type():
    nl.ndarray((2, 2), dtype=nl.float32, address=(1, None))


@case(TypeError, r"nl\.ndarray: address must be a \(partition, byte offset\) pair of ints, found "
                 r"int 3")
def ndarray_address_not_a_pair():
    nl.ndarray((2, 2), dtype=nl.float32, address=3)


@case(TypeError, r"nl\.ndarray: name must be a str, found int 5")
def ndarray_name_of_wrong_type():
    nl.ndarray((2, 2), dtype=nl.float32, name=5)


@case(TypeError, r"\.ap\(\): pattern\[0\]\[1\] must be an int, found str 'x'",
      np.ones((4, 4), np.float32))
def ap_pattern_of_wrong_type(a):
    a.ap([[1, "x"]])


@case(TypeError, r"\.ap\(\): offset must be an int, found float 1\.5", np.ones((4, 4), np.float32))
def ap_offset_float(a):
    a.ap([[1, 4]], offset=1.5)


@case(TypeError, r"reshape: shape\[1\] must be an int, found NoneType", np.ones((4, 4), np.float32))
def reshape_of_wrong_type(a):
    a.reshape((4, None))


@case(TypeError, r"slice start must be an int, found str", np.ones((4, 4), np.float32))
def slice_of_wrong_type(a):
    a["x":2]


def _location(msg):
    m = re.search(r"test_errors\.py:(\d+) in (\w+): (.*)$", msg, re.M)
    assert m, f"the message does not point at the kernel source line:\n{msg}"
    return int(m.group(1)), m.group(2), m.group(3)


@pytest.mark.parametrize("c", CASES)
def test_kernel_error(c, set_target):
    if c.target:
        set_target(c.target)
    args = [a.copy() if a.flags.writeable else a for a in c.args]  # fresh inputs per run
    k = nki.jit(c.kernel)
    if c.grid:
        k = k[c.grid]
    with kernel_raises(c.exc, match=c.match) as ei:
        nki.simulate(k)(*args)
    assert type(ei.value) is c.exc, f"{type(ei.value).__name__} raised, expected {c.exc.__name__}"
    msg = str(ei.value)
    line, func, src = _location(msg)
    lines, first = inspect.getsourcelines(c.kernel)
    assert func == c.kernel.__name__
    assert first < line < first + len(lines), (line, first, len(lines))
    assert src.strip() == lines[line - first].strip()
    assert msg.count("\n  at ") == 1  # the location is added once
    set_target(None)
    sanity_check()


# ---------------------------------------------------------------- outside / around a kernel
def test_at_least_60_kernel_cases():
    assert len(CASES) >= 60


def test_isa_call_outside_a_kernel():
    a = nl.ndarray((4, 4), dtype=nl.float32, buffer=nl.shared_hbm)
    b = nl.ndarray((4, 4), dtype=nl.float32, buffer=nl.shared_hbm)
    with pytest.raises(V, match=r"nki\.isa\.dma_copy was called outside a running kernel.*"
                                r"nki\.simulate") as ei:
        nisa.dma_copy(a, b)
    assert "test_errors.py" in str(ei.value)
    sanity_check()


def test_sbuf_allocation_outside_a_kernel():
    with pytest.raises(V, match=r"outside a running kernel") as ei:
        nl.ndarray((4, 4), dtype=nl.float32, buffer=nl.sbuf)
    assert "test_errors.py" in str(ei.value)
    sanity_check()


def test_platform_target_in_jit():
    with pytest.raises(V, match=r"nki\.jit\(platform_target=\.\.\.\) was removed in NKI 0\.3\.0.*"
                                r"NEURON_PLATFORM_TARGET_OVERRIDE"):
        @nki.jit(platform_target="trn2")
        def k(a):
            return a
    sanity_check()


def _copy_kernel(a):
    t = nl.ndarray(a.shape, dtype=a.dtype, buffer=nl.sbuf)
    nisa.dma_copy(t, a)
    out = nl.ndarray(a.shape, dtype=a.dtype, buffer=nl.shared_hbm)
    nisa.dma_copy(out, t)
    return out


def test_multi_dimensional_grid():
    k = nki.jit(_copy_kernel)
    with pytest.raises(V, match=r"_copy_kernel\[2, 1\]: NKI 0\.3\.0 launches take a single number, "
                                r"the LNC degree"):
        k[(2, 1)]
    with pytest.raises(V, match=r"_copy_kernel\[2, 1\]"):
        k[2, 1]
    sanity_check()


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_grid_must_be_a_positive_int(bad):
    with pytest.raises(V, match=r"_copy_kernel\[.*\]: the launch degree must be a positive int"):
        nki.jit(_copy_kernel)[bad]
    sanity_check()


@pytest.mark.parametrize("target,n,limit", [("trn3", 4, 2), ("trn2", 3, 2), ("trn1", 2, 1)])
def test_lnc_degree_too_large_for_target(set_target, target, n, limit):
    set_target(target)
    k = nki.jit(_copy_kernel)[n]
    with pytest.raises(V, match=rf"_copy_kernel\[{n}\]: {target} supports LNC degree up to "
                                rf"{limit}"):
        nki.simulate(k)(np.ones((4, 4), np.float32))
    set_target(None)
    sanity_check()


def test_lnc2_on_trn1_via_plain_call(set_target, monkeypatch):
    set_target("trn1")
    monkeypatch.setenv("NKI_SIMULATOR", "1")
    k = nki.jit(_copy_kernel)
    with pytest.raises(V, match=r"trn1 supports LNC degree up to 1"):
        k[2](np.ones((4, 4), np.float32))
    set_target(None)
    sanity_check()


def test_unknown_target_name(set_target):
    set_target("trn9")
    with pytest.raises(V, match=r"unknown platform target 'trn9' "
                                r"\(NEURON_PLATFORM_TARGET_OVERRIDE\): expected one of"):
        nki.simulate(_copy_kernel)(np.ones((4, 4), np.float32))
    set_target(None)
    sanity_check()


def test_returning_an_sbuf_tile():
    def kernel(a):
        t = nl.ndarray(a.shape, dtype=a.dtype, buffer=nl.sbuf)
        nisa.dma_copy(t, a)
        return t
    with kernel_raises(V, match=r"the kernel returned .*sbuf.*an "
                                r"on-chip tensor; kernel outputs must be HBM tensors allocated "
                                r"with nl\.ndarray\(\.\.\., buffer=nl\.shared_hbm\)"):
        nki.simulate(kernel)(np.ones((4, 4), np.float32))
    sanity_check()


def test_returning_a_psum_tile():
    def kernel(a):
        p = nl.ndarray((4, 4), dtype=nl.float32, buffer=nl.psum)
        nisa.memset(p, 0.0)
        return (p,)
    with kernel_raises(V, match=r"psum.*an on-chip tensor; kernel outputs must be HBM"):
        nki.simulate(kernel)(np.ones((4, 4), np.float32))
    sanity_check()


def test_returning_a_private_hbm_tensor():
    def kernel(a):
        t = nl.ndarray(a.shape, dtype=a.dtype, buffer=nl.sbuf)
        nisa.dma_copy(t, a)
        out = nl.ndarray(a.shape, dtype=a.dtype, buffer=nl.hbm)
        nisa.dma_copy(out, t)
        return out
    with pytest.raises(V, match=r"the kernel returned .*private_hbm.* allocated in nl\.hbm "
                                r"\(private_hbm\); kernel outputs must be allocated with "
                                r"buffer=nl\.shared_hbm"):
        nki.simulate(kernel)(np.ones((4, 4), np.float32))
    sanity_check()


def test_typing_annotation_mismatch():
    def kernel(a: nt.tensor[128, 512]):
        return None
    with pytest.raises(V, match=r"kernel kernel: argument 'a' has shape \(64, 512\) but is "
                                r"annotated nt\.tensor\[128, 512\]"):
        nki.simulate(kernel)(np.ones((64, 512), np.float32))
    sanity_check()


def test_unsupported_input_dtype():
    with pytest.raises(V, match=r"kernel argument 'a': numpy dtype float64 has no NKI equivalent"):
        nki.simulate(_copy_kernel)(np.ones((4, 4), np.float64))
    sanity_check()


def test_plain_call_without_simulator():
    k = nki.jit(_copy_kernel)
    with pytest.raises(RuntimeError, match=r"NKI_SIMULATOR=1.*nki\.simulate\(_copy_kernel\)"):
        k(np.ones((4, 4), np.float32))
    sanity_check()


def test_removed_dma_copy_parameters_raise_type_error():
    def kernel(a):
        t = nl.ndarray(a.shape, dtype=a.dtype, buffer=nl.sbuf)
        nisa.dma_copy(t, a, dst_rmw_op=nl.add)
    with kernel_raises(TypeError, match="dst_rmw_op"):
        nki.simulate(kernel)(np.ones((4, 4), np.float32))
    sanity_check()


def test_many_errors_in_a_row_leave_the_simulator_usable():
    def bad():
        nisa.memset(sbuf((16, 8), nl.int32), 0.5)
    for _ in range(50):
        with kernel_raises(V):
            nki.simulate(bad)()
    sanity_check()


HEAP_REPRO = """
import nki, nki.language as nl, nki.isa as nisa
def k():
    a = nl.ndarray((128, 8), dtype=nl.float32, buffer=nl.sbuf)
    b = nl.ndarray((128, 4), dtype=nl.float32, buffer=nl.sbuf)
    nisa.tensor_copy(a, b)   # NkiValidationError while a and b are alive
for i in range(40):
    try:
        nki.simulate(k)()
    except AssertionError:
        pass                 # releasing the traceback frees the launch before a and b
print("survived")
"""


def test_live_tiles_after_a_failed_launch_do_not_corrupt_the_heap():
    # Regression: tiles held by an error's traceback outlived their launch's allocator.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(nki.__file__)))
    r = subprocess.run([sys.executable, "-c", HEAP_REPRO], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "survived" in r.stdout, (r.returncode, r.stderr[-500:])


def test_read_only_non_contiguous_input_is_rejected_at_the_write():
    a = np.broadcast_to(np.ones((1, 8), np.float32), (128, 8))  # read-only, not contiguous
    with kernel_raises(V, match=r"read-only") as ei:
        nki.simulate(dma_copy_into_read_only_input)(a)
    _location(str(ei.value))


def test_zero_size_argument_is_named():
    def kernel(a):
        pass
    with pytest.raises(V, match=r"kernel argument 'a': shape \[2, 0\] has size 0 in dimension 1; "
                                r"every dimension must be >= 1\n  at .*test_errors\.py"):
        nki.simulate(kernel)(np.ones((2, 0), np.float32))
    sanity_check()


# ---------------------------------------------------------------- failures and the next launch (issue 13)
def test_host_out_of_memory_is_a_named_memory_error_and_the_next_launch_works(monkeypatch):
    monkeypatch.setenv("NKI_SIM_HBM_LIMIT", str(2**62))  # let the request reach the host
    used = nki._core.hbm_used_bytes()

    def kernel():
        nl.ndarray((2**50,), dtype=nl.uint8, buffer=nl.hbm, name="petabyte")
    with pytest.raises(MemoryError, match=r"out of host memory: cannot reserve 1125899906842624 "
                                          r"bytes for private_hbm tensor 'petabyte'"):
        nki.simulate(kernel)()
    assert nki._core.hbm_used_bytes() == used  # the reservation was given back
    monkeypatch.delenv("NKI_SIM_HBM_LIMIT")
    sanity_check()


def _failing_kernel(a):
    t = nl.ndarray((128, 512), dtype=nl.float32, buffer=nl.sbuf)
    p = nl.ndarray((128, 512), dtype=nl.float32, buffer=nl.psum)
    nisa.memset(t, 1.0)
    nisa.memset(p, 1.0)
    nisa.tensor_copy(t, a)  # src in HBM: NkiValidationError


def _rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def test_failed_launches_free_their_tiles_without_the_garbage_collector(monkeypatch):
    import gc
    a = np.ones((128, 512), np.float32)
    made = []
    real = nki._core.Interpreter

    def counting(*args, **kwargs):
        made.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(nki._core, "Interpreter", counting)
    gc.collect()
    gc.disable()
    try:
        rss = []
        for i in range(600):
            try:
                nki.simulate(_failing_kernel)(a)
            except V:
                pass
            if i in (100, 599):
                rss.append(_rss_mb())
        garbage = gc.collect()
    finally:
        gc.enable()
    assert len(made) <= 1, f"{len(made)} interpreters built for 600 launches: tiles outlived them"
    assert garbage == 0, f"{garbage} objects in reference cycles"
    if "libasan" not in os.environ.get("LD_PRELOAD", ""):  # ASan's quarantine keeps freed memory
        assert rss[1] - rss[0] < 4, f"RSS grew from {rss[0]:.1f} to {rss[1]:.1f} MB"


def test_lnc2_error_in_one_program_stops_the_other(set_target):
    import time
    set_target("trn2")
    iterations = [0]

    def kernel(a):
        t = nl.ndarray((128, 512), dtype=nl.float32, buffer=nl.sbuf)
        if nl.program_id() == 0:
            nisa.tensor_copy(t, a)  # fails at once
        for _ in range(200000):  # about a second of instructions when not stopped
            nisa.memset(t, 1.0)
            iterations[0] += 1
    t0 = time.perf_counter()
    with kernel_raises(V, match=r"tensor_copy: src") as ei:
        nki.simulate(nki.jit(kernel)[2])(np.ones((128, 512), np.float32))
    assert "(raised in program 0 of kernel[2])" in ei.value.__notes__
    assert iterations[0] < 200000 and time.perf_counter() - t0 < 5
    set_target(None)
    sanity_check()


def test_lnc2_both_errors_are_reported(set_target):
    import threading
    set_target("trn2")
    looping = threading.Event()

    def kernel(a):
        t = nl.ndarray((128, 512), dtype=nl.float32, buffer=nl.sbuf)
        if nl.program_id() == 0:
            looping.wait(10)
            nisa.tensor_copy(t, a)
        try:
            while True:  # stopped by program 0's failure
                nisa.memset(t, 1.0)
                looping.set()
        except BaseException:
            raise RuntimeError("program 1 cleanup failed")
    with kernel_raises(V, match=r"tensor_copy: src") as ei:
        nki.simulate(nki.jit(kernel)[2])(np.ones((128, 512), np.float32))
    notes = ei.value.__notes__
    assert "program 1 of kernel[2] also failed: RuntimeError: program 1 cleanup failed" in notes
    assert isinstance(ei.value.nki_program_errors[1], RuntimeError)
    set_target(None)
    sanity_check()


def test_lnc2_shared_hbm_with_name_none(set_target):
    set_target("trn2")

    def kernel():
        t = nl.ndarray((8, 3), dtype=nl.uint8, buffer=nl.shared_hbm, name=None)
        return t
    out = nki.simulate(nki.jit(kernel)[2])()
    assert out.shape == (8, 3)
