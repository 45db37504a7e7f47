"""Bad input gives a clear error naming the argument, the expectation and what was received."""

from __future__ import annotations

import re

import numpy as np
import pytest

import chainrule as cr


@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "divide", "maximum", "power"])
def test_binary_shape_mismatch_names_both_shapes(op):
    a, b = cr.tensor(np.ones((2, 3))), cr.tensor(np.ones((4,)))
    with pytest.raises(ValueError, match=rf"{op}.*\(2, 3\).*\(4,\)"):
        getattr(cr, op)(a, b)


def test_operator_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2,\)"):
        cr.tensor(np.ones((2, 3))) + np.ones(2)


@pytest.mark.parametrize("sa,sb", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 2, 3), (2, 2))])
def test_matmul_shape_mismatch_names_both_shapes(sa, sb):
    a, b = cr.tensor(np.ones(sa)), cr.tensor(np.ones(sb))
    with pytest.raises(ValueError, match=rf"matmul.*{re.escape(str(sa))}.*{re.escape(str(sb))}"):
        a @ b


def test_matmul_rejects_0d():
    with pytest.raises(ValueError, match=r"matmul.*rank"):
        cr.matmul(cr.tensor(2.0), cr.tensor([1.0]))


@pytest.mark.parametrize("bad,typename", [("a", "str"), (["a", "b"], "list"), ({1: 2}, "dict"),
                                          (object(), "object")])  # fmt: skip
def test_unsupported_type_names_op_and_type(bad, typename):
    t = cr.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=rf"add\(\).*{typename}"):
        cr.add(t, bad)
    with pytest.raises(TypeError, match=rf"multiply\(\).*{typename}"):
        t * bad
    with pytest.raises(TypeError, match=rf"exp\(\).*{typename}"):
        cr.exp(bad)


def test_backward_on_tensor_without_grad_says_so():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (cr.tensor([1.0, 2.0]) * 2).sum().backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.grad(cr.tensor(1.0) * 2, [cr.tensor(1.0)])


def test_backward_on_non_scalar_without_grad_says_so():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"non-scalar.*\(3,\)"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"grad has shape \(2,\).*\(3,\)"):
        (x * 2).backward(np.ones(2))
    (x * 2).backward(np.ones(3))  # with the upstream gradient it works
    np.testing.assert_array_equal(x.grad, [2, 2, 2])


def test_bad_split_and_reduction_arguments():
    with pytest.raises(ValueError, match="3 sections.*length 4"):
        cr.split(cr.tensor(np.ones(4)), 3)
    with pytest.raises(ValueError, match="ord="):
        cr.norm(cr.tensor([1.0]), ord=3)
    with pytest.raises(ValueError, match=r"label 5 .*\[0, 3\)"):
        cr.sparse_softmax_cross_entropy(np.array([5]), np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match=r"label -1 .*\[0, 3\)"):
        cr.one_hot(np.array([-1]), 3)
