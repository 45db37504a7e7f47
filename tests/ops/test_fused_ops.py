"""Fused primitives kept for speed: each must equal the composite it replaces.

``dense(..., activation="relu")`` against ``relu(x @ k + b)`` in PyTorch (values and every
gradient, with exact zeros in the pre-activation), the one-node mse mean against
``torch.nn.functional.mse_loss``, and ``defvjp_all`` (one rule for all arguments) against
float64 central differences, including that it is asked only for the arguments that need it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.autodiff import defvjp_all, primitive
from chainrule.keras.losses import _fused


def _torch_dense_relu(x, k, b, need_x):
    tx = torch.tensor(x, requires_grad=need_x)
    tk = torch.tensor(k, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    out = torch.relu(tx @ tk + tb)
    return out, (tx, tk, tb)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape", [(5, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize("need_x", [True, False])
def test_dense_relu_matches_torch(dtype, x_shape, need_x):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(dtype)
    k = rng.standard_normal((4, 3)).astype(dtype)
    b = rng.standard_normal(3).astype(dtype)
    out_shape = x_shape[:-1] + (3,)
    w = rng.standard_normal(out_shape).astype(dtype)
    cx = cr.tensor(x, requires_grad=need_x)
    ck, cb = cr.tensor(k, requires_grad=True), cr.tensor(b, requires_grad=True)
    out = cr.dense(cx, ck, cb, activation="relu")
    inputs = [ck, cb] + ([cx] if need_x else [])
    grads = cr.grad((out * w).sum(), inputs)
    tout, (tx, tk, tb) = _torch_dense_relu(x, k, b, need_x)
    (tout * torch.tensor(w)).sum().backward()
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=rtol, atol=rtol)
    refs = [tk.grad, tb.grad] + ([tx.grad] if need_x else [])
    for g, ref in zip(grads, refs, strict=True):
        np.testing.assert_allclose(g, ref.numpy(), rtol=rtol, atol=rtol)
    assert out.dtype == dtype


def test_dense_relu_gradient_is_zero_at_exact_zero_preactivation():
    # x @ k + b == 0 exactly in the first column: relu'(0) = 0, as torch.relu and our relu
    x = np.array([[1.0, 2.0]], np.float32)
    k = np.array([[1.0, 1.0], [-0.5, 1.0]], np.float32)
    b = np.array([0.0, -1.0], np.float32)
    ck = cr.tensor(k, requires_grad=True)
    (gk,) = cr.grad(cr.dense(x, ck, b, activation="relu").sum(), [ck])
    tk = torch.tensor(k, requires_grad=True)
    torch.relu(torch.tensor(x) @ tk + torch.tensor(b)).sum().backward()
    np.testing.assert_array_equal(gk, tk.grad.numpy())
    (gk2,) = cr.grad(cr.relu(cr.dense(x, ck, b)).sum(), [ck])
    np.testing.assert_array_equal(gk, gk2)


def test_dense_relu_leaves_inputs_and_broadcast_bias_alone():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    k = rng.standard_normal((4, 2)).astype(np.float32)
    for b in (rng.standard_normal((3, 2)), rng.standard_normal((1, 2)), np.float64(0.5)):
        b = np.asarray(b, np.float32)
        before = b.copy()
        out = cr.dense(x, k, b, activation="relu")
        np.testing.assert_allclose(out.data, np.maximum(x @ k + b, 0), rtol=1e-6)
        np.testing.assert_array_equal(b, before)


def test_dense_rejects_an_unknown_activation():
    with pytest.raises(ValueError, match="activation must be None or 'relu', received 'tanh'"):
        cr.dense(np.ones((1, 2), np.float32), np.ones((2, 2), np.float32),
                 np.zeros(2, np.float32), activation="tanh")  # fmt: skip


@pytest.mark.parametrize("shape", [(32, 1), (7, 3), (2, 4, 5)])
def test_mse_mean_matches_torch_mse_loss(shape):
    rng = np.random.default_rng(4)
    t = rng.standard_normal(shape)
    p = rng.standard_normal(shape)
    cp = cr.tensor(p, dtype="float64", requires_grad=True)
    ct = cr.tensor(t, dtype="float64", requires_grad=True)
    loss = _fused.mse_mean(ct, cp)
    gt, gp = cr.grad(loss, [ct, cp])
    tp = torch.tensor(p, requires_grad=True)
    tt = torch.tensor(t, requires_grad=True)
    tl = torch.nn.functional.mse_loss(tp, tt)
    tl.backward()
    np.testing.assert_allclose(loss.data, tl.item(), rtol=1e-12)
    np.testing.assert_allclose(gp, tp.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gt, tt.grad.numpy(), rtol=1e-12)


def test_mse_fast_path_equals_the_general_path_bit_for_bit():
    from chainrule.keras import losses  # noqa: PLC0415
    from chainrule.keras.losses import loss as loss_mod  # noqa: PLC0415

    rng = np.random.default_rng(5)
    for pshape, tshape in [((32, 1), (32,)), ((8, 3), (8, 3)), ((4, 2, 3), (4, 2, 3))]:
        p = cr.tensor(rng.standard_normal(pshape).astype(np.float32), requires_grad=True)
        t = rng.standard_normal(tshape).astype(np.float32)
        fn = losses.get("mse")
        fast = fn(t, p)
        (g_fast,) = cr.grad(fast, [p])
        saved = dict(loss_mod._FAST_MEANS)
        loss_mod._FAST_MEANS.clear()
        try:
            slow = fn(t, p)
            (g_slow,) = cr.grad(slow, [p])
        finally:
            loss_mod._FAST_MEANS.update(saved)
        assert fast._node.op.name == "mse_mean" and slow._node.op.name == "mean"
        np.testing.assert_array_equal(fast.data, slow.data)
        np.testing.assert_array_equal(g_fast, g_slow)


# -- defvjp_all -----------------------------------------------------------------------------


def _scaled_product_op(calls):
    @primitive(nargs=2)
    def scaled_product(x, y, scale=1.0):
        return scale * x * y

    def vjp_all(needs, g, out, x, y, scale=1.0):
        calls.append(needs)
        shared = g * scale  # the work both gradients share
        return (shared * y if 0 in needs else None, shared * x if 1 in needs else None)

    return defvjp_all(scaled_product, vjp_all)


def test_defvjp_all_matches_central_differences_and_is_called_once_per_node():
    calls = []
    op = _scaled_product_op(calls)
    rng = np.random.default_rng(6)
    x0, y0 = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    x = cr.tensor(x0, dtype="float64", requires_grad=True)
    y = cr.tensor(y0, dtype="float64", requires_grad=True)
    gx, gy = cr.grad(cr.sum(op(x, y, scale=3.0) ** 2), [x, y])
    assert calls == [(0, 1)]
    for arr, g in ((x0, gx), (y0, gy)):
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            for sign in (1, -1):
                bumped = arr.copy()
                bumped[i] += sign * 1e-6
                xs, ys = (bumped, y0) if arr is x0 else (x0, bumped)
                num[i] += sign * np.sum((3.0 * xs * ys) ** 2) / 2e-6
        np.testing.assert_allclose(g, num, rtol=1e-6)


def test_defvjp_all_is_told_which_arguments_need_a_gradient():
    calls = []
    op = _scaled_product_op(calls)
    y = cr.tensor([1.0, 2.0], requires_grad=True)
    (gy,) = cr.grad(op(np.array([3.0, 4.0], np.float32), y).sum(), [y])
    assert calls == [(1,)]
    np.testing.assert_array_equal(gy, [3.0, 4.0])


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("shape", [(32, 1), (7, 3), (5,)])
def test_mse_mean_equals_mse_rows_then_mean_bit_for_bit(dtype, shape):
    rng = np.random.default_rng(6)
    t = rng.standard_normal(shape).astype(dtype)
    p = cr.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
    for seed in (None, np.array(0.37, dtype)):  # the shared seed 1, and a given upstream
        fast = _fused.mse_mean(t, p, saved=[])
        slow = cr.mean(_fused.mse_rows(t, p))
        np.testing.assert_array_equal(fast.data, slow.data)
        gs = None if seed is None else [seed]
        np.testing.assert_array_equal(cr.grad(fast, [p], gs)[0], cr.grad(slow, [p], gs)[0])


def test_mse_gradient_is_right_for_every_upstream_gradient_and_shape():
    # the one-node mean squared error keeps its gradient's scale per (g, rows, columns,
    # dtype); 100 different upstream gradients and a few shapes (more than the 64 it keeps)
    # each give 2 g (p - t) / size, computed here in float64
    rng = np.random.default_rng(3)
    for i in range(100):
        shape = [(4, 1), (3, 5), (2, 3, 2)][i % 3]
        t = rng.standard_normal(shape).astype("float32")
        p = cr.tensor(rng.standard_normal(shape).astype("float32"), requires_grad=True)
        g = np.float32(rng.standard_normal())
        got = cr.grad(_fused.mse_mean(t, p), [p], grad_outputs=[np.asarray(g)])[0]
        want = 2 * float(g) * (p.data.astype("float64") - t) / t.size
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-7)
