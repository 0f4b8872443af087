"""nl.dynamic_range: loops whose trip counts come from device memory through registers."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from test_register_move import stored


def count_kernel(start, stop, step):
    def k(bounds):
        # bounds: int32 [1, 2] in HBM = (start, stop) read on the device
        lo, hi = nisa.register_alloc(), nisa.register_alloc()
        nisa.register_load(lo, bounds[:, 0:1])
        nisa.register_load(hi, bounds[:, 1:2])
        acc = nl.ndarray((1, 1), dtype=nl.int32, buffer=nl.sbuf)
        nisa.memset(acc, 0)
        args = (lo if start == "reg" else start, hi if stop == "reg" else stop)
        for _ in nl.dynamic_range(*args, step):
            nisa.tensor_scalar(acc, acc, nl.add, 1)
        out = nl.ndarray((1, 1), dtype=nl.int32, buffer=nl.shared_hbm)
        nisa.dma_copy(out, acc)
        return out
    return k


@pytest.mark.parametrize("lo,hi,step", [(0, 10, 1), (3, 17, 4), (5, 5, 1), (9, 2, 1), (-4, 4, 3)])
@pytest.mark.parametrize("form", ["reg-reg", "int-reg", "reg-int"])
def test_trip_count_from_device_memory(lo, hi, step, form):
    s, e = form.split("-")
    k = count_kernel(s if s == "reg" else lo, e if e == "reg" else hi, step)
    got = nki.simulate(k)(np.array([[lo, hi]], dtype=np.int32))
    assert int(got[0, 0]) == len(range(lo, hi, step))


def test_single_argument_form_and_the_induction_values():
    def k(n):
        r = nisa.register_alloc()
        nisa.register_load(r, n)
        out = nl.ndarray((1, 16), dtype=nl.int32, buffer=nl.shared_hbm)
        zero = nl.ndarray((1, 16), dtype=nl.int32, buffer=nl.sbuf)
        nisa.memset(zero, -1)
        nisa.dma_copy(out, zero)
        col = 0
        for i in nl.dynamic_range(r):
            assert isinstance(i, nisa.VirtualRegister)
            nisa.register_store(out[:, col:col + 1], i)
            col += 1
        return out

    got = nki.simulate(k)(np.array([[6]], dtype=np.int32))
    np.testing.assert_array_equal(got[0], [0, 1, 2, 3, 4, 5] + [-1] * 10)


def test_induction_variable_is_frozen():
    def k(a):
        for i in nl.dynamic_range(3):
            nisa.register_move(i, 0)

    with pytest.raises(nisa.NkiValidationError, match=r"register_move: dst: .*frozen value"):
        nki.simulate(k)(np.zeros(1, np.float32))

    def copy_is_fine(a):
        total = nisa.register_alloc(0)
        for i in nl.dynamic_range(4):
            nisa.register_move(total, i)
        return stored(total)

    assert int(nki.simulate(copy_is_fine)(np.zeros(1, np.float32))[0, 0]) == 3


def test_bad_steps_and_bounds():
    a = np.zeros(1, np.float32)
    with pytest.raises(nisa.NkiValidationError, match=r"dynamic_range: step must be a positive"):
        nki.simulate(lambda a: nl.dynamic_range(0, 4, nisa.register_alloc(1)))(a)
    with pytest.raises(nisa.NkiValidationError, match=r"dynamic_range: step must be a positive"):
        nki.simulate(lambda a: nl.dynamic_range(0, 4, 0))(a)

    def unwritten(a):
        for _ in nl.dynamic_range(nisa.register_alloc()):
            pass

    with pytest.raises(nisa.NkiValidationError, match=r"before anything was written"):
        nki.simulate(unwritten)(a)

    def bad_bound(a):
        for _ in nl.dynamic_range(1.5):
            pass

    with pytest.raises(nisa.NkiValidationError, match=r"stop must be an int or a VirtualRegister"):
        nki.simulate(bad_bound)(a)
