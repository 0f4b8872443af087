"""The op graph, recorded and replayed: nki.simulate(kernel, record=path) writes the executed op
stream, nki._core.replay(path) re-runs it in C++ on fresh interpreters and compares every HBM
tensor's final bytes with the recorded ones."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from nki import _core
from conftest import BF16, F32, assert_equal, psum, random, sbuf, tiles_held_at_once


def record_and_replay(tmp_path, kernel, *args, instructions=None, cores=1):
    path = tmp_path / "graph.opg"
    out = nki.simulate(kernel, record=str(path))(*args)
    r = _core.replay(str(path))
    assert r["bit_exact"], r["summary"]
    assert r["mismatches"] == []
    assert r["cores"] == cores
    assert r["target"] == "trn3"
    assert r["hbm_tensors"] >= 1 and r["hbm_bytes"] > 0
    if instructions is not None:
        assert r["instructions"] == instructions
    assert r["summary"].endswith("bit-exact")
    return out, r, path


def test_elementwise_with_bf16_casts(tmp_path, rng):
    a, b = random(rng, (64, 48), F32), random(rng, (64, 48), BF16)

    def kernel(x, y):
        tx, ty = sbuf((64, 48), nl.bfloat16), sbuf((64, 48), nl.bfloat16)
        nisa.dma_copy(tx, x)          # fp32 -> bf16 on the way in
        nisa.dma_copy(ty, y)
        s = sbuf((64, 48), nl.float32)
        nisa.tensor_tensor(s, tx, ty, op=nl.multiply)
        o = sbuf((64, 48), nl.bfloat16)
        nisa.tensor_scalar(o, s, nl.add, 0.3, op1=nl.multiply, operand1=-1.7)
        out = nl.ndarray((64, 48), dtype=nl.bfloat16, buffer=nl.shared_hbm)
        nisa.dma_copy(out, o)
        return out
    out, r, _ = record_and_replay(tmp_path, kernel, a, b, instructions=5)
    assert out.dtype == BF16


def test_psum_accumulating_matmul(tmp_path, rng):
    s1, m1 = random(rng, (64, 32), BF16), random(rng, (64, 16), BF16)
    s2, m2 = random(rng, (128, 32), BF16), random(rng, (128, 16), BF16)

    def kernel(a, b, c, e):
        ta, tb, tc, te = (sbuf(x.shape, nl.bfloat16) for x in (a, b, c, e))
        for t, x in ((ta, a), (tb, b), (tc, c), (te, e)):
            nisa.dma_copy(t, x)
        d = psum((32, 16))
        nisa.nc_matmul(d, ta, tb)
        nisa.nc_matmul(d, tc, te, accumulate=None)
        nisa.nc_matmul(d[:, 0:8], tc, te[:, 0:8], accumulate=None)
        o = sbuf((32, 16), nl.float32)
        nisa.tensor_copy(o, d)
        out = nl.ndarray((32, 16), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, o)
        return out
    record_and_replay(tmp_path, kernel, s1, m1, s2, m2, instructions=9)


def test_activation_reduce_across_instructions(tmp_path, rng):
    P = 32
    xs = [random(rng, (P, 16), F32, lo=-2, hi=2) for _ in range(4)]

    def kernel(x0, x1, x2, x3):
        cmds = [nisa.reduce_cmd.reset_reduce, nisa.reduce_cmd.reduce, nisa.reduce_cmd.idle,
                nisa.reduce_cmd.reduce]
        res = sbuf((P, 4), nl.float32)
        for i, (x, cmd) in enumerate(zip((x0, x1, x2, x3), cmds)):
            t = sbuf((P, 16), nl.float32)
            nisa.dma_copy(t, x)
            d = sbuf((P, 16), nl.float32)
            nisa.activation(d, nl.exp, t, scale=0.5, reduce_op=nl.add, reduce_res=res[:, i:i + 1],
                            reduce_cmd=cmd)
        r = nl.ndarray((P, 4), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(r, res)
        return r
    record_and_replay(tmp_path, kernel, *xs, instructions=9)


def test_lnc2_launch(tmp_path, rng):
    a = random(rng, (128, 16), F32)

    @nki.jit
    def k(x):
        pid, n = nl.program_id(0), nl.num_programs()
        rows = x.shape[0] // n
        out = nl.ndarray(x.shape, dtype=x.dtype, buffer=nl.shared_hbm)
        t = sbuf((rows, x.shape[1]), x.dtype)
        nisa.dma_copy(t, x[pid * rows:(pid + 1) * rows, :])
        o = sbuf(t.shape, x.dtype)
        nisa.tensor_scalar(o, t, nl.add, float(pid * 100))
        nisa.dma_copy(out[pid * rows:(pid + 1) * rows, :], o)
        return out
    out, r, _ = record_and_replay(tmp_path, k[2], a, instructions=6, cores=2)
    expected = a.copy()
    expected[64:] += 100
    assert_equal(out, expected)


def test_in_place_input(tmp_path, rng):
    a = random(rng, (16, 8), F32)
    orig = a.copy()

    def kernel(x):
        t = sbuf((16, 8), nl.float32)
        nisa.dma_copy(t, x)
        nisa.tensor_scalar(t, t, nl.multiply, 2.0)
        nisa.dma_copy(x[0:8, :], t[0:8, :])   # writes the caller's array in place
    path = tmp_path / "inplace.opg"
    nki.simulate(kernel, record=str(path))(a)
    assert_equal(a[0:8], orig[0:8] * 2)
    r = _core.replay(str(path))
    assert r["bit_exact"] and r["instructions"] == 3, r["summary"]


def test_tampered_and_truncated_files(tmp_path, rng):
    a = random(rng, (16, 8), F32)

    def kernel(x):
        t = sbuf((16, 8), nl.float32)
        nisa.dma_copy(t, x)
        out = nl.ndarray((16, 8), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, t)
        return out
    _, _, path = record_and_replay(tmp_path, kernel, a, instructions=2)
    data = path.read_bytes()
    # The final contents of the output changed: a mismatch, not an exception.
    at = data.rindex(b"\nfinal ")
    nl_at = data.index(b"\n", at + 1)
    bad = bytearray(data)
    bad[nl_at + 5] ^= 0x01
    path.write_bytes(bytes(bad))
    r = _core.replay(str(path))
    assert not r["bit_exact"] and r["mismatches"][0]["first_offset"] == 4
    # A truncated file: a clear error naming the line.
    path.write_bytes(data[: len(data) - 40])
    with pytest.raises(Exception, match=r"line \d+"):
        _core.replay(str(path))


def test_recorder_is_an_observer(tmp_path, rng):
    """A Recorder can also be passed like any other observer and finished by hand."""
    a = random(rng, (8, 8), F32)
    rec = _core.Recorder(str(tmp_path / "manual.opg"))

    def kernel(x):
        t = sbuf((8, 8), nl.float32)
        nisa.dma_copy(t, x)
        out = nl.ndarray((8, 8), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, t)
        return out
    nki.simulate(kernel, observers=[rec])(a)
    rec.finish()
    assert rec.instructions == 2
    assert _core.replay(rec.path)["bit_exact"]


@pytest.mark.parametrize("target", ["trn1", "trn2"])
def test_other_targets_and_allocation_only_kernels(tmp_path, rng, set_target, target):
    set_target(target)
    a = random(rng, (16, 8), F32)

    def kernel(x):
        t = sbuf((16, 8), nl.float32)
        nisa.memset(t, 1.5)
        nisa.tensor_tensor(t, t, t, op=nl.add)
        out = nl.ndarray((16, 8), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, t)
        return out
    path = tmp_path / "t.opg"
    nki.simulate(kernel, record=str(path))(a)
    r = _core.replay(str(path))
    assert r["bit_exact"] and r["target"] == target and r["instructions"] == 3

    def no_instructions(x):
        sbuf((16, 8), nl.float32)
    nki.simulate(no_instructions, record=str(path))(a)
    r = _core.replay(str(path))
    assert r["bit_exact"] and r["instructions"] == 0 and r["target"] == target


def test_tiles_outside_a_full_map_are_recorded_and_replayed(tmp_path, rng):
    # Four 64 KiB tiles referenced at once (trn3 holds three): the fourth lives outside the map
    # (recorded with byte offset -1) and is used after the others are dead.
    kernel = tiles_held_at_once(4, 16384, nl.multiply, lambda i: float(i + 1))

    a = random(rng, (128, 64), F32)
    out, r, path = record_and_replay(tmp_path, kernel, a)
    assert any(line.startswith("alloc ") and line.split()[5] == "-1"
               for line in path.read_text(errors="replace").splitlines())
    for i in range(4):
        assert_equal(out[i], a * (i + 1))
