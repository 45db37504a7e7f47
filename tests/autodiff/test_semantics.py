"""Gradient semantics: subgradient conventions at kinks and ties, accumulation and reuse,
repeated backward, grad() vs .grad, grad mode, custom primitives, gradcheck, seeding."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

import chainrule as cr


def _g(fn, *values):
    ts = [cr.tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for v in values]
    return cr.grad(fn(*ts), ts)


# -- kinks and ties -------------------------------------------------------------------------


def test_relu_and_abs_have_zero_subgradient_at_zero():
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(_g(lambda t: cr.relu(t).sum(), x)[0], [0, 0, 1])
    np.testing.assert_array_equal(_g(lambda t: cr.abs(t).sum(), x)[0], [-1, 0, 1])
    # PyTorch has the same conventions
    tx = torch.tensor(x, requires_grad=True)
    (torch.relu(tx).sum() + torch.abs(tx).sum()).backward()
    np.testing.assert_array_equal(tx.grad.numpy(), [-1, 0, 2])


@pytest.mark.parametrize("name", ["max", "min"])
def test_reductions_split_gradient_among_ties(name):
    x = np.array([[3.0, 1.0, 3.0], [2.0, 2.0, 2.0]])
    if name == "min":
        x = -x
    fn = getattr(cr, name)
    np.testing.assert_allclose(_g(lambda t: fn(t).sum(), x)[0], [[0.5, 0, 0.5], [0, 0, 0]])
    w = np.array([1.0, 6.0])
    got = _g(lambda t: (fn(t, axis=1) * w).sum(), x)[0]
    np.testing.assert_allclose(got, [[0.5, 0, 0.5], [2, 2, 2]])
    t = torch.tensor(x, requires_grad=True)
    ((torch.amax if name == "max" else torch.amin)(t, dim=1) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(got, t.grad.numpy())


def test_maximum_minimum_tie_gives_half_to_each():
    for fn in (cr.maximum, cr.minimum):
        gx, gy = _g(lambda a, b, f=fn: f(a, b).sum(), [1.0, 2.0, 3.0], [1.0, 0.0, 3.0])
        np.testing.assert_array_equal(gx + gy, [1, 1, 1])
        assert gx[0] == gy[0] == 0.5 and gx[2] == gy[2] == 0.5


def test_norm_at_zero_vector_has_zero_gradient():
    (g,) = _g(lambda t: cr.norm(t), np.zeros(3))
    np.testing.assert_array_equal(g, 0)
    (g,) = _g(lambda t: cr.norm(t, axis=1).sum(), [[0.0, 0.0], [3.0, 4.0]])
    np.testing.assert_allclose(g, [[0, 0], [0.6, 0.8]])


def test_std_at_zero_variance_has_zero_gradient():
    (g,) = _g(lambda t: cr.std(t, axis=0).sum(), [[1.0, 2.0]])
    np.testing.assert_array_equal(g, [[0, 0]])


def test_prod_gradient_with_zeros():
    (g,) = _g(lambda t: cr.prod(t), [2.0, 0.0, 3.0])
    np.testing.assert_array_equal(g, [0, 6, 0])
    (g,) = _g(lambda t: cr.prod(t), [0.0, 0.0, 3.0])
    np.testing.assert_array_equal(g, [0, 0, 0])


# -- bookkeeping -----------------------------------------------------------------------------


def test_leaf_gradients_accumulate_over_backward_calls():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2, 4])
    (3 * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [5, 7])
    x.zero_grad()
    assert x.grad is None


def test_value_used_several_times_gets_the_sum():
    (g,) = _g(lambda x: x * x * x + cr.exp(x) + x, 0.5)
    np.testing.assert_allclose(g, 3 * 0.25 + np.exp(0.5) + 1)


def test_backward_twice_gives_the_same_gradients():
    x = cr.tensor([0.3, -1.2], requires_grad=True)
    y = (cr.tanh(x) * x).sum()
    y.backward()
    first = x.grad.copy()
    x.grad = None
    y.backward()
    np.testing.assert_array_equal(x.grad, first)
    assert cr.grad(y, [x])[0].tolist() == first.tolist()


def test_grad_does_not_touch_dot_grad():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    gx, gh = cr.grad((h * x).sum(), [x, h])
    np.testing.assert_array_equal(gx, [4, 8])
    np.testing.assert_array_equal(gh, [1, 2])
    assert x.grad is None and h.grad is None
    unused = cr.tensor([5.0], requires_grad=True)
    np.testing.assert_array_equal(cr.grad((x * 1).sum(), [unused])[0], [0])


def test_gradient_dtype_and_shape_follow_the_input():
    a = cr.tensor(np.ones((2, 1), np.float32), requires_grad=True)
    b = cr.tensor(np.ones(3, np.float64), requires_grad=True)
    ga, gb = cr.grad((a * b).sum(), [a, b])
    assert ga.shape == (2, 1) and ga.dtype == np.float32
    assert gb.shape == (3,) and gb.dtype == np.float64


# -- grad mode -------------------------------------------------------------------------------


def test_no_grad_context_decorator_and_enable_grad():
    w = cr.tensor([1.0], requires_grad=True)
    with cr.no_grad():
        assert not cr.is_grad_enabled()
        assert not (w * 2).requires_grad
        with cr.enable_grad():
            assert (w * 2).requires_grad
        assert not (w * 2).requires_grad
    assert cr.is_grad_enabled() and (w * 2).requires_grad

    @cr.no_grad()
    def predict(v):
        return v * 3

    assert not predict(w).requires_grad
    assert cr.is_grad_enabled()
    with pytest.raises(RuntimeError, match="does not require grad"):
        predict(w).backward()


# -- custom ops, gradcheck, seeding ----------------------------------------------------------


def custom_op_example():
    """A custom op: ``@primitive`` on an array function, ``defvjp`` for its gradient.

    >>> import numpy as np
    >>> import chainrule as cr
    >>> @cr.primitive
    ... def cube(x):
    ...     return x ** 3
    >>> _ = cr.defvjp(cube, lambda g, out, x: g * 3 * x ** 2)
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> cube(x).sum().backward()
    >>> x.grad
    array([ 3., 12.], dtype=float32)
    >>> cr.gradcheck(cube, [np.array([0.5, -1.5])])
    True
    """


def test_custom_op_docstring_example_runs():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in finder.find(custom_op_example, "custom_op_example", globs={}):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted == 8 and result.failed == 0


def test_gradcheck_passes_and_detects_a_wrong_vjp():
    assert cr.gradcheck(lambda x, y: cr.tanh(x) * y + x**2, [[0.5, -1.0], [2.0, 0.25]])

    @cr.primitive
    def bad_sin(x):
        return np.sin(x)

    cr.defvjp(bad_sin, lambda g, out, x: g * np.sin(x))  # wrong: should be cos
    with pytest.raises(AssertionError, match="gradcheck failed for input 0"):
        cr.gradcheck(bad_sin, [[0.3, 1.1]])
    assert cr.gradcheck(bad_sin, [[0.3, 1.1]], raise_exception=False) is False


def test_op_without_rule_raises_naming_it():
    @cr.primitive
    def no_rule(x):
        return x * 2

    with pytest.raises(NotImplementedError, match="no_rule"):
        no_rule(cr.tensor([1.0], requires_grad=True))
    assert not no_rule(cr.tensor([1.0])).requires_grad


def test_set_random_seed_reproducible():
    cr.set_random_seed(123)
    a = cr.backend.rng().standard_normal(4)
    b = np.random.rand(2)
    cr.set_random_seed(123)
    np.testing.assert_array_equal(cr.backend.rng().standard_normal(4), a)
    np.testing.assert_array_equal(np.random.rand(2), b)
    cr.set_random_seed(124)
    assert not np.array_equal(cr.backend.rng().standard_normal(4), a)
    with pytest.raises(ValueError, match="seed=-1"):
        cr.set_random_seed(-1)
