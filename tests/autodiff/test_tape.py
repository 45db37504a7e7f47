"""``autodiff.tape.ArrayTape``: a chain of primitives on arrays gives the graph's values and
gradients bit for bit (the graph's own ``grad`` is the reference; it is checked against finite
differences and torch elsewhere), including gradients that add up and broadcast arguments."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import ops
from chainrule.autodiff.engine import owned_results, scalar_seed
from chainrule.autodiff.tape import ArrayTape

RNG = np.random.default_rng(0)


def leaf(*shape):
    return cr.tensor(RNG.standard_normal(shape).astype("float32"), requires_grad=True)


def chain_both(x, steps, leaves):
    """Run ``steps`` (``(primitive, args builder)``: the builder takes the chain's value) as a
    graph and on a tape, each ending in a scalar; return both results' values and gradients."""
    h = x
    for primitive, build in steps:
        h = primitive(*build(h))
    graph = (h.data, cr.grad(h, leaves))

    tape = ArrayTape()
    a, a_grad = x, False
    for primitive, build in steps:
        slot = a
        a, a_grad = tape.apply(primitive, build(slot), {}, slot, a, a_grad)
    seed = scalar_seed(a.dtype)
    found = tape.backward(seed)
    return graph, (a, owned_results(leaves, [id(t) for t in leaves], found, seed))


def assert_same(graph, taped):
    np.testing.assert_array_equal(graph[0], taped[0])
    assert graph[0].dtype == taped[0].dtype
    for g1, g2 in zip(graph[1], taped[1]):
        np.testing.assert_array_equal(g1, g2)
        assert g1.dtype == g2.dtype and g1.shape == g2.shape


def test_a_weight_used_twice_adds_up_as_in_the_engine():
    x = RNG.standard_normal((5, 4)).astype("float32")
    w, b = leaf(4, 4), leaf(4)
    steps = [
        (ops.dense, lambda h: (h, w, b)),
        (ops.tanh, lambda h: (h,)),
        (ops.dense, lambda h: (h, w, b)),  # the same kernel and bias again
        (ops.mean, lambda h: (h,)),
    ]
    assert_same(*chain_both(x, steps, [w, b]))


def test_a_broadcast_argument_is_summed_back_to_its_shape():
    x = RNG.standard_normal((6, 3)).astype("float32")
    scale, shift = leaf(1, 3), leaf()
    steps = [
        (ops.multiply, lambda h: (h, scale)),
        (ops.add, lambda h: (shift, h)),
        (ops.sum, lambda h: (h,)),
    ]
    assert_same(*chain_both(x, steps, [scale, shift]))


def test_the_chain_value_used_twice_in_one_op():
    x = leaf(3, 2)
    steps = [
        (ops.multiply, lambda h: (h, h)),
        (ops.reshape, lambda h: (h, (6,))),
        (ops.sum, lambda h: (h,)),
    ]
    graph, taped = chain_both(x.data, [(ops.multiply, lambda h: (h, x))] + steps, [x])
    assert_same(graph, taped)


def test_no_gradient_flows_back_through_a_constant_start():
    x = RNG.standard_normal((4, 3)).astype("float32")
    w = leaf(3, 2)
    tape = ArrayTape()
    h, needs = tape.apply(ops.reshape, (x, (12,)), {}, x, x, False)
    assert not needs and not tape.records
    h, needs = tape.apply(ops.reshape, (h, (4, 3)), {}, h, h, False)
    h, needs = tape.apply(ops.matmul, (h, w), {}, h, h, False)
    assert needs
    h, needs = tape.apply(ops.sum, (h,), {}, h, h, True)
    found = tape.backward(scalar_seed(h.dtype))
    assert list(found) == [id(w)]
    np.testing.assert_array_equal(found[id(w)], cr.grad(ops.sum(ops.matmul(x, w)), [w])[0])


def test_an_op_without_a_gradient_rule_raises_as_the_graph_does():
    from chainrule.autodiff.primitive import primitive

    @primitive
    def double(a):
        return a * 2

    w = leaf(3)
    with pytest.raises(NotImplementedError, match="no gradient rule"):
        double(w)
    with pytest.raises(NotImplementedError, match="no gradient rule"):
        ArrayTape().apply(double, (w,), {}, None, None, False)


def test_a_recorded_graph_application_backpropagates_as_in_the_engine():
    # ArrayTape.record takes a graph node's op, out, args and kwargs (fit's array step does
    # so for a loss's per-sample values) and runs its rule in the backward
    from chainrule.autodiff.tensor import Tensor

    x = RNG.standard_normal((5, 3)).astype("float32")
    w = leaf(3)
    labels = np.eye(3, dtype="float32")[[0, 2, 1, 1, 0]]
    want = cr.grad(ops.mean(ops.softmax_cross_entropy(labels, ops.multiply(x, w))), [w])[0]

    tape = ArrayTape()
    h, needs = tape.apply(ops.multiply, (x, w), {}, x, x, False)
    y_pred = Tensor._wrap(h, needs)
    rows = ops.softmax_cross_entropy(labels, y_pred)  # a graph node on the chain's value
    node = rows._node
    tape.record(node.op, node.parents[0][0], node.out, node.args, node.kwargs)
    loss, _ = tape.apply(ops.mean, (rows.data,), {}, rows.data, rows.data, True)
    seed = scalar_seed(loss.dtype)
    got = owned_results([w], [id(w)], tape.backward(seed), seed)[0]
    np.testing.assert_array_equal(got, want)
