"""nisa.activation's reduce_regs (one fp32 per partition lane, persisting between instructions):
reset -> 0; reset_reduce -> this instruction's reduce_op over the free elements; reduce -> folded
onto the registers; idle -> untouched; reduce_res reads the registers. reduce_op: nl.add on trn1;
nl.add, nl.maximum, nl.minimum, nl.multiply on trn2 and trn3."""
import numpy as np
import pytest

import nki
import nki.isa as nisa
import nki.language as nl
from conftest import F32, assert_close, kernel_raises, random, run, sbuf

RC = nisa.reduce_cmd
FOLD = {"add": np.sum, "maximum": np.max, "minimum": np.min, "multiply": np.prod}


@pytest.mark.parametrize("op", sorted(FOLD))
@pytest.mark.parametrize("shape", [(128, 3000), (37, 5)])
def test_reduce_ops_accumulate_across_instructions(rng, op, shape):
    x = random(rng, shape, F32, 0.9, 1.1)
    y = random(rng, shape, F32, 0.9, 1.1)

    def body(a, b):
        d = sbuf(shape, nl.float32)
        r1 = sbuf((shape[0], 1), nl.float32)
        r2 = sbuf((shape[0], 1), nl.float32)
        nisa.activation(d, nl.copy, a, reduce_op=getattr(nl, op), reduce_res=r1,
                        reduce_cmd=RC.reset_reduce)
        nisa.activation(d, nl.copy, b, reduce_op=getattr(nl, op), reduce_cmd=RC.idle)
        nisa.activation(d, nl.copy, b, reduce_op=getattr(nl, op), reduce_res=r2,
                        reduce_cmd=RC.reduce)
        return r1, r2
    r1, r2 = run(body, x, y)
    f = FOLD[op]
    e1 = f(x.astype(np.float64), axis=1, keepdims=True)
    e2 = f(np.concatenate([x, y], axis=1).astype(np.float64), axis=1, keepdims=True)
    assert_close(r1, e1, rtol=1e-4)
    assert_close(r2, e2, rtol=1e-4)


def test_reset_then_reduce_and_separate_lanes(rng):
    x = random(rng, (128, 8), F32)

    def body(a):
        d = sbuf((128, 8), nl.float32)
        r = sbuf((128, 1), nl.float32)
        nisa.activation(d, nl.copy, a, reduce_cmd=RC.reset)
        nisa.activation(d[0:64], nl.exp, a[0:64], reduce_op=nl.add, reduce_cmd=RC.reduce)
        nisa.activation(d[64:128], nl.copy, a[64:128], reduce_op=nl.add, reduce_cmd=RC.reduce)
        nisa.activation(d, nl.copy, a, reduce_res=r)  # idle: read out only
        return r
    e = np.concatenate([np.exp(x[:64].astype(np.float64)).sum(1), x[64:].astype(np.float64).sum(1)])
    assert_close(run(body, x), e[:, None], rtol=1e-5, atol=1e-6)


def test_activation_reduce_takes_maximum_on_trn2(set_target, rng):
    set_target("trn2")
    x = random(rng, (16, 10), F32)

    def body(a):
        d = sbuf((16, 10), nl.float32)
        r = sbuf((16, 1), nl.float32)
        nisa.activation_reduce(d, nl.exp, a, nl.maximum, r)
        return r
    assert_close(run(body, x), np.exp(x.astype(np.float64)).max(1, keepdims=True), rtol=2e-6)


@pytest.mark.parametrize("target,op,match", [
    ("trn1", nl.maximum, r"nki\.isa\.activation: reduce_op: must be nl\.add on trn1, found maximum"),
    ("trn3", nl.subtract, r"nki\.isa\.activation: reduce_op: must be nl\.add, nl\.maximum, "
                          r"nl\.minimum or nl\.multiply, found subtract"),
])
def test_reduce_op_per_generation(set_target, target, op, match):
    set_target(target)

    def k():
        a = sbuf((16, 8), nl.float32)
        nisa.memset(a, 0.0)
        nisa.activation(sbuf((16, 8), nl.float32), nl.exp, a, reduce_op=op,
                        reduce_res=sbuf((16, 1), nl.float32), reduce_cmd=RC.reset_reduce)
    with kernel_raises(nisa.NkiValidationError, match=match):
        nki.simulate(k)()


def test_load_reduce_is_refused():
    def k():
        a = sbuf((16, 8), nl.float32)
        nisa.memset(a, 0.0)
        nisa.activation(sbuf((16, 8), nl.float32), nl.exp, a, reduce_op=nl.add,
                        reduce_cmd=RC.load_reduce)
    with kernel_raises(nisa.NkiValidationError, match=r"activation: reduce_cmd: load_reduce"):
        nki.simulate(k)()
