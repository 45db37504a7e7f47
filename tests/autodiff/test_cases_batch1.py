"""Cases 04 and 05 (items 1-4) of /work/shared/cases/batch1.md, at the autodiff-core level:
broadcast operands get gradients of their own shape, and gradient bookkeeping (reuse along
several paths, repeated backward, distinct parameters of equal value). Expected values are the
case file's, worked out by hand and cross-checked with PyTorch there."""

from __future__ import annotations

import numpy as np

import chainrule as cr


def _assert_grad(got, expected, shape):
    got = np.asarray(got)
    assert got.shape == shape, f"shape {got.shape}, expected {shape}"
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


# -- case 04: a broadcast operand's gradient is summed back to its shape ---------------------


def test_case04_1_shape_1_times_matrix():
    a = cr.tensor([3.0], requires_grad=True)
    b = cr.tensor(np.full((5, 4), 0.5, np.float32), requires_grad=True)
    ga, gb = cr.grad((a * b).sum(), [a, b])
    _assert_grad(ga, [10.0], (1,))
    _assert_grad(gb, np.full((5, 4), 3.0), (5, 4))


def test_case04_2_column_times_row():
    c = cr.tensor([[1.0], [2.0], [3.0], [4.0]], requires_grad=True)
    d = cr.tensor([[10.0, 20.0, 30.0, 40.0]], requires_grad=True)
    gc, gd = cr.grad((c * d).sum(), [c, d])
    _assert_grad(gc, [[100.0]] * 4, (4, 1))
    _assert_grad(gd, [[10.0, 10.0, 10.0, 10.0]], (1, 4))


def test_case04_3_bias_added_to_constant_matrix():
    X = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    bias = cr.tensor([0.1, 0.2, 0.3], requires_grad=True)
    (g,) = cr.grad(((X + bias) ** 2).sum(), [bias])
    _assert_grad(g, [10.4, 14.8, 19.2], (3,))


def test_case04_4_scalar_parameter():
    s = cr.tensor(2.0, requires_grad=True)
    M = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    (g,) = cr.grad((s * M).sum(), [s])
    _assert_grad(g, 10.0, ())
    (s * M).sum().backward()
    _assert_grad(s.grad, 10.0, ())


# -- case 05: bookkeeping ------------------------------------------------------------------


def test_case05_1_reuse_along_two_paths():
    a = cr.tensor(1.0, requires_grad=True)
    b = a + a
    c = b + b
    assert cr.grad(c, [a])[0] == 4.0
    c.backward()
    assert a.grad == 4.0


def test_case05_2_value_and_gradients():
    a = cr.tensor(2.0, requires_grad=True)
    b = a * a
    c = b + b * a
    assert c.item() == 12.0
    ga, gb = cr.grad(c, [a, b])
    assert ga == 16.0 and gb == 3.0


def test_case05_3_second_backward_after_zeroing_gives_the_same():
    a = cr.tensor(2.0, requires_grad=True)
    b = a * a
    c = b + b * a
    c.backward()
    assert a.grad == 16.0
    a.grad = None
    c.backward()
    assert a.grad == 16.0
    a.zero_grad()
    c.backward()
    assert a.grad == 16.0
    assert cr.grad(c, [a, b]) == [16.0, 3.0]


def test_case05_4_distinct_parameters_with_equal_values():
    w1 = cr.tensor(3.0, requires_grad=True)
    w2 = cr.tensor(3.0, requires_grad=True)
    assert [float(g) for g in cr.grad(w1 + w2, [w1, w2])] == [1.0, 1.0]
    assert [float(g) for g in cr.grad(w1 * w2, [w1, w2])] == [3.0, 3.0]
    (w1 * w2).backward()
    assert (w1.grad, w2.grad) == (3.0, 3.0)
