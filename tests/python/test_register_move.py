"""Registers: nisa.register_alloc / register_move, VirtualRegister truthiness (`while reg:`)."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl


def stored(reg, dtype=nl.int32):
    t = nl.ndarray((1, 1), dtype=dtype, buffer=nl.sbuf)
    nisa.register_store(t, reg)
    out = nl.ndarray((1, 1), dtype=dtype, buffer=nl.shared_hbm)
    nisa.dma_copy(out, t)
    return out


def test_alloc_move_and_store():
    def k(a):
        r = nisa.register_alloc(7)
        s = nisa.register_alloc()
        nisa.register_move(s, r)
        u = nisa.register_alloc(None)
        nisa.register_move(u, 42)
        nisa.register_move(dst=r, src=-3)
        return stored(r), stored(s), stored(u)

    r, s, u = nki.simulate(k)(np.zeros(1, np.float32))
    assert (int(r[0, 0]), int(s[0, 0]), int(u[0, 0])) == (-3, 7, 42)


def test_while_loop_on_a_register():
    def k(a):
        n = nisa.register_alloc(5)
        count = nisa.register_alloc(0)
        iters = 0
        while n:
            iters += 1
            cur = nl.ndarray((1, 1), dtype=nl.int32, buffer=nl.sbuf)
            nisa.register_store(cur, n)
            nisa.tensor_scalar(cur, cur, nl.subtract, 1)
            nisa.register_load(n, cur)
        nisa.register_move(count, iters)
        return stored(count)

    assert int(nki.simulate(k)(np.zeros(1, np.float32))[0, 0]) == 5


def test_32_bit_values_wrap():
    def k(a):
        r = nisa.register_alloc(0)
        nisa.register_move(r, 2 ** 32 - 1)
        return stored(r)

    assert int(nki.simulate(k)(np.zeros(1, np.float32))[0, 0]) == -1


def test_bad_uses():
    a = np.zeros(1, np.float32)

    def read_unwritten(a):
        r = nisa.register_alloc()
        s = nisa.register_alloc()
        nisa.register_move(s, r)

    with pytest.raises(nisa.NkiValidationError,
                       match=r"register_move: src: reads register #0 before anything was written"):
        nki.simulate(read_unwritten)(a)

    def while_unwritten(a):
        r = nisa.register_alloc()
        while r:
            pass

    with pytest.raises(nisa.NkiValidationError, match=r"before anything was written"):
        nki.simulate(while_unwritten)(a)
    with pytest.raises(nisa.NkiTypeError, match=r"register_move: dst: expected a VirtualRegister"):
        nki.simulate(lambda a: nisa.register_move(3, 4))(a)
    with pytest.raises(nisa.NkiTypeError, match=r"register_move: src: expected an int or a VirtualRegister"):
        nki.simulate(lambda a: nisa.register_move(nisa.register_alloc(), 1.5))(a)
    with pytest.raises(nisa.NkiValidationError, match=r"register_move: src: registers hold 32-bit"):
        nki.simulate(lambda a: nisa.register_move(nisa.register_alloc(), 2 ** 40))(a)
    with pytest.raises(nisa.NkiTypeError, match=r"register_alloc: x: expected an int or None"):
        nki.simulate(lambda a: nisa.register_alloc(1.5))(a)
    with pytest.raises(nisa.NkiValidationError, match=r"register_alloc"):
        nisa.register_alloc(1)  # outside a kernel
    with pytest.raises(nisa.NkiValidationError, match=r"VirtualRegister: allocate registers"):
        nisa.VirtualRegister()

    kept = []
    nki.simulate(lambda a: kept.append(nisa.register_alloc(1)))(a)
    with pytest.raises(nisa.NkiValidationError, match=r"earlier kernel launch"):
        nki.simulate(lambda a: nisa.register_move(nisa.register_alloc(), kept[0]))(a)


def test_registers_belong_to_one_core():
    regs = {}

    @nki.jit
    def k(a):
        pid = nl.program_id()
        regs[pid] = nisa.register_alloc(pid)
        t = nl.ndarray((1, 1), dtype=nl.float32, buffer=nl.shared_hbm)
        nisa.core_barrier(t, (0, 1))
        if pid == 0:
            nisa.register_move(nisa.register_alloc(), regs[1])
        return a

    with pytest.raises(nisa.NkiValidationError, match=r"allocated by program 1.*used on core 0"):
        nki.simulate(k[2])(np.zeros(1, np.float32))
