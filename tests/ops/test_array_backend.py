"""The ops keep device arrays on the device: every op-table row, forward and backward, on
``StrictArray`` (``_strict_array.py``, a CPU stand-in that behaves as CuPy arrays do towards
NumPy: NumPy functions dispatch on it, implicit conversion to NumPy raises).

Each case checks that every result and gradient is a ``StrictArray``, never a NumPy array, and
equals the same computation on NumPy arrays exactly (the stand-in runs the same NumPy kernels,
so any difference is a different code path). ``benchmarks/device_cupy_check.py`` runs the same
on real CuPy arrays where a GPU is present.
"""

from __future__ import annotations

import _strict_array as sa
import numpy as np
import pytest
from _harness import as_list, projections
from conv_cases import CONV_CASES
from op_table import OPS, case_id

import chainrule as cr
from chainrule import backend

CASES_PER_OP = None  # every case of every row: ~750 cases, ~10 s
CASES = [(spec, shapes, kw) for spec in OPS for shapes, kw in spec.cases[:CASES_PER_OP]]
@pytest.fixture(autouse=True)
def strict_arrays():
    """Register the stand-in as the device array module (what ``backend.use_cupy`` does)."""
    previous = backend.use_array_module(sa)
    yield
    backend.use_array_module(previous)


# -- helpers -------------------------------------------------------------------------------


def _on_device(a):
    return sa.asarray(a) if isinstance(a, np.ndarray) else a


def _run(spec, arrays, kw, device):
    """Forward, then gradients of ``sum_k <w_k, out_k>`` for the differentiable inputs."""
    data = [_on_device(a) for a in arrays] if device else arrays
    ts = [cr.tensor(d, requires_grad=i in spec.diff and d.dtype.kind == "f")
          for i, d in enumerate(data)]  # fmt: skip
    outs = as_list(spec.fn(*ts, **kw))
    wanted = [t for t in ts if t.requires_grad]
    live = [o for o in outs if o.requires_grad]
    grads = []
    if wanted and live:
        ws = projections([o.data for o in live])
        grads = cr.grad(live, wanted, [_on_device(w) for w in ws] if device else ws)
    return [o.data for o in outs], grads


def _assert_device(a, what):
    assert isinstance(a, sa.StrictArray), f"{what} is {type(a).__name__}, not a device array"


def _assert_same(got, ref, what):
    _assert_device(got, what)
    host = got.get()
    assert host.shape == ref.shape and host.dtype == ref.dtype, (
        f"{what}: {host.shape} {host.dtype}, NumPy gives {ref.shape} {ref.dtype}"
    )
    np.testing.assert_array_equal(host, ref, err_msg=what)


def _sample(spec, shapes):
    return spec.sample(np.random.default_rng(0), shapes, np.float32)


# -- the stand-in behaves as CuPy does ------------------------------------------------------


def test_stand_in_refuses_implicit_conversion_and_numpy_operands():
    x = sa.asarray(np.arange(6.0).reshape(2, 3))
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(x)
    with pytest.raises(TypeError, match="Unsupported type"):
        x + np.ones(3)
    with pytest.raises(TypeError, match="Unsupported type"):
        np.concatenate([x, np.ones((1, 3))])
    r = np.sum(x)  # reductions give 0-d device arrays, not NumPy scalars
    _assert_device(r, "np.sum")
    assert r.ndim == 0 and r.item() == 15.0
    v = x[:, 1:]
    assert v.base is x and not hasattr(x.flags, "writeable")
    _assert_device(np.empty_like(x, shape=(4,)), "np.empty_like")
    assert backend.is_array(x) and backend.array_module(x) is sa
    assert backend.asarray_like(3, x).get() == 3 and backend.asarray_like(3, x.get()) == 3


def test_use_array_module_rejects_a_non_module():
    with pytest.raises(TypeError, match="xp must be an array module"):
        backend.use_array_module(object())


# -- every op-table row, forward and backward ------------------------------------------------


@pytest.mark.parametrize("spec,shapes,kw", CASES, ids=[case_id(*c) for c in CASES])
def test_op_keeps_device_arrays(spec, shapes, kw):
    arrays = _sample(spec, shapes)
    ref_outs, ref_grads = _run(spec, arrays, kw, device=False)
    outs, grads = _run(spec, arrays, kw, device=True)
    assert len(outs) == len(ref_outs) and len(grads) == len(ref_grads)
    for k, (o, r) in enumerate(zip(outs, ref_outs, strict=True)):
        _assert_same(o, r, f"{spec.name} output {k}")
    for k, (g, r) in enumerate(zip(grads, ref_grads, strict=True)):
        _assert_same(g, r, f"{spec.name} gradient {k}")


def test_every_op_table_row_is_covered():
    assert {spec.name for spec, _, _ in CASES} == {spec.name for spec in OPS}
    assert any(spec.diff for spec, _, _ in CASES)


# -- a training step ------------------------------------------------------------------------


def _train(device, steps=5):
    """dense + relu, dense, sparse softmax cross-entropy, cr.grad and SGD, ``steps`` times."""
    rng = np.random.default_rng(0)
    put = _on_device if device else (lambda a: a)
    x = put(rng.standard_normal((32, 8)).astype(np.float32))
    y = put(rng.integers(0, 4, 32))
    params = [
        cr.tensor(put(a), requires_grad=True)
        for a in (
            (0.3 * rng.standard_normal((8, 16))).astype(np.float32),
            np.zeros(16, np.float32),
            (0.3 * rng.standard_normal((16, 4))).astype(np.float32),
            np.zeros(4, np.float32),
        )
    ]
    w1, b1, w2, b2 = params
    losses = []
    for _ in range(steps):
        h = cr.relu(cr.dense(x, w1, b1))
        loss = cr.mean(cr.sparse_softmax_cross_entropy(y, cr.dense(h, w2, b2)))
        for p, g in zip(params, cr.grad(loss, params), strict=True):
            p.data -= 0.5 * g
        losses.append(loss.data)
    return losses, [p.data for p in params]


def test_training_step_keeps_device_arrays():
    ref_losses, ref_params = _train(device=False)
    losses, params = _train(device=True)
    for k, (loss, ref) in enumerate(zip(losses, ref_losses, strict=True)):
        _assert_same(loss, ref, f"loss at step {k}")
    assert float(ref_losses[-1]) < float(ref_losses[0])
    for k, (p, ref) in enumerate(zip(params, ref_params, strict=True)):
        _assert_same(p, ref, f"parameter {k} after training")


def test_backward_gives_device_gradients():
    x = cr.tensor(sa.asarray(np.array([0.5, -1.0, 2.0], np.float32)), requires_grad=True)
    cr.sum(cr.tanh(x) * x).backward()
    ref = cr.tensor(np.array([0.5, -1.0, 2.0], np.float32), requires_grad=True)
    cr.sum(cr.tanh(ref) * ref).backward()
    _assert_same(x.grad, ref.grad, "x.grad")


def test_getitem_with_a_device_index_accumulates_repeats():
    # a device index array is advanced indexing: repeated rows must add up, not overwrite
    x = cr.tensor(sa.asarray(np.arange(6.0, dtype=np.float32).reshape(3, 2)), requires_grad=True)
    idx = cr.tensor(sa.asarray(np.array([2, 0, 2, 2])))
    (g,) = cr.grad(cr.sum(x[idx]), [x])
    _assert_same(g, np.array([[1, 1], [0, 0], [3, 3]], np.float32), "d sum(x[idx]) / dx")
    (g,) = cr.grad(cr.sum(cr.take(x, idx, axis=0)), [x])
    _assert_same(g, np.array([[1, 1], [0, 0], [3, 3]], np.float32), "d sum(take(x, idx)) / dx")


# -- the engine's own bookkeeping on device arrays (aliasing checks, accumulation) -----------


def test_engine_grad_keeps_device_arrays():
    _, params = _train(device=True, steps=1)
    for k, p in enumerate(params):
        _assert_device(p, f"parameter {k}")


def test_engine_backward_accumulates_device_gradients():
    x = cr.tensor(sa.asarray(np.array([0.5, -1.0], np.float32)), requires_grad=True)
    for _ in range(2):
        cr.sum(x * x).backward()
    _assert_same(x.grad, np.array([2.0, -4.0], np.float32), "x.grad after two backward()")


def test_engine_backward_keeps_device_arrays():
    x = cr.tensor(sa.asarray(np.array([0.5, -1.0], np.float32)), requires_grad=True)
    cr.sum(x * x).backward()
    _assert_device(x.grad, "x.grad")


# -- convolution and pooling -------------------------------------------------------------------


@pytest.mark.parametrize("case", CONV_CASES, ids=[c.name for c in CONV_CASES])
def test_conv_and_pool_keep_device_arrays(case):
    arrays = case.sample(np.random.default_rng(0), case.shapes, np.float32)
    ref_outs, ref_grads = _run(case, arrays, {}, device=False)
    outs, grads = _run(case, arrays, {}, device=True)
    assert len(grads) == len(ref_grads) == len(arrays)
    _assert_same(outs[0], ref_outs[0], f"{case.name} output")
    for k, (g, r) in enumerate(zip(grads, ref_grads, strict=True)):
        _assert_same(g, r, f"{case.name} gradient {k}")
