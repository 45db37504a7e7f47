"""Adversarial tests of the autodiff core: strange input, odd graphs, aliasing, custom rules.

Each test pins one behaviour a user could trip over: a silent wrong answer that was fixed (the
commit that fixed it is named in the test's comment), or a documented choice. Expected values
come from PyTorch (CPU), NumPy float64 by hand, or float64 central differences.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.autodiff import defvjp, gradcheck, primitive


def _leaf(v, dtype=np.float32):
    return cr.tensor(np.asarray(v, dtype=dtype), requires_grad=True)


# -- graphs: depth, width, reuse, intermediates --------------------------------------------------


def test_chain_of_20000_ops_has_no_recursion_error_and_right_gradient():
    x = _leaf(1.0, np.float64)
    y = x
    for _ in range(20000):
        y = y * 1.0001
    (g,) = cr.grad(y, [x])
    assert g == pytest.approx(1.0001**20000, rel=1e-9)


def test_value_reused_1000_times_and_diamond():
    a = _leaf([1.0, 2.0], np.float64)
    y = sum(a * float(i) for i in range(1000))  # builtin sum starts from int 0
    (g,) = cr.grad(y.sum(), [a])
    np.testing.assert_array_equal(g, [499500.0, 499500.0])
    # diamond: b feeds c and d, both feed e
    b = a * 2
    e = (cr.exp(b) + b * b).sum()
    ta = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    tb = ta * 2
    (torch.exp(tb) + tb * tb).sum().backward()
    np.testing.assert_allclose(cr.grad(e, [a])[0], ta.grad.numpy(), rtol=1e-12)


def test_grad_wrt_intermediate_and_leaf_at_once_and_duplicates():
    a = _leaf([1.0, 2.0])
    b = a * 2
    c = (b * b).sum()
    gb, ga, gb2, ga2 = cr.grad(c, [b, a, b, a])
    np.testing.assert_array_equal(gb, [4.0, 8.0])  # 2b
    np.testing.assert_array_equal(ga, [8.0, 16.0])  # 8a
    np.testing.assert_array_equal(gb2, gb)
    np.testing.assert_array_equal(ga2, ga)


def test_grad_of_several_outputs_adds_them():
    a = _leaf([1.0, 2.0])
    (g,) = cr.grad([(a * a).sum(), a.sum(), (a * 3).sum()], [a])
    np.testing.assert_array_equal(g, [6.0, 8.0])  # 2a + 1 + 3


def test_tensor_as_dict_key_and_in_set_does_not_confuse_grad():
    a, b = _leaf([1.0]), _leaf([1.0])  # equal values, distinct tensors
    table = {a: "a", b: "b"}
    assert len(table) == 2 and len({a, b, a}) == 2
    ga, gb = cr.grad((a * 2 + b * 3).sum(), list(table))
    np.testing.assert_array_equal(ga, [2.0])
    np.testing.assert_array_equal(gb, [3.0])


# -- grad() and backward() argument checking -----------------------------------------------------


def test_grad_outputs_of_the_wrong_length_raise():
    # Before: zip() silently dropped the second output (gradient [2, 2] instead of [4, 4]).
    a = _leaf([1.0, 2.0])
    b = a * 2
    with pytest.raises(ValueError, match=r"grad_outputs has 1 entries but there are 2 outputs"):
        cr.grad([b, b], [a], [np.ones(2)])
    with pytest.raises(ValueError, match=r"grad_outputs has 2 entries but there is 1 output"):
        cr.grad(b, [a], [np.ones(2), np.ones(2)])
    g = cr.grad([b, b], [a], [np.ones(2), np.ones(2)])[0]
    np.testing.assert_array_equal(g, [4.0, 4.0])


def test_grad_outputs_of_the_wrong_shape_raise_naming_both_shapes():
    a = _leaf([1.0, 2.0])
    with pytest.raises(ValueError, match=r"shape \(3,\) but the tensor has shape \(2,\)"):
        cr.grad(a * 2, [a], [np.ones(3)])
    with pytest.raises(ValueError, match=r"shape \(1, 2\)"):  # no silent broadcasting either
        cr.grad(a * 2, [a], [np.ones((1, 2))])
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        (a * 2).backward(np.ones(3))


def test_grad_inputs_that_are_not_tensors_raise():
    # Before: a NumPy array as an input silently got a zero gradient.
    a = _leaf([1.0, 2.0])
    with pytest.raises(TypeError, match=r"inputs\[1\] must be a Tensor, received ndarray"):
        cr.grad((a * a).sum(), [a, np.ones(2)])


def test_backward_with_explicit_grad_on_non_scalar():
    a = _leaf([1.0, 2.0])
    (a * a).backward(np.array([1.0, 3.0]))  # float64 grad on a float32 graph
    np.testing.assert_array_equal(a.grad, [2.0, 12.0])
    assert a.grad.dtype == np.float32


def test_repeated_backward_on_0d_leaf_keeps_an_array_grad():
    # Before: 0-d + 0-d gave a NumPy scalar, so leaf.grad changed type on the second call.
    r = _leaf(3.0)
    r.backward()
    r.backward()
    assert isinstance(r.grad, np.ndarray) and r.grad.shape == () and r.grad == 2.0


# -- aliasing of returned gradients -------------------------------------------------------------


def test_backward_gradients_of_different_leaves_do_not_alias():
    # Before: add's VJP returns g for both inputs, so a.grad is b.grad and an in-place update of
    # one gradient (clipping, weight decay) silently changed the other.
    a, b = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad, b.grad)
    a.grad += 1
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])


def test_grad_results_do_not_alias_each_other_or_the_seed():
    a, b = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    seed = np.ones(2, np.float32)
    ga, gb = cr.grad(a + b, [a, b], [seed])
    assert not np.shares_memory(ga, gb)
    assert not np.shares_memory(ga, seed) and not np.shares_memory(gb, seed)
    c = cr.concatenate([a, b])
    gc, ga2 = cr.grad((c * 1.0).sum(), [c, a])
    assert not np.shares_memory(gc, ga2)
    # a leaf seeded directly must not keep a reference to the caller's array
    s = _leaf([1.0, 2.0])
    seed = np.ones(2, np.float32)
    s.backward(seed)
    seed[0] = 100.0
    np.testing.assert_array_equal(s.grad, [1.0, 1.0])


def test_returned_gradients_are_writeable():
    x = _leaf(np.ones((2, 3)))
    for y in (cr.einsum("ij->i", x), cr.broadcast_to(cr.sum(x, axis=0), (4, 3)), x * 1.0):
        (g,) = cr.grad(y.sum(), [x])
        g += 1  # must not raise "read-only"


def test_in_place_change_between_forward_and_backward_is_seen_by_backward():
    # Documented choice (Tensor docstring): the graph keeps references to the arrays the forward
    # saw, with no version counter; changing them in place changes the gradient.
    m = _leaf([1.0, 2.0])
    out = (m * m).sum()
    m.data[0] = 10.0
    np.testing.assert_array_equal(cr.grad(out, [m])[0], [20.0, 4.0])


# -- custom primitives with broken rules --------------------------------------------------------


def _custom(vjp, fwd=lambda x: x * 2, name="custom"):
    op = primitive(fwd, name=name)
    defvjp(op, vjp)
    return op


@pytest.mark.parametrize(
    "bad_shape",
    [(5,), (1,), (), (3, 5), (2, 1)],
)
def test_vjp_returning_a_wrong_shape_raises_naming_the_op(bad_shape):
    # Before: (1,) and () were silently broadcast to (2,); (5,) gave a NumPy broadcast error.
    op = _custom(lambda g, out, x: np.ones(bad_shape, np.float32), name="my_op")
    x = _leaf([1.0, 2.0])
    with pytest.raises(ValueError, match=r"my_op.*argument 0.*shape \(2,\)"):
        cr.grad(op(x).sum(), [x])


def test_vjp_returning_a_broadcast_shape_is_summed_back():
    op = _custom(lambda g, out, x: np.ones((3, 2), np.float32))
    x = _leaf([1.0, 2.0])
    np.testing.assert_array_equal(cr.grad(op(x).sum(), [x])[0], [3.0, 3.0])


@pytest.mark.parametrize("value", [None, [2.0, 2.0], 2.0])
def test_vjp_returning_a_non_array_raises_naming_the_op(value):
    op = _custom(lambda g, out, x: value, name="lazy_op")
    x = _leaf([1.0, 2.0])
    with pytest.raises(TypeError, match=r"lazy_op.*argument 0.*returned"):
        cr.grad(op(x).sum(), [x])


def test_vjp_returning_complex_raises():
    op = _custom(lambda g, out, x: g * (2 + 1j), name="cplx_op")
    x = _leaf([1.0, 2.0])
    with pytest.raises(TypeError, match=r"cplx_op.*complex"):
        cr.grad(op(x).sum(), [x])


def test_defvjp_with_too_few_and_too_many_rules():
    op = primitive(lambda x, y: x * y, name="two_args")
    defvjp(op, lambda g, out, x, y: g * y)
    x, y = _leaf([1.0]), _leaf([3.0])
    np.testing.assert_array_equal(cr.grad(op(x, np.float32(3.0)).sum(), [x])[0], [3.0])
    with pytest.raises(NotImplementedError, match=r"two_args.*argument 1"):
        cr.grad(op(x, y).sum(), [x, y])
    with pytest.raises(ValueError, match=r"two_args.*3 gradient rules.*2 positional"):
        defvjp(op, None, None, None)


# -- gradcheck ----------------------------------------------------------------------------------


def test_gradcheck_on_a_kink_fails_with_a_message_naming_the_element():
    with pytest.raises(AssertionError, match=r"input 0 at index \(0,\).*value 1e-07"):
        gradcheck(lambda t: cr.relu(t), [[1e-7, 1.0]])
    assert gradcheck(lambda t: cr.relu(t), [[1e-7, 1.0]], raise_exception=False) is False


def test_gradcheck_casts_integer_inputs_to_float64():
    assert gradcheck(lambda t: t * t * t, [np.array([1, -2, 3])])


def test_gradcheck_of_a_function_not_returning_a_tensor_raises_type_error():
    with pytest.raises(TypeError, match=r"fn must return a Tensor, received float"):
        gradcheck(lambda t: 3.0, [[1.0]])
