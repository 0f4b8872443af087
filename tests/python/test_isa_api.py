"""nki.isa as a Python API: every 0.3.0 instruction by name with its exact 0.3.0 signature, help(),
keyword/positional parsing with Python's own TypeErrors, observers and the instruction profile."""
import ast
import inspect
import os
import pydoc

import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from nki.isa import _api030
from conftest import sbuf

NAMES = sorted(_api030.SIGNATURES)


@pytest.mark.parametrize("name", NAMES)
def test_signature_is_the_030_one(name):
    assert str(inspect.signature(getattr(nisa, name))) == str(nisa.signature_030(name, nl))


@pytest.mark.skipif(not os.environ.get("NKI_SDK_PATH"), reason="NKI_SDK_PATH (aws-neuron-sdk at "
                    "65c21355, with nki/api/nki/isa/__init__.py) not set")
def test_signature_table_matches_the_published_stub():
    stub = os.path.join(os.environ["NKI_SDK_PATH"], "nki", "api", "nki", "isa", "__init__.py")
    tree = ast.parse(open(stub).read())
    published = {n.name: ast.unparse(n.args) for n in tree.body
                 if isinstance(n, ast.FunctionDef) and n.name != "get_nc_version"}
    ours = {k: v for k, v in _api030.SIGNATURES.items() if k in published}
    assert ours == published


def test_declared_instructions_are_generated_callables_with_help():
    for name in nki._core.op_names():
        f = getattr(nisa, name)
        assert f is nki._core.instructions[name]
        assert inspect.isroutine(f) and f.__name__ == name and f.__module__ == "nki.isa"
        text = pydoc.render_doc(f)
        assert str(inspect.signature(f)) in text and "Parameters:" in text


def test_python_call_errors_are_type_errors_naming_the_instruction():
    def k():
        t = sbuf((4, 4), nl.float32)
        with pytest.raises(TypeError, match=r"nki\.isa\.memset\(\) got an unexpected keyword "
                                            r"argument 'valu'"):
            nisa.memset(t, valu=1.0)
        with pytest.raises(TypeError, match=r"nki\.isa\.tensor_tensor\(\) missing required argument: "
                                            r"'op'"):
            nisa.tensor_tensor(t, t, t)
        with pytest.raises(TypeError, match=r"nki\.isa\.memset\(\) got multiple values for argument "
                                            r"'dst'"):
            nisa.memset(t, 1.0, dst=t)
        with pytest.raises(TypeError, match=r"nki\.isa\.memset\(\) takes at most 4 arguments \(5 given\)"):
            nisa.memset(t, 1.0, nisa.engine.vector, None, 1)
        with pytest.raises(TypeError, match=r"nki\.isa\.tensor_copy: src: expected a tensor .*found "
                                            r"list \[1, 2\]"):
            nisa.tensor_copy(t, [1, 2])
        with pytest.raises(TypeError, match=r"nki\.isa\.iota: offset: expected an int, found str"):
            nisa.iota(sbuf((4, 4), nl.int32), [[1, 4]], offset="1")
        with pytest.raises(TypeError, match=r"nki\.isa\.memset: name: expected a str or None"):
            nisa.memset(t, 1.0, name=3)
        nisa.memset(t, 1.0, name="fill")   # positional and keyword forms all work
        nisa.memset(dst=t, value=2.0, engine=nisa.engine.gpsimd)
    nki.simulate(k)()


def test_observers_see_every_instruction_with_its_parameters():
    seen, allocs = [], []

    class Recorder:
        def on_instruction(self, e):
            seen.append(e)

        def on_allocate(self, info):
            allocs.append(info)

    def k(a):
        t = nl.ndarray((128, 8), dtype=nl.float32, buffer=nl.sbuf, name="t")
        nisa.dma_copy(t, a)
        nisa.tensor_scalar(t, t, nl.multiply, 2.0, op1=nl.add, operand1=1.0, name="affine")
        out = nl.ndarray((128, 8), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, t)
        return out
    a = np.ones((128, 8), np.float32)
    assert (nki.simulate(k, observers=[Recorder()])(a) == 3).all()
    assert [e["name"] for e in seen] == ["dma_copy", "tensor_scalar", "dma_copy"]
    ts = seen[1]
    assert ts["engine"] == "vector" and ts["core"] == 0 and ts["seq"] == 1
    assert ts["params"]["op0"] is nl.multiply and ts["params"]["op1"] is nl.add
    assert ts["params"]["operand0"] == 2.0 and ts["params"]["engine"] is nisa.engine.unknown
    assert ts["params"]["name"] == "affine"
    assert ts["bytes_read"] == {"hbm": 0, "sbuf": 4096, "psum": 0}
    assert ts["bytes_written"] == {"hbm": 0, "sbuf": 4096, "psum": 0}
    assert ts["elements"] == 1024
    assert "test_isa_api.py" in ts["where"] and "nisa.tensor_scalar(t, t" in ts["where"]
    assert seen[0]["bytes_read"]["hbm"] == 4096 and seen[0]["bytes_written"]["sbuf"] == 4096
    assert [x["name"] for x in allocs] == ["t"] and allocs[0]["partitions"] == 128
    # Observers are attached for that launch only.
    nki.simulate(k)(a)
    assert len(seen) == 3


def test_observe_context_manager_and_profile():
    class Count:
        n = 0

        def on_instruction(self, e):
            Count.n += 1

    def k(a):
        t = nl.ndarray((16, 8), dtype=nl.float32, buffer=nl.sbuf)
        nisa.dma_copy(t, a)
        for _ in range(5):
            nisa.tensor_tensor(t, t, t, nl.add, engine=nisa.engine.gpsimd if _ % 2 else
                               nisa.engine.vector)
        nisa.activation(t, nl.exp, t)
        out = nl.ndarray((16, 8), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, t)
        return out
    a = np.zeros((16, 8), np.float32)
    with nki.observe(Count()):
        nki.simulate(k, profile=True)(a)
    assert Count.n == 8
    p = nki.last_profile()
    assert p.instructions == 8 and p.kernel == "k"
    assert p.count("tensor_tensor") == 5 and p.count("tensor_tensor", "gpsimd") == 2
    assert p.count("activation", "scalar") == 1 and p.count("dma_copy", "dma") == 2
    row = next(r for r in p.rows if r["instruction"] == "dma_copy")
    assert row["read_hbm"] == 512 and row["written_hbm"] == 512 and row["written_sbuf"] == 512
    assert "tensor_tensor" in str(p) and "gpsimd" in str(p)


def test_nki_sim_profile_prints_the_profile(monkeypatch, capsys):
    monkeypatch.setenv("NKI_SIM_PROFILE", "1")

    def k2(a):
        t = nl.ndarray((4, 4), dtype=nl.float32, buffer=nl.sbuf)
        nisa.dma_copy(t, a)
        o = nl.ndarray((4, 4), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(o, t)
        return o
    nki.simulate(k2)(np.zeros((4, 4), np.float32))
    err = capsys.readouterr().err
    assert "nkisim profile of k2: 2 instructions" in err and "dma_copy" in err


def test_keyword_names_are_matched_per_call_site():
    """Call sites with different keyword orders, an error in between, and the first site again
    (the keyword tuple of the last call site is remembered)."""
    def k():
        t = sbuf((4, 4), nl.float32)
        for i in range(3):
            nisa.memset(t, value=1.0, engine=nisa.engine.vector)
            nisa.memset(engine=nisa.engine.gpsimd, dst=t, value=2.0)
            with pytest.raises(TypeError, match=r"got an unexpected keyword argument 'valu'"):
                nisa.memset(t, engine=nisa.engine.vector, valu=1.0)
            nisa.memset(dst=t, value=3.0)
            # The same keyword tuple (one constant of this code), now with a positional dst too.
            with pytest.raises(TypeError, match=r"got multiple values for argument 'dst'"):
                nisa.memset(t, dst=t, value=1.0)
            nisa.memset(t, value=float(i), engine=nisa.engine.vector)
        out = nl.ndarray((4, 4), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, t)
        return out
    assert (nki.simulate(k)() == 2.0).all()
