"""Adversarial tests of the ops: NaN/inf, kinks, empty and 0-d arrays, odd indexing.

Expected values come from PyTorch (CPU, same float32 inputs), NumPy float64 by hand, or float64
central differences. Where chainrule documents a convention that differs from PyTorch, the test
says so and checks the documented value.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import chainrule as cr

nan, inf = np.nan, np.inf


def _values_and_grads(fn, *values, weights=None):
    """Forward values and gradients of ``sum(fn(*xs) * weights)`` in chainrule and torch."""
    arrays = [np.asarray(v, np.float32) for v in values]
    with np.errstate(all="ignore"):
        ts = [cr.tensor(a, requires_grad=True) for a in arrays]
        out = fn[0](*ts)
        w = np.ones(out.shape, np.float32) if weights is None else weights
        grads = cr.grad((out * w).sum(), ts)
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    tout = fn[1](*tt)
    tgrads = torch.autograd.grad((tout * torch.tensor(w)).sum(), tt)
    return (out.data, grads), (tout.detach().numpy(), [g.numpy() for g in tgrads])


def _assert_same(fn, *values, weights=None, rtol=1e-6):
    (o, gs), (to, tgs) = _values_and_grads(fn, *values, weights=weights)
    np.testing.assert_allclose(o, to, rtol=rtol, equal_nan=True)
    for g, tg in zip(gs, tgs, strict=True):
        np.testing.assert_allclose(g, tg, rtol=rtol, atol=1e-6, equal_nan=True)


# -- power ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn, x",
    [
        ((lambda x: x**2, lambda x: x**2), [-3.0, -0.5, 0.0, 2.0]),
        ((lambda x: x**3, lambda x: x**3), [-2.0, 0.0]),
        ((lambda x: x**0.5, lambda x: x**0.5), [0.0, 4.0]),
        ((lambda x: x**-1, lambda x: x**-1), [0.0, -2.0]),
        # before: d/dx x**0 at x = 0 was 0 * 0**-1 = NaN
        ((lambda x: x**0, lambda x: x**0), [0.0, -2.0, 3.0]),
        ((lambda x: x**0.0, lambda x: x**0.0), [0.0, -2.0]),
        ((lambda x: 2.0**x, lambda x: 2.0**x), [3.0, -1.0]),
    ],
    ids=["sq", "cube", "sqrt", "recip", "pow0-int", "pow0-float", "2**x"],
)
def test_power_matches_torch(fn, x):
    _assert_same(fn, x)


def test_power_with_both_arguments_tensors():
    f = (lambda x, y: x**y, lambda x, y: x**y)
    _assert_same(f, [0.0, 0.0, 2.0, 3.0], [0.0, 2.0, 0.5, -1.0])  # 0**0: d/dx is 0 (was NaN)
    # documented: d/dy is 0 for x <= 0 (TensorFlow's convention; PyTorch gives NaN at x < 0)
    (o, (gx, gy)), (to, (tgx, _)) = _values_and_grads(f, [-2.0, 0.0], [2.0, -1.0])
    np.testing.assert_array_equal(o, [4.0, inf])
    np.testing.assert_array_equal(gx, tgx)  # 2 * -2 = -4, and -1 * 0**-2 = -inf
    np.testing.assert_array_equal(gy, [0.0, 0.0])
    # a NaN result keeps a NaN gradient in both arguments
    (o, (gx, gy)), _ = _values_and_grads(f, [-2.0], [0.5])
    assert np.isnan(o).all() and np.isnan(gx).all() and np.isnan(gy).all()


# -- astype --------------------------------------------------------------------------------------


def test_cast_to_int_or_bool_does_not_pass_the_gradient():
    # Before: astype('int32') kept requires_grad and passed the gradient straight through, so
    # d/df (f.astype(bool) * f) came out 2 instead of 1.
    f = cr.tensor([1.5, 2.5], requires_grad=True)
    assert not f.astype("int32").requires_grad and not cr.astype(f, bool).requires_grad
    (g,) = cr.grad((f.astype(bool) * f).sum(), [f])
    tf = torch.tensor([1.5, 2.5], requires_grad=True)
    (tf.bool() * tf).sum().backward()
    np.testing.assert_array_equal(g, tf.grad.numpy())
    h = cr.astype(f, "float16")
    assert h.requires_grad and h.dtype == np.float16
    (g,) = cr.grad((h * h).sum(), [f])
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, [3.0, 5.0])


# -- reductions: prod, max, logsumexp, norm, std -------------------------------------------------


@pytest.mark.parametrize(
    "x",
    [[0.0, 2.0, 3.0], [0.0, 0.0, 3.0], [2.0, 3.0, 4.0], [-1.5, 0.5, 0.0, 2.0]],
)
def test_prod_matches_torch(x):
    _assert_same((lambda t: cr.prod(t), lambda t: torch.prod(t)), x)


@pytest.mark.parametrize(
    "x, expected",
    [
        # d/dx_i prod = product of the others, worked out by hand in float64
        ([inf, 2.0, 0.0], [0.0, nan, inf]),  # 2*0, inf*0, inf*2
        ([nan, 2.0, 0.0], [0.0, nan, nan]),  # before: [0, 0, nan], a NaN turned into 0
        ([inf, 2.0], [2.0, inf]),  # torch's division formula gives [nan, inf]
        ([nan, 2.0, 3.0], [6.0, nan, nan]),  # torch: [nan, nan, nan]
        ([inf, 2.0, 3.0], [6.0, inf, inf]),  # torch: [nan, inf, inf]
        ([0.0, nan], [nan, 0.0]),
    ],
)
def test_prod_gradient_is_the_product_of_the_others(x, expected):
    t = cr.tensor(np.array(x, np.float32), requires_grad=True)
    with np.errstate(all="ignore"):
        (g,) = cr.grad(cr.prod(t), [t])
    np.testing.assert_array_equal(g, np.array(expected, np.float32))


def test_prod_over_axes_matches_finite_differences():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (3, 4, 2))
    x[0, 1, 0] = 0.0
    x[2, :, 1] = 0.0  # a fibre with several zeros
    for axis, keepdims in [(None, False), (1, False), ((0, 2), True), (-1, False)]:
        assert cr.gradcheck(lambda t, a=axis, k=keepdims: cr.prod(t, axis=a, keepdims=k), [x])


def test_max_with_nan_and_all_minus_inf_match_torch():
    _assert_same((lambda t: cr.max(t, axis=1), lambda t: torch.amax(t, 1)),
                 [[nan, 1.0], [2.0, 1.0], [-inf, -inf]])  # fmt: skip
    _assert_same((lambda t: cr.min(t), lambda t: torch.amin(t)), [nan, 1.0])


def test_logsumexp_and_softmax_rows_of_minus_inf_match_torch():
    w = np.array([[1.0, 2.0, 3.0]] * 3, np.float32)
    x = [[-inf, -inf, -inf], [-inf, 0.0, 1.0], [0.0, 0.0, 0.0]]
    _assert_same((lambda t: cr.logsumexp(t, axis=1), lambda t: torch.logsumexp(t, 1)), x)
    _assert_same((lambda t: cr.softmax(t), lambda t: torch.softmax(t, -1)), x, weights=w)
    _assert_same((lambda t: cr.log_softmax(t), lambda t: torch.log_softmax(t, -1)), x, weights=w)


def test_norm_of_zero_rows_in_a_batch_matches_torch():
    x = [[0.0, 0.0], [3.0, 4.0], [1e-30, 0.0]]
    _assert_same((lambda t: cr.norm(t, axis=1), lambda t: torch.linalg.vector_norm(t, dim=1)), x)
    _assert_same((lambda t: cr.norm(t, axis=1, ord=1),
                  lambda t: torch.linalg.vector_norm(t, ord=1, dim=1)), x)  # fmt: skip


def test_std_with_inf_and_constant_rows_matches_torch():
    x = [[inf, 1.0], [2.0, 2.0], [1.0, 3.0]]
    _assert_same((lambda t: cr.std(t, axis=1), lambda t: torch.std(t, 1, correction=0)), x)


# -- NaN and inf through elementwise ops ---------------------------------------------------------


@pytest.mark.parametrize(
    "name, fn",
    [
        ("exp", (cr.exp, torch.exp)),
        ("log", (cr.log, torch.log)),
        ("log1p", (cr.log1p, torch.log1p)),
        ("sqrt", (cr.sqrt, torch.sqrt)),
        ("tanh", (cr.tanh, torch.tanh)),
        ("sigmoid", (cr.sigmoid, torch.sigmoid)),
        ("softplus", (cr.softplus, F.softplus)),
        ("silu", (cr.silu, F.silu)),
        ("gelu", (cr.gelu, F.gelu)),
        ("square", (cr.square, torch.square)),
        ("sin", (cr.sin, torch.sin)),
        ("div", (lambda t: 1.0 / t, lambda t: 1.0 / t)),
    ],
)
def test_nan_and_inf_propagate_like_torch(name, fn):
    _assert_same(fn, [nan, inf, -inf, 0.0, -1.0, 2.0])


def test_documented_nan_conventions_that_differ_from_torch():
    x = np.array([nan, 1.0], np.float32)
    with np.errstate(all="ignore"):
        t = cr.tensor(x, requires_grad=True)
        # relu, clip, hard_sigmoid: the gradient mask is False at NaN (torch's relu gives 1)
        for f in (cr.relu, lambda v: cr.clip(v, 0.0, 2.0), cr.hard_sigmoid):
            (g,) = cr.grad(f(t).sum(), [t])
            assert g[0] == 0.0 and np.isnan(f(t).data[0])
        # maximum with a NaN: neither input gets a gradient (JAX; torch gives both 1)
        u = cr.tensor(np.array([0.0, nan], np.float32), requires_grad=True)
        gt, gu = cr.grad(cr.maximum(t, u).sum(), [t, u])
        np.testing.assert_array_equal(gt, [0.0, 0.0])
        np.testing.assert_array_equal(gu, [0.0, 0.0])
        # abs at NaN: sign(NaN) = NaN (torch gives 0)
        (g,) = cr.grad(cr.abs(t).sum(), [t])
        assert np.isnan(g[0]) and g[1] == 1.0


def test_clip_with_min_above_max_matches_torch():
    _assert_same((lambda t: cr.clip(t, 2.0, 1.0), lambda t: torch.clamp(t, 2.0, 1.0)),
                 [0.0, 1.5, 3.0])  # fmt: skip
    _assert_same((lambda t: cr.clip(t, 0.0, 1.0), lambda t: torch.clamp(t, 0.0, 1.0)),
                 [0.0, 1.0, -1.0, 2.0, 0.5])  # fmt: skip


def test_where_gradient_skips_the_unused_branch_and_the_double_where_trap():
    x = cr.tensor(np.array([-1.0, 4.0, 0.0], np.float32), requires_grad=True)
    y = cr.tensor(np.array([nan, inf, 1.0], np.float32), requires_grad=True)
    gx, gy = cr.grad(cr.where(x > 0, x, y).sum(), [x, y])
    np.testing.assert_array_equal(gx, [0.0, 1.0, 0.0])  # NaN/inf values of y do not leak
    np.testing.assert_array_equal(gy, [1.0, 0.0, 1.0])
    with np.errstate(all="ignore"):
        (g,) = cr.grad(cr.where(x > 0, cr.sqrt(x), 0.0).sum(), [x])
    tx = torch.tensor([-1.0, 4.0, 0.0], requires_grad=True)
    torch.where(tx > 0, torch.sqrt(tx), 0.0).sum().backward()
    np.testing.assert_array_equal(g, tx.grad.numpy())  # the trap: NaN at -1, inf*0 at 0
    (g,) = cr.grad(cr.where(x > 0, cr.sqrt(cr.where(x > 0, x, 1.0)), 0.0).sum(), [x])
    np.testing.assert_array_equal(g, [0.0, 0.25, 0.0])  # the documented fix: finite


# -- dense with unusual bias shapes -------------------------------------------------------------


@pytest.mark.parametrize("bias_shape", [(2,), (1, 2), (3, 2), ()])
def test_dense_bias_gradient_for_any_broadcastable_bias(bias_shape):
    # Before: a (1, 2) bias got [[6, 6]] instead of [[3, 3]], a (3, 2) bias got 3 in every
    # entry instead of 1 (the bias gradient was summed over rows, then broadcast back up).
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    k = rng.standard_normal((4, 2)).astype(np.float32)
    b = rng.standard_normal(bias_shape).astype(np.float32)
    w = rng.standard_normal((3, 2)).astype(np.float32)
    _assert_same((lambda a, c, d: cr.dense(a, c, d), lambda a, c, d: a @ c + d), x, k, b,
                 weights=w, rtol=1e-5)  # fmt: skip


def test_dense_with_1d_and_3d_inputs_matches_torch():
    rng = np.random.default_rng(2)
    k = rng.standard_normal((4, 2)).astype(np.float32)
    b = rng.standard_normal(2).astype(np.float32)
    for shape in [(4,), (2, 3, 4)]:
        x = rng.standard_normal(shape).astype(np.float32)
        _assert_same((lambda a, c, d: cr.dense(a, c, d), lambda a, c, d: a @ c + d), x, k, b,
                     rtol=1e-5)  # fmt: skip


# -- indexing ------------------------------------------------------------------------------------

_X = np.arange(24, dtype=np.float32).reshape(2, 3, 4)


@pytest.mark.parametrize(
    "index",
    [
        -1,
        (slice(None, None, -1), slice(None, None, 2)),
        (Ellipsis, slice(3, 0, -2)),
        np.zeros((2, 3, 4), bool),  # all-False mask
        np.array([True, False]),
        np.array([1, 1, 0, 1]),  # repeats accumulate
        (slice(None), np.array([2, 2, 0]), slice(1, 3)),  # advanced between basic
        (np.array([0, 1, 1]), slice(None), np.array([3, 3, 0])),  # separated advanced
        (None, 1, Ellipsis, None),
        ([0, 1, 0],),
    ],
    ids=["neg", "reverse-step", "ellipsis-neg-step", "mask-none", "mask-rows", "repeats",
         "adv-mid", "adv-split", "newaxis", "list"],  # fmt: skip
)
def test_indexing_values_and_gradients_match_torch(index):
    w = None
    with np.errstate(all="ignore"):
        out_shape = _X[index].shape
    w = np.random.default_rng(3).standard_normal(out_shape).astype(np.float32)
    t_index = tuple(torch.as_tensor(i) if isinstance(i, np.ndarray | list) else i
                    for i in (index if isinstance(index, tuple) else (index,)))  # fmt: skip
    if any(isinstance(i, slice) and (i.step or 1) < 0 for i in t_index):
        # torch has no negative steps: compare with NumPy's gradient of the same index
        t = cr.tensor(_X, requires_grad=True)
        (g,) = cr.grad((t[index] * w).sum(), [t])
        expected = np.zeros_like(_X)
        np.add.at(expected, index, w)
        np.testing.assert_array_equal(t[index].data, _X[index])
        np.testing.assert_array_equal(g, expected)
        return
    _assert_same((lambda a: a[index], lambda a: a[t_index]), _X, weights=w)


def test_tensor_indices_and_bad_indices():
    t = cr.tensor(_X, requires_grad=True)
    (g,) = cr.grad(t[cr.tensor(np.array([1, 1]))].sum(), [t])
    np.testing.assert_array_equal(g, np.stack([np.zeros((3, 4)), 2 * np.ones((3, 4))]))
    np.testing.assert_array_equal(t[cr.tensor(1), 0].data, _X[1, 0])
    with pytest.raises(IndexError, match="out of bounds"):
        t[2]  # noqa: B018
    with pytest.raises(IndexError, match="out of bounds"):
        t[:, np.array([0, 5])]  # noqa: B018
    with pytest.raises(IndexError, match="integer"):
        t[np.array([1.0])]  # noqa: B018
    with pytest.raises(IndexError, match="integer"):
        t[cr.tensor([0.0])]  # noqa: B018


# -- empty and 0-d arrays ------------------------------------------------------------------------

_EMPTY_OPS = {
    "sum": lambda t: t.sum(),
    "sum-axis1": lambda t: cr.sum(t, axis=1),
    "mean-axis1": lambda t: cr.mean(t, axis=1),
    "max-axis1": lambda t: cr.max(t, axis=1),
    "prod": lambda t: cr.prod(t),
    "prod-axis0": lambda t: cr.prod(t, axis=0),
    "var-axis1": lambda t: cr.var(t, axis=1),
    "std-axis0": lambda t: cr.std(t, axis=0),
    "norm": lambda t: cr.norm(t),
    "logsumexp-axis0": lambda t: cr.logsumexp(t, axis=0),
    "softmax": lambda t: cr.softmax(t, axis=0),
    "log_softmax": lambda t: cr.log_softmax(t, axis=0),
    "matmul": lambda t: t @ np.ones((3, 2), np.float32),
    "matmul-T": lambda t: t.T @ np.ones((0, 2), np.float32),
    "exp": cr.exp,
    "concatenate": lambda t: cr.concatenate([t, t]),
    "stack": lambda t: cr.stack([t, t], axis=1),
    "pad": lambda t: cr.pad(t, 1),
    "reshape": lambda t: t.reshape(3, 0),
    "getitem": lambda t: t[:, 1],
    "tile": lambda t: cr.tile(t, 2),
    "repeat": lambda t: cr.repeat(t, 2, axis=1),
    "einsum": lambda t: cr.einsum("ij->j", t),
    "dense": lambda t: cr.dense(t, np.ones((3, 2), np.float32), np.ones(2, np.float32)),
    "softmax_ce": lambda t: cr.softmax_cross_entropy(np.zeros((0, 3), np.float32), t),
    "sparse_ce": lambda t: cr.sparse_softmax_cross_entropy(np.zeros(0, np.int64), t),
    "where": lambda t: cr.where(t > 0, t, 0.0),
    "power": lambda t: t**2,
    "clip": lambda t: cr.clip(t, 0.0, 1.0),
}


@pytest.mark.parametrize("name", sorted(_EMPTY_OPS))
def test_empty_input_forward_and_backward(name):
    x = np.zeros((0, 3), np.float32)
    t = cr.tensor(x, requires_grad=True)
    out = _EMPTY_OPS[name](t)
    # the forward matches NumPy's value on the same empty input (reductions' identities)
    if name in ("sum", "prod", "norm", "matmul-T", "einsum", "prod-axis0", "pad"):
        assert np.all(out.data == {"prod": 1.0, "prod-axis0": 1.0}.get(name, 0.0))
    if name == "logsumexp-axis0":
        np.testing.assert_array_equal(out.data, [-inf, -inf, -inf])  # log(0), as torch
    (g,) = cr.grad(out, [t], [np.ones(out.shape, out.dtype)])
    assert g.shape == (0, 3) and g.dtype == np.float32


def test_reducing_an_empty_axis_without_identity_raises_clearly():
    t = cr.tensor(np.zeros((0, 3), np.float32), requires_grad=True)
    with pytest.raises(ValueError, match=r"max\(\).*zero-size.*input shapes: \(0, 3\)"):
        cr.max(t, axis=0)
    torch_raised = False
    try:
        torch.amax(torch.zeros((0, 3)), 0)
    except (RuntimeError, IndexError):
        torch_raised = True
    assert torch_raised  # torch also refuses


_SCALAR_OPS = {
    "sum": lambda t: t.sum(),
    "mean": lambda t: cr.mean(t),
    "max": cr.max,
    "prod": cr.prod,
    "std": cr.std,
    "norm": cr.norm,
    "logsumexp": cr.logsumexp,
    "softmax": cr.softmax,
    "log_softmax": cr.log_softmax,
    "reshape": lambda t: t.reshape(1, 1),
    "expand_dims": lambda t: cr.expand_dims(t, 0),
    "stack": lambda t: cr.stack([t, t * 2.0]),
    "tile": lambda t: cr.tile(t, 3),
    "getitem-None": lambda t: t[None],
    "einsum": lambda t: cr.einsum(",->", t, t),
    "power": lambda t: t**3,
    "maximum": lambda t: cr.maximum(t, 1.0),
}
_SCALAR_TORCH = {
    "sum": torch.sum,
    "mean": torch.mean,
    "max": torch.amax,
    "prod": torch.prod,
    "std": lambda t: torch.std(t, correction=0),
    "norm": torch.linalg.vector_norm,
    "logsumexp": lambda t: torch.logsumexp(t, 0),
    "softmax": lambda t: torch.softmax(t, 0),
    "log_softmax": lambda t: torch.log_softmax(t, 0),
    "reshape": lambda t: t.reshape(1, 1),
    "expand_dims": lambda t: t.unsqueeze(0),
    "stack": lambda t: torch.stack([t, t * 2.0]),
    "tile": lambda t: t.repeat(3),
    "getitem-None": lambda t: t[None],
    "einsum": lambda t: torch.einsum(",->", t, t),
    "power": lambda t: t**3,
    "maximum": lambda t: torch.maximum(t, torch.tensor(1.0)),
}


@pytest.mark.parametrize("name", sorted(_SCALAR_OPS))
def test_0d_input_matches_torch(name):
    _assert_same((_SCALAR_OPS[name], _SCALAR_TORCH[name]), 2.0)
