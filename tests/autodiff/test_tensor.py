"""Tensor: creation dtype rules, methods, mixed operands (NumPy arrays and Python numbers on
either side), and indexing gradients checked against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr


def test_tensor_dtype_rules():
    assert cr.tensor(1.5).dtype == np.float32
    assert cr.tensor([1.0, 2.0]).dtype == np.float32
    assert cr.tensor([[1, 2.5]]).dtype == np.float32
    assert cr.tensor(np.array([1.0])).dtype == np.float64  # NumPy arrays keep their dtype
    assert cr.tensor(np.float32(2.0)).dtype == np.float32
    assert cr.tensor(3).dtype.kind == "i" and cr.tensor([1, 2]).dtype.kind == "i"
    assert cr.tensor([True, False]).dtype == np.bool_
    assert cr.tensor([1, 2], dtype="float64").dtype == np.float64
    with pytest.raises(TypeError, match="only float tensors can require grad.*int"):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="numeric"):
        cr.tensor("abc")
    with pytest.raises(TypeError, match="numeric"):
        cr.tensor(["a", "b"])


def test_methods_T_numpy_item_detach_repr():
    data = np.arange(6.0).reshape(2, 3)
    t = cr.tensor(data, requires_grad=True)
    assert t.T.shape == (3, 2) and np.array_equal(t.T.data, data.T)
    assert t.T.requires_grad
    assert isinstance(t.numpy(), np.ndarray) and np.array_equal(t.numpy(), data)
    assert cr.tensor([[2.5]]).item() == 2.5 and isinstance(cr.tensor(2.5).item(), float)
    with pytest.raises(ValueError, match="one element.*\\(2, 3\\)"):
        t.item()
    d = (t * 2).detach()
    assert not d.requires_grad and d.is_leaf and np.array_equal(d.data, data * 2)
    assert repr(cr.tensor([1.0, 2.0])) == "tensor([1., 2.], dtype=float32)"
    assert "requires_grad=True" in repr(t)
    assert "grad_fn=multiply" in repr(t * 2)
    assert len(t) == 2 and t.ndim == 2 and t.size == 6 and t.shape == (2, 3)


def test_numbers_and_arrays_on_either_side_give_tensors():
    x = cr.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    a = np.array([[0.5, -1.0], [2.0, 1.0]])
    tx = torch.tensor(x.data, requires_grad=True)
    ta = torch.tensor(a)
    exprs = [
        (lambda v, m: 2 * v, lambda v, m: 2 * v),
        (lambda v, m: v * 2.0, lambda v, m: v * 2.0),
        (lambda v, m: 1 - v, lambda v, m: 1 - v),
        (lambda v, m: m - v, lambda v, m: m - v),
        (lambda v, m: v - m, lambda v, m: v - m),
        (lambda v, m: m / v, lambda v, m: m / v),
        (lambda v, m: m @ v, lambda v, m: m @ v),
        (lambda v, m: v @ m, lambda v, m: v @ m),
        (lambda v, m: 2.0**v, lambda v, m: 2.0**v),
        (lambda v, m: v**2, lambda v, m: v**2),
        (lambda v, m: -v + m * v, lambda v, m: -v + m * v),
    ]
    for k, (fn, tfn) in enumerate(exprs):
        out = fn(x, a)
        assert isinstance(out, cr.Tensor), (k, type(out))
        assert out.requires_grad
        tout = tfn(tx, ta)
        np.testing.assert_allclose(out.data, tout.detach().numpy(), err_msg=str(k))
        (g,) = cr.grad(out.sum(), [x])
        (tg,) = torch.autograd.grad(tout.sum(), [tx])
        np.testing.assert_allclose(g, tg.numpy(), err_msg=str(k))


def test_comparisons_are_not_differentiable():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    for out in (x > 1.5, x == 1.0, x <= np.array([2.0, 0.0])):
        assert out.dtype == np.bool_ and not out.requires_grad
    np.testing.assert_array_equal((x > 1.5).data, [False, True])


INDEXES = [
    1, -1, slice(1, None), (slice(None), 2), (Ellipsis, 1), (None, 0), (0, None, slice(0, 2)),
    [0, 0, 2], np.array([2, 2, 2, 0]), (np.array([0, 0]), np.array([1, 1])),
    np.array([True, False, True]), (slice(None), np.array([3, 3, 0])),
    np.array([[True, False, False, True]] * 3),
]  # fmt: skip


@pytest.mark.parametrize("index", INDEXES, ids=[str(i) for i in range(len(INDEXES))])
def test_indexing_values_and_gradients_match_torch(index):
    data = np.arange(12.0).reshape(3, 4)
    x = cr.tensor(data, requires_grad=True)
    tx = torch.tensor(data, requires_grad=True)
    out = x[index]
    t_index = index
    if isinstance(index, list):
        t_index = torch.tensor(index)
    elif isinstance(index, np.ndarray):
        t_index = torch.from_numpy(index)
    elif isinstance(index, tuple):
        t_index = tuple(torch.from_numpy(i) if isinstance(i, np.ndarray) else i for i in index)
    tout = tx[t_index]
    np.testing.assert_array_equal(out.data, tout.detach().numpy())
    w = np.random.default_rng(0).standard_normal(out.shape)
    (g,) = cr.grad(out, [x], [w])
    (tg,) = torch.autograd.grad(tout, [tx], torch.from_numpy(w))
    np.testing.assert_allclose(g, tg.numpy())


def test_repeated_integer_indices_accumulate():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad, [3, 0, 1])
    idx = cr.tensor(np.array([1, 1]))
    (g,) = cr.grad(x[idx].sum(), [x])
    np.testing.assert_array_equal(g, [0, 2, 0])
