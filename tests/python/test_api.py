"""The API surface and behaviours real NKI 0.3.0 kernels rely on: nki.jit / nki.simulate, argument
wrapping and results, dtypes, enums, targets, LNC2 launches, nki.typing, NkiTensor views and
access patterns, nl.tile_size, deprecated aliases, and op coverage of the test suite."""
import dataclasses
import os
import warnings

import ml_dtypes
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
import nki.typing as nt
from conftest import BF16, assert_equal, kernel_raises, load, random, sbuf, store

HERE = os.path.dirname(os.path.abspath(__file__))


def copy_kernel(a):
    t = nl.ndarray(a.shape, dtype=a.dtype, buffer=nl.sbuf)
    nisa.dma_copy(t, a)
    out = nl.ndarray(a.shape, dtype=a.dtype, buffer=nl.shared_hbm)
    nisa.dma_copy(out, t)
    return out


def add_kernel(a, b):
    x, y = load(a), load(b)
    o = sbuf(a.shape, a.dtype)
    nisa.tensor_tensor(o, x, y, nl.add)
    return store(o)


# ---------------------------------------------------------------- nki.jit
def test_jit_bare_decorator(rng):
    @nki.jit
    def k(a):
        return copy_kernel(a)
    assert isinstance(k, nki.Kernel)
    a = random(rng, (8, 8), np.float32)
    assert_equal(nki.simulate(k)(a), a)


def test_jit_with_options_is_accepted_silently(rng):
    with warnings.catch_warnings():
        warnings.simplefilter("error")

        @nki.jit(debug_kernel=True, show_compiler_tb=True, experimental_flags="skip-x")
        def k(a):
            return copy_kernel(a)

        @nki.jit()
        def k2(a):
            return copy_kernel(a)

        @nki.jit(mode="auto")
        def k3(a):
            return copy_kernel(a)
        a = random(rng, (8, 8), np.float32)
        for kern in (k, k2, k3):
            assert_equal(nki.simulate(kern)(a), a)


@pytest.mark.parametrize("mode", ["trace", "jax", "torchxla"])
def test_jit_mode_warns_and_is_ignored(rng, mode):
    with pytest.warns(DeprecationWarning, match="mode"):
        @nki.jit(mode=mode)
        def k(a):
            return copy_kernel(a)
    a = random(rng, (8, 8), np.float32)
    assert_equal(nki.simulate(k)(a), a)


def test_nki_simulator_env_runs_plain_calls(rng, monkeypatch):
    monkeypatch.setenv("NKI_SIMULATOR", "1")
    k = nki.jit(add_kernel)
    a, b = random(rng, (16, 8), np.float32), random(rng, (16, 8), np.float32)
    assert_equal(k(a, b), a + b)


def test_plain_call_without_simulator_raises(rng):
    k = nki.jit(add_kernel)
    a = random(rng, (16, 8), np.float32)
    with pytest.raises(RuntimeError) as ei:
        k(a, a)
    assert "NKI_SIMULATOR" in str(ei.value) and "nki.simulate" in str(ei.value)


def test_simulate_wraps_a_plain_function(rng):
    a, b = random(rng, (16, 8), np.float32), random(rng, (16, 8), np.float32)
    assert_equal(nki.simulate(add_kernel)(a, b), a + b)


def test_simulate_of_a_simulate_result_and_with_schedule(rng):
    a = random(rng, (8, 8), np.float32)
    k = nki.jit(copy_kernel).with_schedule([("b", "a")])
    assert_equal(nki.simulate(k)(a), a)


def test_jitted_kernels_call_each_other_inside_a_kernel(rng):
    @nki.jit
    def scale(t, factor):
        o = sbuf(t.shape, t.dtype)
        nisa.tensor_scalar(o, t, nl.multiply, factor)
        return o

    @nki.jit
    def outer(a):
        return store(scale(load(a), 3.0))
    a = random(rng, (8, 8), np.float32)
    assert_equal(nki.simulate(outer)(a), a * 3)


def test_simulated_callable_inside_a_kernel_is_a_plain_call(rng):
    inner = nki.simulate(lambda t: t)

    def outer(a):
        return store(inner(load(a)))
    a = random(rng, (8, 8), np.float32)
    assert_equal(nki.simulate(outer)(a), a)


# ---------------------------------------------------------------- arguments and results
@dataclasses.dataclass
class Config:
    sizes: list
    scale: float = 2.0


def test_non_tensor_arguments_pass_through_untouched(rng):
    cfg = Config(sizes=[1, 2, 3])
    with pytest.raises(TypeError):
        hash(cfg)  # unhashable
    seen = {}

    def k(a, n, x, c, name, flag, nothing, shape, dt):
        seen.update(n=n, x=x, c=c, name=name, flag=flag, nothing=nothing, shape=shape, dt=dt)
        t = load(a)
        o = sbuf(t.shape, nl.float32)
        nisa.tensor_scalar(o, t, nl.multiply, c.scale * n + x)
        return store(o)
    a = random(rng, (4, 4), np.float32)
    out = nki.simulate(k)(a, 3, 0.5, cfg, "hello", True, None, (4, 4), nl.bfloat16)
    assert_equal(out, a * np.float32(6.5))
    assert seen["c"] is cfg and seen["c"].sizes == [1, 2, 3]
    assert seen["n"] == 3 and type(seen["n"]) is int
    assert seen["x"] == 0.5 and seen["name"] == "hello" and seen["flag"] is True
    assert seen["nothing"] is None and seen["shape"] == (4, 4) and seen["dt"] == nl.bfloat16


def test_keyword_arguments_and_tuples_of_arrays(rng):
    a, b = random(rng, (8, 4), np.float32), random(rng, (8, 4), np.float32)

    def k(pair, *, unused=None):
        x, y = pair
        assert isinstance(x, nl.NkiTensor) and isinstance(y, nl.NkiTensor)
        return add_kernel(x, y)
    assert_equal(nki.simulate(k)((a, b)), a + b)

    def k2(x, y=None):
        assert y.name == "y"
        return add_kernel(x, y)
    assert_equal(nki.simulate(k2)(a, y=b), a + b)


def test_nki_object_config():
    class Cfg(nl.NKIObject):
        n: int
        scale: float = 1.5
    c = Cfg(n=4)
    assert c.n == 4 and c.scale == 1.5
    assert nki.NKIObject is nl.NKIObject and nisa_has_nkiobject()

    def k(a, cfg):
        t = load(a)
        o = sbuf(t.shape, nl.float32)
        nisa.tensor_scalar(o, t, nl.add, cfg.scale * cfg.n)
        return store(o)
    a = np.zeros((4, 4), np.float32)
    assert_equal(nki.simulate(k)(a, c), np.full((4, 4), 6.0, np.float32))


def nisa_has_nkiobject():
    return getattr(nisa, "NKIObject", nl.NKIObject) is nl.NKIObject


def test_kernel_arguments_arrive_as_hbm_tensors(rng):
    info = {}

    def k(a, b):
        info.update(type_a=type(a), buf=a.buffer, name=a.name, shape=a.shape, dtype=b.dtype)
    nki.simulate(k)(random(rng, (3, 5), np.float32), np.zeros((2,), np.int32))
    assert info["type_a"] is nl.NkiTensor
    assert info["buf"] == nl.hbm and info["buf"] is nl.private_hbm
    assert info["name"] == "a" and tuple(info["shape"]) == (3, 5)
    assert info["dtype"] == nl.int32


def test_inputs_written_by_the_kernel_are_updated_in_place(rng):
    a = random(rng, (16, 8), np.float32)
    a0 = a.copy()
    b = np.zeros((16, 8), np.float32)
    base = np.zeros((8, 16), np.float32)
    c = base[:, ::2]  # not contiguous: the simulator copies it, then writes it back

    def k(x, y, z):
        t = load(x)
        o = sbuf(t.shape, nl.float32)
        nisa.tensor_scalar(o, t, nl.add, 1.0)
        nisa.dma_copy(y, o)
        nisa.dma_copy(z, t[0:8, :])
        nisa.dma_copy(x, o)  # write into the argument we read
    assert nki.simulate(k)(a, b, c) is None
    assert_equal(b, a0 + 1)
    assert_equal(a, a0 + 1)
    assert_equal(c, a0[0:8])
    assert_equal(base[:, 1::2], np.zeros((8, 8), np.float32))


def test_outputs_are_numpy_arrays_with_the_right_dtype(rng):
    a = random(rng, (8, 8), np.float32)

    def k(x):
        t = load(x)
        outs = []
        for d in (nl.bfloat16, nl.float16, nl.int32, nl.float8_e4m3, nl.uint8):
            s = sbuf(t.shape, d)
            nisa.tensor_copy(s, t)
            outs.append(store(s))
        return tuple(outs)
    res = nki.simulate(k)(a)
    assert isinstance(res, tuple) and len(res) == 5
    assert all(type(r) is np.ndarray for r in res)
    assert [r.dtype for r in res] == [np.dtype(ml_dtypes.bfloat16), np.dtype(np.float16),
                                      np.dtype(np.int32), np.dtype(ml_dtypes.float8_e4m3),
                                      np.dtype(np.uint8)]
    assert res[0].shape == (8, 8)


def test_list_and_dict_results(rng):
    a = random(rng, (4, 4), np.float32)

    def k(x):
        return {"copy": copy_kernel(x), "twice": [copy_kernel(x), copy_kernel(x)], "n": 3}
    r = nki.simulate(k)(a)
    assert_equal(r["copy"], a)
    assert isinstance(r["twice"], list) and len(r["twice"]) == 2
    assert r["n"] == 3


def test_returning_an_input_returns_its_values(rng):
    a = random(rng, (4, 4), np.float32)
    out = nki.simulate(lambda x: x)(a)
    assert_equal(out, a)


def test_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    a = torch.randn(16, 8)
    b = torch.randn(16, 8)
    out = nki.simulate(add_kernel)(a, b)
    assert isinstance(out, torch.Tensor)
    assert torch.equal(out, a + b)
    c = torch.randn(8, 8).to(torch.bfloat16)
    out = nki.simulate(copy_kernel)(c)
    assert out.dtype == torch.bfloat16 and torch.equal(out, c)


def test_torch_input_updated_in_place():
    torch = pytest.importorskip("torch")
    a = torch.randn(8, 8)
    b = torch.zeros(8, 8)
    bt = torch.zeros(8, 16)[:, ::2]  # non-contiguous

    def k(x, y, z):
        t = load(x)
        nisa.dma_copy(y, t)
        nisa.dma_copy(z, t)
    nki.simulate(k)(a, b, bt)
    assert torch.equal(b, a) and torch.equal(bt, a)


# ---------------------------------------------------------------- dtypes
def test_numpy_and_ml_dtypes_inputs_compare_equal_to_nl_dtypes():
    seen = {}

    def k(a, b, c, d, e):
        seen.update(a=a.dtype == nl.bfloat16, b=b.dtype == nl.float32, c=c.dtype == nl.float16,
                    d=d.dtype == nl.float8_e5m2, e=e.dtype == nl.int8,
                    neq=a.dtype != nl.float16, s=str(a.dtype) == str(nl.bfloat16))
    nki.simulate(k)(np.zeros((2, 2), BF16), np.zeros((2, 2), np.float32),
                    np.zeros((2, 2), np.float16), np.zeros((2, 2), ml_dtypes.float8_e5m2),
                    np.zeros((2, 2), np.int8))
    assert all(v is True for v in seen.values()), seen


def test_nl_dtypes_are_strings_equal_to_numpy_dtypes():
    assert nl.float32 == np.float32 and nl.float32 == np.dtype("float32")
    assert nl.bfloat16 == ml_dtypes.bfloat16 and nl.bfloat16 == np.dtype(ml_dtypes.bfloat16)
    assert nl.int32 == np.int32 and nl.int32 != np.float32 and nl.float16 != nl.bfloat16
    assert str(nl.bfloat16) == "bfloat16" and nl.bfloat16 == "bfloat16"
    assert isinstance(nl.float32, str)
    assert nl.bool_ == "bool"
    assert len({nl.float32, nl.float32, nl.bfloat16}) == 2
    names = ["bool_", "int8", "int16", "int32", "uint8", "uint16", "uint32", "float16",
             "float32", "bfloat16", "tfloat32", "float8_e4m3", "float8_e4m3fn", "float8_e5m2",
             "float8_e5m2_x4", "float8_e4m3fn_x4", "float4_e2m1fn_x4"]
    for n in names:
        assert isinstance(getattr(nl, n), str)
    assert nki.dtype is not None


def test_tensor_compares_unequal_to_none_as_a_plain_bool():
    seen = {}

    def k(a):
        t = sbuf((4, 4), nl.float32)
        seen["ne"] = (a != None)  # noqa: E711
        seen["eq"] = (t == None)  # noqa: E711
        seen["is"] = a is not None
    nki.simulate(k)(np.zeros((4, 4), np.float32))
    assert seen["ne"] is True and seen["eq"] is False and seen["is"] is True


# ---------------------------------------------------------------- enums and targets
def test_nc_version_ordering():
    g2, g3, g4 = nisa.nc_version.gen2, nisa.nc_version.gen3, nisa.nc_version.gen4
    assert g2 < g3 < g4 and g4 >= g3 and g2 <= g2
    assert g3 >= 3 and g3 == 3 and g4 > 3 and g2 < 3 and 2 <= g2
    assert [m.value for m in nisa.nc_version] == [2, 3, 4]


@pytest.mark.parametrize("target,gen", [(None, 4), ("trn1", 2), ("gen2", 2), ("inf2", 2),
                                        ("trn2", 3), ("gen3", 3), ("trn3", 4), ("gen4", 4)])
def test_get_nc_version_follows_the_target(set_target, target, gen):
    set_target(target)
    v = nisa.get_nc_version()
    assert isinstance(v, nisa.nc_version) and v == gen
    seen = {}

    def k():
        v = nisa.get_nc_version()
        seen.update(v=v, ge3=v >= nisa.nc_version.gen3, ge3i=v >= 3,
                    le2=v <= nisa.nc_version.gen2)
    nki.simulate(k)()
    assert seen["v"] is nisa.nc_version(gen)
    assert seen["ge3"] == (gen >= 3) and seen["ge3i"] == (gen >= 3) and seen["le2"] == (gen == 2)


def test_enum_values_and_constants_module():
    from nki.isa import constants
    from nki.isa.constants import dge_mode, oob_mode, matmul_perf_mode
    assert dge_mode is nisa.dge_mode and oob_mode is nisa.oob_mode
    assert matmul_perf_mode is nisa.matmul_perf_mode and constants.engine is nisa.engine
    assert {m.name: m.value for m in nisa.engine} == {
        "tensor": 1, "vector": 5, "scalar": 2, "gpsimd": 3, "dma": 4, "sync": 6, "unknown": 0}
    assert {m.name: m.value for m in nisa.reduce_cmd} == {
        "idle": 0, "reset": 1, "reduce": 2, "reset_reduce": 3, "load_reduce": 4}
    assert {m.name: m.value for m in nisa.dge_mode} == {
        "unknown": 0, "swdge": 1, "hwdge": 2, "none": 3}
    assert {m.name: m.value for m in nisa.oob_mode} == {"error": 0, "skip": 1}
    assert {m.name: m.value for m in nisa.matmul_perf_mode} == {
        "none": "none", "double_row": "double_row"}
    assert {m.name: m.value for m in nisa.dma_engine} == {"dma": 1, "gpsimd_dma": 2}


def test_deprecated_engine_aliases():
    assert nisa.vector_engine is nisa.engine.vector
    assert nisa.scalar_engine is nisa.engine.scalar
    assert nisa.gpsimd_engine is nisa.engine.gpsimd
    assert nisa.tensor_engine is nisa.engine.tensor
    assert nisa.unknown_engine is nisa.engine.unknown


@pytest.mark.parametrize("call", [
    lambda d, s: nisa.tensor_copy(d, s, engine=5),
    lambda d, s: nisa.tensor_copy(d, s, engine="vector"),
    lambda d, s: nisa.memset(d, 0.0, engine=3),
    lambda d, s: nisa.activation(d, nl.copy, s, reduce_cmd=0),
    lambda d, s: nisa.tensor_scalar(d, s, nl.add, 1.0, engine=2),
    lambda d, s: nisa.dma_copy(d, s, dge_mode=3),
    lambda d, s: nisa.dma_copy(d, s, dge_mode="none", oob_mode=0),
], ids=["engine-int", "engine-str", "memset-engine", "reduce_cmd-int", "tensor_scalar-engine",
        "dge_mode-int", "dge_mode-str"])
def test_enum_parameters_take_member_values_and_names(call):
    # 0.3.0 takes a member's value or name for it, as nki-library passes dge_mode=3.
    def k():
        d, s = sbuf((4, 4), nl.float32), sbuf((4, 4), nl.float32)
        nisa.memset(s, 0.0)
        call(d, s)
    nki.simulate(k)()


@pytest.mark.parametrize("call", [
    lambda d, s: nisa.tensor_copy(d, s, engine=9),
    lambda d, s: nisa.tensor_copy(d, s, engine="warp"),
    lambda d, s: nisa.tensor_copy(d, s, engine=True),
    lambda d, s: nisa.tensor_copy(d, s, engine=nisa.dge_mode.none),
    lambda d, s: nisa.activation(d, nl.copy, s, reduce_cmd=1.0),
    lambda d, s: nisa.nc_matmul(d, s, s, perf_mode=1),
], ids=["engine-9", "engine-str", "engine-bool", "other-enum", "float", "perf_mode-int"])
def test_enum_parameters_reject_non_members(call):
    def k():
        d, s = sbuf((4, 4), nl.float32), sbuf((4, 4), nl.float32)
        nisa.memset(s, 0.0)
        call(d, s)
    with kernel_raises(nisa.NkiValidationError, match=r"must be a member of nki\.isa\."):
        nki.simulate(k)()


def test_enum_members_accepted_everywhere(rng):
    a = random(rng, (16, 8), np.float32)

    def k(x):
        t = sbuf(x.shape, nl.float32)
        nisa.dma_copy(t, x, oob_mode=nisa.oob_mode.error, dge_mode=nisa.dge_mode.swdge)
        o = sbuf(x.shape, nl.float32)
        nisa.tensor_copy(o, t, engine=nisa.engine.vector)
        r = sbuf((16, 1), nl.float32)
        nisa.activation(o, nl.copy, o, reduce_op=nl.add, reduce_res=r,
                        reduce_cmd=nisa.reduce_cmd.reset_reduce)
        return store(o)
    assert_equal(nki.simulate(k)(a), a)


# ---------------------------------------------------------------- launch grid
def test_no_grid_program_queries():
    seen = {}

    def k():
        seen.update(n=nl.num_programs(), nd=nl.program_ndim(), pid=nl.program_id(),
                    pid0=nl.program_id(0), n0=nl.num_programs(0))
    nki.simulate(k)()
    assert seen == {"n": 1, "nd": 0, "pid": 0, "pid0": 0, "n0": 1}


@pytest.mark.parametrize("target", ["trn2", "trn3"])
def test_lnc2_programs_write_disjoint_halves_of_a_shared_output(rng, set_target, target):
    set_target(target)
    a = random(rng, (128, 16), np.float32)
    seen = []

    @nki.jit
    def k(x):
        pid, n = nl.program_id(0), nl.num_programs()
        seen.append((pid, n, nl.program_ndim(), x.buffer))
        rows = x.shape[0] // n
        out = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
        t = sbuf((rows, x.shape[1]), x.dtype)
        nisa.dma_copy(t, x[pid * rows:(pid + 1) * rows, :])
        o = sbuf(t.shape, x.dtype)
        nisa.tensor_scalar(o, t, nl.add, float(pid * 100))
        nisa.dma_copy(out[pid * rows:(pid + 1) * rows, :], o)
        return out
    out = nki.simulate(k[2])(a)
    expected = a.copy()
    expected[64:] += 100
    assert_equal(out, expected)
    assert sorted(s[0] for s in seen) == [0, 1]
    assert all(s[1] == 2 and s[2] == 1 and s[3] == nl.shared_hbm for s in seen)


def test_lnc2_through_nki_simulator_env(rng, monkeypatch):
    monkeypatch.setenv("NKI_SIMULATOR", "1")
    a = random(rng, (64, 8), np.float32)

    @nki.jit
    def k(x):
        pid = nl.program_id()
        out = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
        t = sbuf((32, 8), x.dtype)
        nisa.dma_copy(t, x[nl.ds(pid * 32, 32), :])
        nisa.dma_copy(out[nl.ds(pid * 32, 32), :], t)
        return out
    assert_equal(k[2](a), a)
    assert_equal(k[1](a), np.where(np.arange(64)[:, None] < 32, a, np.nan).astype(np.float32))


def test_lnc2_each_program_has_its_own_sbuf(rng):
    a = random(rng, (32, 8), np.float32)

    @nki.jit
    def k(x):
        pid = nl.program_id()
        t = sbuf((32, 8), nl.float32)
        nisa.memset(t, float(pid + 1))
        out = nl.ndarray((2, 32, 8), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out[pid], t)
        return out
    out = nki.simulate(k[2])(a)
    assert_equal(out[0], np.ones((32, 8), np.float32))
    assert_equal(out[1], np.full((32, 8), 2.0, np.float32))


# ---------------------------------------------------------------- nki.typing
def test_typing_annotations_accepted_when_matching(rng):
    @nki.jit
    def k(a: nt.tensor[128, 512], b: nt.tensor, n: int = 2):
        return copy_kernel(a)
    a = random(rng, (128, 512), np.float32)
    assert_equal(nki.simulate(k)(a, np.zeros((3,), np.float32)), a)
    assert repr(nt.tensor[128, 512]) == "nt.tensor[128, 512]"
    assert nt.mutable_tensor is not None


# ---------------------------------------------------------------- NkiTensor
def test_tensor_attributes_on_hbm_and_views():
    seen = {}

    def k(a):
        v = a[1:3, ::2]
        r = a.reshape((2, 12))
        r2 = a.reshape(3, 8)
        f = a.reshape((24,))
        seen.update(
            shape=tuple(a.shape), ndim=a.ndim, size=a.size, dtype=a.dtype, buffer=a.buffer,
            offset=a.offset, pattern=[list(p) for p in a.get_pattern()],
            vshape=tuple(v.shape), voffset=v.offset, vpattern=[list(p) for p in v.get_pattern()],
            rshape=tuple(r.shape), r2shape=tuple(r2.shape), fshape=tuple(f.shape),
            rpattern=[list(p) for p in r.get_pattern()], len=len(a))
    nki.simulate(k)(np.zeros((4, 6), np.float32))
    assert seen["shape"] == (4, 6) and seen["ndim"] == 2 and seen["size"] == 24
    assert seen["dtype"] == nl.float32 and seen["buffer"] == nl.hbm and seen["offset"] == 0
    assert seen["pattern"] == [[6, 4], [1, 6]]
    assert seen["vshape"] == (2, 3) and seen["voffset"] == 6
    assert seen["vpattern"] == [[6, 2], [2, 3]]
    assert seen["rshape"] == (2, 12) and seen["r2shape"] == (3, 8) and seen["fshape"] == (24,)
    assert seen["rpattern"] == [[12, 2], [1, 12]]
    assert seen["len"] == 4


def test_tensor_attributes_on_sbuf_views():
    seen = {}

    def k():
        t = nl.ndarray((128, 64), dtype=nl.bfloat16, buffer=nl.sbuf, name="tile")
        v = t[32:64, 8:16]
        w = t[5, 3:7]        # an int on the partition dim keeps a size-1 partition dim
        seen.update(pattern=[list(p) for p in t.get_pattern()], buffer=t.buffer, name=t.name,
                    vshape=tuple(v.shape), voffset=v.offset,
                    vpattern=[list(p) for p in v.get_pattern()], wshape=tuple(w.shape),
                    nested=tuple(t[0:64, ...][0:32, :].shape),
                    ds=tuple(t[nl.ds(32, 32), nl.ds(8, 8)].get_pattern()) ==
                    tuple(v.get_pattern()),
                    ds_offset=t[nl.ds(32, 32), nl.ds(8, 8)].offset)
    nki.simulate(k)()
    assert seen["pattern"] == [[64, 128], [1, 64]]
    assert seen["buffer"] == nl.sbuf and seen["name"] == "tile"
    assert seen["vshape"] == (32, 8) and seen["voffset"] == 32 * 64 + 8
    assert seen["vpattern"] == [[64, 32], [1, 8]]
    assert seen["wshape"] == (1, 4)
    assert seen["nested"] == (32, 64)
    assert seen["ds"] and seen["ds_offset"] == 32 * 64 + 8


def test_ap_formula_matches_slicing():
    # t.ap([[16, 16], [1, 8]], offset=8) on a (16, 16) tile is t[0:16, 8:16]
    def k():
        t = sbuf((16, 16), nl.int32)
        nisa.iota(t, [[1, 16]], offset=0, channel_multiplier=16)
        a = t.ap([[16, 16], [1, 8]], offset=8)
        s = t[0:16, 8:16]
        assert tuple(a.shape) == tuple(s.shape) == (16, 8)
        assert [list(p) for p in a.get_pattern()] == [list(p) for p in s.get_pattern()]
        assert a.offset == s.offset == 8
        b = t.ap([[16, 4], [2, 4]], offset=16 * 4 + 1)  # partitions 4..7, odd columns 1..7
        return store(a), store(s), store(b)
    a, s, b = nki.simulate(k)()
    full = np.arange(256, dtype=np.int32).reshape(16, 16)
    assert_equal(a, full[:, 8:16])
    assert_equal(s, full[:, 8:16])
    assert_equal(b, full[4:8, 1:8:2])


def test_ap_on_hbm_any_steps_and_dtype_reinterpretation(rng):
    a = random(rng, (6, 4), np.float32)
    bits = rng.integers(0, 2 ** 31, size=(4, 8), dtype=np.int64).astype(np.int32)

    def k(x, y):
        t = sbuf((4, 6), nl.float32)
        nisa.dma_copy(t, x.ap([[1, 4], [4, 6]]))  # a transposed view of x
        o1 = store(t)
        v = sbuf((4, 16), nl.bfloat16)
        nisa.dma_copy(v, y.ap([[16, 4], [1, 16]], dtype=nl.bfloat16))
        return o1, store(v)
    o1, o2 = nki.simulate(k)(a, bits)
    assert_equal(o1, a.T.copy())
    assert_equal(o2, bits.view(BF16))


def test_ap_on_reshaped_sbuf_tile():
    def k():
        t = sbuf((8, 4, 4), nl.int32)
        nisa.iota(t, [[1, 16]], channel_multiplier=16)
        r = t.reshape((8, 16))
        return store(r.ap([[16, 8], [4, 4]], offset=1))  # column 1 of each 4-wide row
    out = nki.simulate(k)()
    full = np.arange(128, dtype=np.int32).reshape(8, 16)
    assert_equal(out, full[:, 1::4])


def test_maxpool_access_pattern():
    # in.ap([[H*W, C], [P*W, H/P], [P, W/P], [W, P], [1, P]]) is a [C, H/P, W/P, P, P] window view
    C, H, W, P = 4, 8, 8, 2
    x = np.random.default_rng(7).uniform(-1, 1, size=(C, H, W)).astype(np.float32)

    def k(a):
        t = nl.ndarray((C, H, W), dtype=nl.float32, buffer=nl.sbuf)
        nisa.dma_copy(t, a)
        view = t.ap([[H * W, C], [P * W, H // P], [P, W // P], [W, P], [1, P]])
        assert tuple(view.shape) == (C, H // P, W // P, P, P)
        o = sbuf((C, H // P, W // P), nl.float32)
        nisa.tensor_reduce(o, nl.maximum, view, axis=[3, 4])
        return store(o)
    out = nki.simulate(k)(x)
    assert_equal(out, x.reshape(C, H // P, P, W // P, P).max(axis=(2, 4)))


def test_view_with_a_different_element_size(rng):
    a = random(rng, (4, 2), np.float32)

    def k(x):
        v = x.view(nl.uint8)
        assert tuple(v.shape) == (4, 8) and v.dtype == nl.uint8
        out = nl.ndarray((4, 8), dtype=nl.uint8, buffer=nl.shared_hbm)
        nisa.dma_copy(out, v)
        return out
    assert_equal(nki.simulate(k)(a), a.view(np.uint8))


def test_reshape_sbuf_tile_keeps_partitions(rng):
    a = random(rng, (16, 24), np.float32)

    def k(x):
        t = load(x)
        r = t.reshape((16, 4, 6))
        o = sbuf((16, 4), nl.float32)
        nisa.tensor_reduce(o, nl.add, r, axis=2)
        return store(o)
    np.testing.assert_allclose(nki.simulate(k)(a), a.reshape(16, 4, 6).sum(axis=2), rtol=1e-6)


def test_nl_ds_slicing(rng):
    a = random(rng, (64, 32), np.float32)

    def k(x):
        t = load(x)
        return store(t[nl.ds(16, 32), nl.ds(4, 8)])
    assert_equal(nki.simulate(k)(a), a[16:48, 4:12])
    assert nl.ds(3, 5) == slice(3, 8, 1)


# ---------------------------------------------------------------- nl helpers used by kernels
def test_tile_size_values():
    ts = nl.tile_size
    assert ts.pmax == 128 and ts.psum_fmax == 512
    assert ts.gemm_stationary_fmax == 128 and ts.gemm_moving_fmax == 512
    assert ts.bn_stats_fmax == 512
    assert ts.total_available_sbuf_size in (180224, 212984, 245752)


def test_buffers_and_predicates():
    assert nl.hbm is nl.private_hbm and nl.hbm == nl.MemoryRegion.private_hbm
    assert nl.is_hbm(nl.hbm) and nl.is_hbm(nl.shared_hbm) and not nl.is_hbm(nl.sbuf)
    assert nl.is_on_chip(nl.sbuf) and nl.is_on_chip(nl.psum) and not nl.is_on_chip(nl.hbm)
    assert nl.is_psum(nl.psum) and nl.is_sbuf(nl.sbuf) and not nl.is_sbuf(nl.psum)
    assert {m.value for m in nl.MemoryRegion} == {"sbuf", "psum", "private_hbm", "shared_hbm"}


@pytest.mark.parametrize("rng_fn", ["static_range", "affine_range", "sequential_range", "range"])
def test_iterators(rng_fn):
    it = getattr(nl, rng_fn)
    assert list(it(3)) == [0, 1, 2]
    assert list(it(1, 7, 2)) == [1, 3, 5]
    assert list(it(2, 5)) == [2, 3, 4]

    def k(a):
        total = sbuf((4, 4), nl.float32)
        nisa.memset(total, 0.0)
        for i in it(4):
            nisa.tensor_scalar(total, total, nl.add, float(i))
        return store(total)
    assert_equal(nki.simulate(k)(np.zeros(1, np.float32)), np.full((4, 4), 6.0, np.float32))


def test_no_reorder_and_device_print(capsys):
    def k():
        t = sbuf((2, 3), nl.int32)
        with nl.no_reorder():
            nisa.iota(t, [[1, 3]], channel_multiplier=3)
        nl.device_print("tile:", t)
    nki.simulate(k)()
    out = capsys.readouterr().out
    assert "tile:" in out and "5" in out


def test_language_load_store_zeros_full(rng):
    a = random(rng, (8, 8), np.float32)

    def k(x):
        t = nl.load(x)
        assert t.buffer == nl.sbuf
        z = nl.zeros((8, 8), dtype=nl.float32)
        f = nl.full((8, 8), 2.0, dtype=nl.float32)
        o = sbuf((8, 8), nl.float32)
        nisa.tensor_tensor(o, t, f, nl.multiply)
        nisa.tensor_tensor(o, o, z, nl.add)
        out = nl.ndarray((8, 8), dtype=nl.float32, buffer=nl.shared_hbm)
        nl.store(out, o)
        return out
    assert_equal(nki.simulate(k)(a), a * 2)


def test_ndarray_default_buffer_is_sbuf():
    seen = {}

    def k():
        seen["b"] = nl.ndarray((4, 4), dtype=nl.float32).buffer
    nki.simulate(k)()
    assert seen["b"] == nl.sbuf


# ---------------------------------------------------------------- coverage
def test_every_implemented_instruction_has_an_isa_function_and_a_test_file():
    names = list(nki._core.op_names())
    assert names, "the simulator reports no instructions"
    missing_api = [n for n in names if not callable(getattr(nisa, n, None))]
    missing_tests = [n for n in names if not os.path.exists(os.path.join(HERE, f"test_{n}.py"))]
    assert not missing_api, f"no nki.isa function for {missing_api}"
    assert not missing_tests, f"no tests/python/test_<name>.py for {missing_tests}"


def test_unimplemented_instructions_exist_by_name():
    for n in ["nc_matmul_mx", "scalar_tensor_tensor", "tensor_scalar_reduce", "exponential",
              "bn_stats", "bn_aggr", "max8", "select_reduce", "affine_select", "dma_transpose",
              "dma_compute", "rng", "register_alloc", "core_barrier", "sendrecv"]:
        assert callable(getattr(nisa, n)), n


def test_lnc2_programs_write_halves_of_an_input_in_place(rng):
    a = random(rng, (64, 8), np.float32)
    b = np.zeros((64, 8), np.float32)

    @nki.jit
    def k(x, y):
        pid = nl.program_id()
        t = sbuf((32, 8), nl.float32)
        nisa.dma_copy(t, x[pid * 32:(pid + 1) * 32, :])
        nisa.tensor_scalar(t, t, nl.multiply, float(pid + 2))
        nisa.dma_copy(y[pid * 32:(pid + 1) * 32, :], t)
    nki.simulate(k[2])(a, b)
    assert_equal(b[:32], a[:32] * 2)
    assert_equal(b[32:], a[32:] * 3)


@pytest.mark.parametrize("target,size", [("trn1", 180224), ("trn2", 212984), ("trn3", 245752)])
def test_total_available_sbuf_size_follows_the_target(set_target, target, size):
    # A kernel that sizes its buffers from tile_size must see its own target's SBUF.
    set_target(target)
    seen = {}

    def k():
        seen["size"] = nl.tile_size.total_available_sbuf_size
        t = nl.ndarray((128, size // 4), dtype=nl.float32, buffer=nl.sbuf)  # exactly fits
        assert t.shape[1] == size // 4
    nki.simulate(k)()
    assert seen["size"] == size
