"""Numerics at the edges: saturating activations and softmax-family ops stay finite (value and
gradient) for float32 inputs of +-1000 and, where the math allows, +-inf; compared with
PyTorch, whose implementations of these ops are the stable reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import chainrule as cr

EXTREME = np.array([-1000.0, -30.0, 0.5, 30.0, 1000.0], dtype=np.float32)

ACTIVATIONS = {
    "sigmoid": (cr.sigmoid, torch.sigmoid),
    "softplus": (cr.softplus, F.softplus),
    "tanh": (cr.tanh, torch.tanh),
    "relu": (cr.relu, torch.relu),
    "leaky_relu": (cr.leaky_relu, F.leaky_relu),
    "elu": (cr.elu, F.elu),
    "selu": (cr.selu, F.selu),
    "gelu": (cr.gelu, F.gelu),
    "gelu_tanh": (lambda x: cr.gelu(x, approximate=True), lambda x: F.gelu(x, approximate="tanh")),
    "silu": (cr.silu, F.silu),
    "softsign": (cr.softsign, F.softsign),
    "hard_sigmoid": (cr.hard_sigmoid, F.hardsigmoid),
    "softmax": (cr.softmax, lambda x: torch.softmax(x, -1)),
    "log_softmax": (cr.log_softmax, lambda x: torch.log_softmax(x, -1)),
    "logsumexp": (lambda x: cr.logsumexp(x, axis=-1), lambda x: torch.logsumexp(x, -1)),
}


def _value_and_grad_cr(fn, x, w):
    t = cr.tensor(x, requires_grad=True)
    out = fn(t)
    (g,) = cr.grad(out, [t], [w.reshape(out.shape).astype(out.dtype)])
    return out.data, g


def _value_and_grad_torch(fn, x, w):
    t = torch.tensor(x, requires_grad=True)
    out = fn(t)
    (g,) = torch.autograd.grad(out, [t], torch.tensor(w.reshape(out.shape)))
    return out.detach().numpy(), g.numpy()


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_finite_and_torch_equal_at_plus_minus_1000(name):
    fn, tfn = ACTIVATIONS[name]
    x = EXTREME.copy()
    w = np.linspace(0.5, 1.5, x.size).astype(np.float32)
    if name == "logsumexp":
        w = np.array(0.7, dtype=np.float32)
    value, grad = _value_and_grad_cr(fn, x, w)
    assert value.dtype == np.float32 and grad.dtype == np.float32
    assert np.isfinite(value).all() and np.isfinite(grad).all(), (value, grad)
    t_value, t_grad = _value_and_grad_torch(tfn, x, w)
    np.testing.assert_allclose(value, t_value, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(grad, t_grad, rtol=1e-6, atol=1e-6)


# silu, gelu and softsign are left out: their formulas give -inf * 0 or inf / inf at +-inf
# (NaN, as in PyTorch), and a special case would cost every call.
@pytest.mark.parametrize("name", ["sigmoid", "softplus", "tanh", "relu", "leaky_relu", "elu",
                                  "selu", "hard_sigmoid"])  # fmt: skip
def test_infinite_inputs(name):
    """At +-inf the limits exist: values match torch, gradients are finite and match too."""
    fn, tfn = ACTIVATIONS[name]
    x = np.array([-np.inf, 0.5, np.inf], dtype=np.float32)
    w = np.ones(3, np.float32)
    value, grad = _value_and_grad_cr(fn, x, w)
    t_value, t_grad = _value_and_grad_torch(tfn, x, w)
    assert not np.isnan(value).any()
    np.testing.assert_allclose(value, t_value, rtol=1e-6)
    assert np.isfinite(grad).all(), grad
    np.testing.assert_allclose(grad, t_grad, rtol=1e-6)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_minus_inf_entries_are_masked(name):
    """A -inf logit (a mask) has probability 0 and gradient 0; the others stay exact."""
    fn, tfn = ACTIVATIONS[name]
    x = np.array([[-np.inf, 1000.0, 999.0], [0.0, -np.inf, 2.0]], dtype=np.float32)
    w = np.array([[0.3, -1.0, 2.0], [1.0, 0.5, -0.5]], dtype=np.float32)
    if name == "logsumexp":
        w = np.array([0.7, -1.3], dtype=np.float32)
    value, grad = _value_and_grad_cr(fn, x, w)
    # float64 reference: torch's float32 logsumexp backward, exp(x - out), is off by 3e-5 here
    t_value, t_grad = _value_and_grad_torch(tfn, x.astype(np.float64), w.astype(np.float64))
    np.testing.assert_allclose(value, t_value, rtol=1e-6)
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad, t_grad, rtol=1e-6, atol=1e-7)
    if name != "log_softmax":  # d log_softmax_i / d x_i is 1 even where x_i = -inf
        assert grad[0, 0] == 0 and grad[1, 1] == 0


def test_softmax_is_shift_invariant_in_float32():
    x = np.array([[1e8, 1e8], [1000.0, 0.0]], dtype=np.float32)
    np.testing.assert_array_equal(cr.softmax(x).data, [[0.5, 0.5], [1.0, 0.0]])
    np.testing.assert_allclose(cr.logsumexp(x, axis=-1).data, [1e8 + np.log(2), 1000.0])


def test_cross_entropies_from_huge_logits():
    """Case 02 (items 1-2) at the core level: ln 2 and gradient [0.5, -0.5] at logits 1e8."""
    logits = cr.tensor([[1e8, 1e8]], requires_grad=True)
    sparse = cr.sparse_softmax_cross_entropy(np.array([1]), logits)
    dense = cr.softmax_cross_entropy(np.array([[0.0, 1.0]], np.float32), logits)
    for loss in (sparse, dense):
        assert loss.shape == (1,) and loss.dtype == np.float32
        np.testing.assert_allclose(loss.data, [0.693147], rtol=1e-5)
        np.testing.assert_allclose(cr.grad(loss, [logits])[0], [[0.5, -0.5]], rtol=1e-6)
    np.testing.assert_allclose(cr.log_softmax(logits).data, [[-0.693147, -0.693147]], rtol=1e-5)
    per_sample = cr.softmax_cross_entropy(np.eye(2, dtype=np.float32), [[1000.0, 0.0]] * 2)
    np.testing.assert_allclose(per_sample.data, [0.0, 1000.0], atol=1e-6)


def test_sparse_softmax_cross_entropy_gradient_on_a_transposed_view():
    """Regression: the -1 on the label entries was lost when the logits were not C-contiguous."""
    import torch

    import chainrule as cr

    base = np.random.default_rng(3).normal(size=(4, 5)).astype("float32")
    logits_t = base.T  # (5, 4), a transposed (Fortran-ordered) view
    labels = np.array([0, 3, 1, 2, 3])
    x = cr.tensor(logits_t, requires_grad=True)
    (g,) = cr.grad(cr.sum(cr.sparse_softmax_cross_entropy(labels, x)), [x])
    xt = torch.tensor(np.ascontiguousarray(logits_t), requires_grad=True)
    torch.nn.functional.cross_entropy(xt, torch.tensor(labels), reduction="sum").backward()
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-5, atol=1e-6)
