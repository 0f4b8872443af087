"""Python-level behaviour real kernels (nki-library 2.29) rely on, each in a small kernel of ours:
NKIObject classes, truthy tensors, the nki.dtype namespace, nl.shared_constant, and
nki.cpu_simulate with NKI_NC_VERSION."""
import dataclasses
import enum
from typing import Optional

import numpy as np
import pytest

import nki
import nki.collectives as ncc
import nki.isa as nisa
import nki.language as nl

from conftest import assert_equal, kernel_raises, load, sbuf, store


# ---------------------------------------------------------------- NKIObject
@dataclasses.dataclass(frozen=True, eq=True)
class FrozenCfg(nl.NKIObject):
    """A frozen config (pattern: rotational top-k / rmsnorm_quant configs)."""
    rows: int
    scale: float = 2.0

    @property
    def doubled(self):
        return self.scale * 2


def test_frozen_dataclass_config_stays_frozen_and_works_in_a_kernel():
    cfg = FrozenCfg(rows=4)
    assert cfg == FrozenCfg(4, 2.0) and hash(cfg) == hash(FrozenCfg(4, 2.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.rows = 5

    def k(a, cfg):
        t = load(a)
        o = sbuf(t.shape, nl.float32)
        nisa.tensor_scalar(o, t, nl.multiply, cfg.doubled)
        return store(o)
    a = np.ones((cfg.rows, 8), np.float32)
    assert_equal(nki.simulate(k)(a, cfg), a * 4)


@dataclasses.dataclass(frozen=True)
class FrozenWithPost(nl.NKIObject):
    program_id: int
    n: int = 0

    def __post_init__(self):
        object.__setattr__(self, "n", self.program_id + 1)


def test_frozen_dataclass_with_post_init_built_inside_a_kernel():
    seen = {}

    def k(a):
        p = FrozenWithPost(program_id=nl.program_id(0))
        seen["p"] = p
        return store(load(a))
    nki.simulate(k)(np.zeros((2, 2), np.float32))
    assert seen["p"].program_id == 0 and seen["p"].n == 1


@dataclasses.dataclass
class SectionLike(nl.NKIObject):
    """@dataclass with only unannotated attributes (pattern: attention_cte SectionParams)."""
    index = None
    offset = None
    active = None


def test_dataclass_with_unannotated_attributes_takes_them_by_keyword():
    s = SectionLike(index=1, offset=128)
    assert (s.index, s.offset, s.active) == (1, 128, None)
    s2 = SectionLike(2, 256, 7)
    assert (s2.index, s2.offset, s2.active) == (2, 256, 7)
    with pytest.raises(TypeError, match="unexpected keyword|nope"):
        SectionLike(nope=1)

    def k(a):
        sec = SectionLike(index=0, offset=2)
        t = load(a)
        o = sbuf((2, 2), nl.float32)
        nisa.tensor_copy(o, t[:, sec.offset:sec.offset + 2])
        return store(o)
    a = np.arange(8, dtype=np.float32).reshape(2, 4)
    assert_equal(nki.simulate(k)(a), a[:, 2:4])


@dataclasses.dataclass
class ManyFields(nl.NKIObject):
    """Field order with trailing Optional defaults (pattern: MLPTKGConstantsDimensionSizes)."""
    _pmax: int
    T: int
    H: int
    K: Optional[int] = None
    E: Optional[int] = None


@dataclasses.dataclass
class ManyFieldsChild(ManyFields):
    extra: Optional[int] = None


def test_dataclass_field_order_and_inheritance_are_the_dataclass_ones():
    m = ManyFields(_pmax=128, T=4, H=256)
    assert [f.name for f in dataclasses.fields(m)] == ["_pmax", "T", "H", "K", "E"]
    assert (m._pmax, m.T, m.H, m.K, m.E) == (128, 4, 256, None, None)
    assert ManyFields(1, 2, 3, 4) == ManyFields(_pmax=1, T=2, H=3, K=4)
    # A field without a default left out by the caller is None, as NKI's initializer makes it
    # (mlp_tkg_constants builds MLPTKGConstantsDimensionSizes without one of its fields).
    partial = ManyFields(_pmax=128, H=256)
    assert partial.T is None and partial.H == 256
    assert ManyFields(1).T is None
    c = ManyFieldsChild(1, 2, 3, extra=9)
    assert c.extra == 9 and c.K is None
    assert dataclasses.replace(m, T=8).T == 8


class Plain(nl.NKIObject):
    """No decorator, no __init__: NKI synthesises one over the fields (0.3.0 language guide)."""
    x: int
    y: bool = False
    tag = "t"

    def __post_init__(self):
        self.seen_post = True

    def toggle(self):
        self.y = not self.y


def test_undecorated_class_gets_the_documented_initializer():
    c = Plain(1)
    c.toggle()
    assert (c.x, c.y, c.tag, c.seen_post) == (1, True, "t", True)
    assert Plain().x is None
    assert Plain(x=3, tag="u").tag == "u"
    with pytest.raises(TypeError, match="at most 3 positional"):
        Plain(1, 2, 3, 4)
    with pytest.raises(TypeError, match="multiple values"):
        Plain(1, x=2)


class WithInit(nl.NKIObject):
    x: int = 1

    def __init__(self, x):
        self.x = x * 10


class WithInitChild(WithInit):
    z: int = 0


def test_user_init_is_kept_also_in_subclasses():
    assert WithInit(2).x == 20 and WithInitChild(3).x == 30


class Mode(enum.Enum):
    a = 1
    b = 2


@dataclasses.dataclass
class WithEnum(nl.NKIObject):
    mode: Mode = Mode.a
    default_mode = Mode.b


def test_enum_valued_fields():
    w = WithEnum(default_mode=Mode.a)
    assert w.mode is Mode.a and w.default_mode is Mode.a and WithEnum().default_mode is Mode.b


def test_nkiobject_is_one_class_in_isa_language_and_collectives():
    assert nisa.NKIObject is nl.NKIObject is ncc.NKIObject is nki.NKIObject
    assert isinstance(ncc.ReplicaGroup([[0, 1]]), nl.NKIObject)
    assert ncc.ReplicaGroup([[0, 1]]).groups == [[0, 1]]


# ---------------------------------------------------------------- truthy tensors
@dataclasses.dataclass
class ExpertParams(nl.NKIObject):
    expert_index: Optional[nl.NkiTensor] = None


def test_a_tensor_is_truthy():
    """`if params.expert_index:` (mlp_tkg_constants) tests for presence, not contents."""
    seen = []

    def k(a, idx):
        params = ExpertParams(expert_index=idx)
        if params.expert_index:
            seen.append("given")
        if not ExpertParams().expert_index:
            seen.append("absent")
        t = load(a)
        seen.append(bool(t) and bool(t[0:1, :]))
        return store(t)
    nki.simulate(k)(np.zeros((2, 2), np.float32), np.zeros((1, 1), np.int32))
    assert seen == ["given", "absent", True]


# ---------------------------------------------------------------- nki.dtype
def test_nki_dtype_is_a_namespace_of_dtypes_and_a_type():
    import nki.dtype as nt
    import nki.language.dtypes as nld
    assert nt.float8_e4m3 is nl.float8_e4m3 and nt.bfloat16 is nl.bfloat16 and nld is nt
    assert isinstance(nl.bfloat16, nki.dtype) and not isinstance("x" * 3, nki.dtype)

    def k(a, dtype: nki.dtype = nt.float8_e4m3):
        t = nl.ndarray(a.shape, dtype=dtype, buffer=nl.sbuf)
        nisa.dma_copy(t, a)
        o = sbuf(a.shape, nl.float32)
        nisa.tensor_copy(o, t)
        return store(o)
    a = np.array([[1.0, 0.3, -2.5, 448.0]], np.float32)
    import ml_dtypes
    assert_equal(nki.simulate(k)(a), a.astype(ml_dtypes.float8_e4m3).astype(np.float32))


# ---------------------------------------------------------------- nl.shared_constant
def test_shared_constant_from_a_npy_file_written_on_the_host(tmp_path):
    """Pattern: rotational top-k saves a rotation matrix with np.save, loads it in the kernel."""
    m = np.arange(24, dtype=np.float32).reshape(4, 6)
    path = tmp_path / "rot.npy"
    np.save(path, m)

    def k():
        c = nl.shared_constant(str(path))
        assert c.buffer == nl.shared_hbm and tuple(c.shape) == (4, 6) and c.dtype == nl.float32
        t = sbuf((4, 6), nl.float32)
        nisa.dma_copy(dst=t, src=nl.shared_constant(path))
        return store(t)
    assert_equal(nki.simulate(k)(), m)


def test_shared_constant_from_an_array_is_read_only():
    m = np.eye(4, dtype=np.float32)

    def k():
        c = nl.shared_constant(m, dtype=nl.bfloat16)
        assert c.dtype == nl.bfloat16
        t = load(c, nl.float32)
        nisa.dma_copy(c, t)  # a constant cannot be written
    with kernel_raises(nisa.NkiValidationError, match="read-only|readonly|read only"):
        nki.simulate(k)()


def test_shared_constant_bad_file_is_a_clear_error(tmp_path):
    def k():
        nl.shared_constant(str(tmp_path / "missing.npy"))
    with kernel_raises(nisa.NkiValidationError, match="cannot load"):
        nki.simulate(k)()


# ---------------------------------------------------------------- nki.cpu_simulate
@nki.jit
def _add_one(x):
    t = load(x)
    o = sbuf(t.shape, nl.float32)
    nisa.tensor_scalar(o, t, nl.add, 1.0)
    seen_versions.append((nisa.get_nc_version(), nl.num_programs()))
    return store(o)


seen_versions = []


def test_cpu_simulate_with_lnc_and_nc_version(monkeypatch):
    """The entry nki-library's harness calls: nki.cpu_simulate(kernel)[lnc](**inputs), with
    NKI_NC_VERSION (gen2/gen3/gen4) selecting the target."""
    a = np.zeros((2, 4), np.float32)
    seen_versions.clear()
    monkeypatch.setenv("NKI_NC_VERSION", "gen3")
    assert_equal(nki.cpu_simulate(_add_one)[1](x=a), a + 1)
    nki.cpu_simulate(_add_one)[2](x=a)
    monkeypatch.setenv("NKI_NC_VERSION", "gen2")
    nki.cpu_simulate(_add_one.func)(a)
    assert seen_versions == [(nisa.nc_version.gen3, 1), (nisa.nc_version.gen3, 2),
                             (nisa.nc_version.gen3, 2), (nisa.nc_version.gen2, 1)]
    monkeypatch.setenv("NKI_NC_VERSION", "gen9")
    with pytest.raises(nisa.NkiValidationError, match="NKI_NC_VERSION"):
        nki.cpu_simulate(_add_one)(a)
    monkeypatch.setenv("NKI_NC_VERSION", "gen2")
    with pytest.raises(nisa.NkiValidationError, match="LNC"):
        nki.cpu_simulate(_add_one)[2](a)


# ---------------------------------------------------------------- views created but not used
def test_out_of_bounds_ap_view_is_an_error_only_when_used():
    """output_projection_tkg builds `w.ap(offset=... + h_2_idx)` for every slot of its last,
    incomplete PSUM tile and guards only the matmul with `if h_2_idx < h_2_size`."""
    def k(a):
        w = load(a)  # (4, 8): 8 elements per partition
        o = sbuf((4, 2), nl.float32)
        for idx in range(6):
            v = w.ap(pattern=[[8, 4], [4, 2]], offset=idx)  # elements idx and idx + 4
            assert tuple(v.shape) == (4, 2)
            if idx < 4:
                nisa.tensor_copy(o, v)
        return store(o)
    a = np.arange(32, dtype=np.float32).reshape(4, 8)
    assert_equal(nki.simulate(k)(a), a[:, [3, 7]])

    def k_bad(a):
        w = load(a)
        o = sbuf((4, 2), nl.float32)
        nisa.tensor_copy(o, w.ap(pattern=[[8, 4], [4, 2]], offset=4))
    with kernel_raises(nisa.NkiOutOfBoundsError, match=r"reaches elements \[4, 8\].*using it in an "
                                                       r"instruction is not"):
        nki.simulate(k_bad)(a)


def test_empty_slice_is_an_error_only_when_used():
    def k(a):
        t = load(a)
        rest = t[:, 0:0]
        assert tuple(rest.shape) == (4, 0) and rest.size == 0
        assert tuple(t[2:2, :].shape) == (0, 8)
        if rest.shape[1]:
            nisa.memset(rest, 1.0)
        return store(t)
    a = np.arange(32, dtype=np.float32).reshape(4, 8)
    assert_equal(nki.simulate(k)(a), a)

    def k_bad(a):
        t = load(a)
        nisa.memset(t[:, 3:3], 1.0)
    with kernel_raises(nisa.NkiOutOfBoundsError, match="3:3 of dimension 1 .* selects no elements"):
        nki.simulate(k_bad)(a)


# ---------------------------------------------------------------- .ap() on a view
def test_ap_on_an_ap_view_addresses_the_storage():
    """A view wrapper (nki-library's TensorView) is often built over the result of an earlier
    `.ap()` (`out_view = Wrapper(out.ap(identity))`, then `.slice(...).get_view()`): `.ap()` on a
    view takes its pattern and offset against the underlying storage, ignoring the view."""
    def k(a):
        t = load(a)                                         # (4, 8)
        whole = t.ap(pattern=[[8, 4], [1, 8]], offset=0)    # the identity view
        strided = t.ap(pattern=[[8, 4], [2, 4]], offset=0)  # every other column
        o1 = sbuf((2, 3), nl.float32)
        o2 = sbuf((4, 2), nl.float32)
        nisa.tensor_copy(o1, whole.ap(pattern=[[8, 2], [1, 3]], offset=8 + 5))  # t[1:3, 5:8]
        nisa.tensor_copy(o2, strided.ap(pattern=[[8, 4], [1, 2]], offset=1))    # t[:, 1:3]
        return store(o1), store(o2)
    a = np.arange(32, dtype=np.float32).reshape(4, 8)
    o1, o2 = nki.simulate(k)(a)
    assert_equal(o1, a[1:3, 5:8])
    assert_equal(o2, a[:, 1:3])


def test_ap_on_a_sliced_view_ignores_the_slice():
    """On-chip: the partition start and element offset of the view are not added; in HBM
    likewise; an empty (unusable) view gives a usable `.ap()` view."""
    def k(a):
        t = load(a)                                           # (4, 8)
        part = t[2:4, 4:8]
        assert tuple(part.shape) == (2, 4)
        o1 = sbuf((4, 2), nl.float32)
        nisa.tensor_copy(o1, part.ap(pattern=[[8, 4], [3, 2]], offset=1))  # t[:, [1, 4]]
        o2 = sbuf((2, 8), nl.float32)
        nisa.dma_copy(o2, a[3:4, 0:2].ap(pattern=[[8, 2], [1, 8]], offset=8))  # a[1:3, :]
        o3 = sbuf((4, 1), nl.float32)
        nisa.tensor_copy(o3, t[:, 3:3].ap(pattern=[[8, 4], [1, 1]], offset=7))  # t[:, 7:8]
        return store(o1), store(o2), store(o3)
    a = np.arange(32, dtype=np.float32).reshape(4, 8)
    o1, o2, o3 = nki.simulate(k)(a)
    assert_equal(o1, a[:, [1, 4]])
    assert_equal(o2, a[1:3, :])
    assert_equal(o3, a[:, 7:8])


def test_ap_on_a_view_keeps_the_storage_rules():
    """The storage's rules still apply: the partition pair steps by the storage's free size, and
    a pattern past the storage is an error when used."""
    def k_bad_step(a):
        t = load(a)
        t[0:2, 0:4].ap(pattern=[[4, 2], [1, 4]], offset=0)  # 4 is the view's row, not storage's 8
    a = np.arange(32, dtype=np.float32).reshape(4, 8)
    with kernel_raises(nisa.NkiValidationError, match=r"the first pair is the partition pair and "
                                                      r"its step must be the free size of a "
                                                      r"partition \(8 elements\), found 4"):
        nki.simulate(k_bad_step)(a)

    def k_oob(a):
        t = load(a)
        o = sbuf((2, 8), nl.float32)
        nisa.tensor_copy(o, t[0:2, :].ap(pattern=[[8, 2], [1, 8]], offset=24))  # rows 3, 4
    with kernel_raises(nisa.NkiOutOfBoundsError, match=r"using it in an instruction is not"):
        nki.simulate(k_oob)(a)
