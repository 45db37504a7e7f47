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


def test_the_shared_scalar_seed_never_reaches_the_caller():
    # A scalar loss is seeded with one shared read-only 1 per dtype: every gradient that is
    # that 1 (or a view of it) must come back as a writeable array of the caller's own.
    for dtype in ("float32", "float64"):
        x = cr.tensor(np.array(2.0, dtype), requires_grad=True)
        (g1,) = cr.grad(x, [x])  # the seed itself is the gradient
        (g2,) = cr.grad(cr.reshape(x, (1,)).sum(), [x])
        for g in (g1, g2):
            assert g.flags.writeable and g.dtype == dtype and g == 1
            g += 5
        (g3,) = cr.grad(x, [x])
        assert g3 == 1  # the edits above did not reach the shared 1
        x.backward()
        x.grad += 1
        x.backward()
        assert x.grad == 3 and cr.grad(x * 1.0, [x])[0] == 1


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


# -- grad mode ----------------------------------------------------------------------------------


def test_no_grad_nested_in_enable_grad_and_back_and_restored_after_an_exception():
    w = _leaf([1.0])
    seen = []
    with cr.no_grad():
        seen.append((w * 2).requires_grad)
        with cr.enable_grad():
            seen.append((w * 2).requires_grad)
            with cr.no_grad():
                seen.append((w * 2).requires_grad)
            seen.append((w * 2).requires_grad)
        seen.append((w * 2).requires_grad)
    assert seen == [False, True, False, True, False]
    with pytest.raises(ZeroDivisionError), cr.no_grad():
        _ = 1 / 0
    assert cr.is_grad_enabled()


def test_no_grad_decorating_a_generator_applies_while_it_runs():
    # Before: the decorator entered and left no_grad when the generator object was made, so
    # the body recorded the graph.
    w = _leaf([1.0])

    @cr.no_grad()
    def gen():
        for _ in range(2):
            yield (w * 2).requires_grad

    it = gen()
    assert next(it) is False
    assert cr.is_grad_enabled() and (w * 2).requires_grad  # restored between steps
    assert next(it) is False
    assert list(it) == []
    assert cr.is_grad_enabled()

    @cr.enable_grad()
    def gen2():
        yield (w * 2).requires_grad

    with cr.no_grad():
        assert list(gen2()) == [True]
        assert not cr.is_grad_enabled()


def test_set_grad_enabled_as_a_plain_call_sets_the_mode():
    # Before: cr.set_grad_enabled(False) without `with` did nothing (PyTorch sets the mode).
    w = _leaf([1.0])
    try:
        cr.set_grad_enabled(False)
        assert not cr.is_grad_enabled() and not (w * 2).requires_grad
        cr.set_grad_enabled(True)
        assert cr.is_grad_enabled() and (w * 2).requires_grad
        with cr.set_grad_enabled(False):
            assert not cr.is_grad_enabled()
        assert cr.is_grad_enabled()

        @cr.set_grad_enabled(False)
        def f():
            return (w * 2).requires_grad

        assert cr.is_grad_enabled()  # decorating does not change the mode
        assert f() is False and cr.is_grad_enabled()
    finally:
        cr.set_grad_enabled(True)


# -- Tensor API ---------------------------------------------------------------------------------


def test_iterating_a_tensor_gives_rows_and_a_0d_tensor_raises():
    # Before: iterating a 0-d tensor silently gave an empty loop.
    t = _leaf([[1.0, 2.0], [3.0, 4.0]])
    rows = list(t)
    assert len(rows) == 2 and all(isinstance(r, cr.Tensor) for r in rows)
    np.testing.assert_array_equal(rows[1].data, [3.0, 4.0])
    (g,) = cr.grad(sum(r.sum() * float(k + 1) for k, r in enumerate(t)), [t])
    np.testing.assert_array_equal(g, [[1.0, 1.0], [2.0, 2.0]])
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        list(cr.tensor(1.0))
    with pytest.raises(TypeError, match="len"):
        len(cr.tensor(1.0))


def test_truth_value_item_and_len_of_multi_element_tensors():
    t = cr.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="ambiguous"):
        bool(t)
    with pytest.raises(ValueError, match=r"one element, received shape \(2,\)"):
        t.item()
    assert bool(cr.tensor([0.5])) and len(t) == 2 and float(cr.tensor([[3.0]])) == 3.0


@pytest.mark.parametrize(
    "bad",
    [1 + 2j, np.complex64(1j), np.array([1j, 2j]), [1j, 2.0]],
    ids=["py-complex", "np-complex-scalar", "complex-array", "complex-list"],
)
def test_complex_operands_raise_type_error(bad):
    # Before: a Python complex scalar passed straight through: x + 1j gave a complex64 tensor
    # that still recorded the graph.
    x = _leaf([1.0, 2.0])
    with pytest.raises(TypeError, match="complex"):
        x + bad  # noqa: B018
    with pytest.raises(TypeError, match="numeric"):
        cr.tensor(bad)


@pytest.mark.parametrize(
    "bad", ["abc", None, np.array([1, None], dtype=object), [[1.0], [2.0, 3.0]]]
)
def test_non_numeric_tensor_data_raises(bad):
    with pytest.raises((TypeError, ValueError)):
        cr.tensor(bad)


def test_requires_grad_only_on_float_data():
    with pytest.raises(TypeError, match="only float tensors can require grad"):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="only float tensors can require grad"):
        cr.tensor([1, 2]).requires_grad_()
    h = cr.tensor(np.array([1.0, 2.0], np.float16), requires_grad=True)
    (g,) = cr.grad(cr.exp(h).sum(), [h])
    assert g.dtype == np.float16
    np.testing.assert_allclose(g, np.exp(np.array([1.0, 2.0], np.float16)), rtol=1e-3)


def test_tensor_of_a_tensor_shares_data_and_drops_history():
    x = _leaf([1.0, 2.0])
    y = cr.tensor(x)
    assert y.data is x.data and not y.requires_grad and y.is_leaf
    d = x.detach()
    d.data[0] = 5.0  # documented: detach shares data
    assert x.data[0] == 5.0


def test_numpy_promotion_rules_nep50():
    x = _leaf([1.0, 2.0])
    assert (x * 2).dtype == np.float32 and (x * 2.5).dtype == np.float32  # Python numbers: weak
    assert (x * np.float32(2)).dtype == np.float32
    assert (x * np.float64(2)).dtype == np.float64  # NumPy scalars are strongly typed (NEP 50)
    assert (x + np.array([1.0, 2.0])).dtype == np.float64
    assert (np.array([1.0, 2.0]) + x).dtype == np.float64  # reflected operators keep the graph
    # the gradient still comes back in the leaf's dtype
    (g,) = cr.grad((np.float64(3.0) * x).sum(), [x])
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, [3.0, 3.0])
    u8 = cr.tensor(np.array([250, 5], np.uint8))
    assert (u8 + 10).dtype == np.uint8  # wraps, as NumPy and torch
    assert (u8 / 255).dtype == np.float64


def test_numpy_ufunc_on_a_tensor_that_requires_grad_raises():
    # Before: np.exp(x) silently returned an ndarray, cutting x out of the graph; wrapping it
    # again (cr.tensor(np.exp(x))) gave zero gradients with no error.
    x = _leaf([1.0, 2.0])
    with pytest.raises(TypeError, match=r"np\.exp.*chainrule\.exp"):
        np.exp(x)
    with pytest.raises(TypeError, match=r"np\.maximum"):
        np.maximum(x, 0)
    # no graph to lose: NumPy semantics, an ndarray back
    out = np.exp(x.detach())
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, np.exp(np.array([1.0, 2.0], np.float32)))
    with cr.no_grad():
        assert isinstance(np.sqrt(x), np.ndarray)
    assert isinstance(np.asarray(x), np.ndarray)  # explicit conversion stays allowed
    # NumPy operators with a Tensor on the right still dispatch to chainrule's ops
    y = np.array([2.0, 3.0], np.float32) * x + np.float32(1.0)
    assert isinstance(y, cr.Tensor) and y.requires_grad
    np.testing.assert_array_equal(cr.grad(y.sum(), [x])[0], [2.0, 3.0])
    assert isinstance(np.array([1.0]) < x, cr.Tensor)


def test_numpy_reductions_on_tensors_dispatch_to_our_ops():
    import chainrule as cr

    t = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    s = np.sum(t)
    assert isinstance(s, cr.Tensor) and s.item() == 10.0
    (g,) = cr.grad(np.mean(t, axis=0).sum(), [t])
    np.testing.assert_allclose(g, np.full((2, 2), 0.5))
