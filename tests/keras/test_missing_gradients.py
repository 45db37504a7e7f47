"""Variables the loss does not depend on get no gradient, as on Keras's torch backend: the
optimizer skips them with Keras's warning ("Gradients do not exist for variables ..."), so
momentum and weight decay do not move them (a zero gradient would)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras as tk  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import keras as ck  # noqa: E402

RNG = np.random.default_rng(4)
X = RNG.standard_normal((12, 3)).astype("float32")
Y = RNG.standard_normal((12, 1)).astype("float32")


def _two_heads(k):
    inp = k.Input((3,), name="x")
    a = k.layers.Dense(1, name="a")(inp)
    b = k.layers.Dense(1, name="b")(inp)
    return k.Model(inp, {"a": a, "b": b})


WEIGHTS = [RNG.uniform(-1, 1, shape).astype("float32") for shape in [(3, 1), (1,)] * 2]


def _fit(k, optimizer):
    model = _two_heads(k)
    weights = [w.copy() for w in WEIGHTS]
    model.set_weights(weights)
    model.compile(optimizer=optimizer(k), loss={"a": "mse"})
    with pytest.warns(UserWarning, match="Gradients do not exist for variables") as record:
        model.fit(X, {"a": Y, "b": Y}, epochs=2, batch_size=4, verbose=0, shuffle=False)
    message = next(str(w.message) for w in record if "Gradients do not exist" in str(w.message))
    return weights, model.get_weights(), message


@pytest.mark.parametrize("optimizer", [lambda k: k.optimizers.AdamW(0.05, weight_decay=0.5),
                                       lambda k: k.optimizers.SGD(0.05, momentum=0.9)])
def test_a_head_without_a_loss_is_left_alone_as_in_keras(optimizer):
    start, ours, message = _fit(ck, optimizer)
    _, theirs, their_message = _fit(tk, optimizer)
    assert message == their_message  # the same variables, named by path
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    names = [w.path for w in _two_heads(ck).weights]
    for name, before, after in zip(names, start, ours, strict=True):
        if name.startswith("b/"):
            np.testing.assert_array_equal(before, after)  # not decayed, not moved


def test_grad_reports_the_inputs_it_does_not_reach():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    unused = cr.tensor([3.0], requires_grad=True)
    missing = []
    gx, gu = cr.grad((x * x).sum(), [x, unused], missing=missing)
    assert missing == [1]
    np.testing.assert_array_equal(gx, [2.0, 4.0])
    np.testing.assert_array_equal(gu, [0.0])
    missing = []
    cr.grad([(x * 2).sum(), (x * x).sum()], [unused, x], missing=missing)  # several outputs
    assert missing == [0]
