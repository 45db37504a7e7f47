"""SGD's update of every variable in one loop (``SGD._sgd_steps``): a subclass's own
``update_step`` is still called per variable, ``update_step`` called directly is the same
rule, and variables of different dtypes each get the constants of their own dtype."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
import pytest

from chainrule import keras as crk
from chainrule.keras.variables import Variable


def _fit(k, optimizer, x, y, init):
    model = k.Sequential([k.Input((3,)), k.layers.Dense(2)])
    model.compile(optimizer=optimizer, loss="mse")
    model.set_weights(init)
    model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0)
    return [np.asarray(w) for w in model.get_weights()]


@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.9}, {"momentum": 0.5, "nesterov": True}])
def test_a_subclass_update_step_runs_in_fit_as_in_keras(kwargs):
    # Keras calls update_step once per variable; a subclass that changes it is honoured
    def doubled(base):
        class Doubled(base):
            def update_step(self, gradient, variable, learning_rate):
                super().update_step(gradient * 2, variable, learning_rate)

        return Doubled(learning_rate=0.05, **kwargs)

    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 3)).astype("float32")
    y = rng.standard_normal((12, 2)).astype("float32")
    init = [rng.standard_normal((3, 2)).astype("float32"), np.zeros(2, "float32")]
    ours = _fit(crk, doubled(crk.optimizers.SGD), x, y, init)
    ref = _fit(keras, doubled(keras.optimizers.SGD), x, y, init)
    plain = _fit(crk, crk.optimizers.SGD(learning_rate=0.05, **kwargs), x, y, init)
    for a, b, c in zip(ours, ref, plain):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
        assert not np.allclose(a, c)  # the override changed the result


@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True}])
def test_update_step_called_directly_is_the_loop_for_one_variable(kwargs):
    rng = np.random.default_rng(1)
    start = [rng.standard_normal(s).astype("float32") for s in ((3, 2), (2,))]
    grads = [[rng.standard_normal(w.shape).astype("float32") for w in start] for _ in range(3)]
    one, loop = ([Variable(w.copy()) for w in start] for _ in range(2))
    a, b = crk.optimizers.SGD(0.1, **kwargs), crk.optimizers.SGD(0.1, **kwargs)
    a.build(one)
    for gs in grads:
        for g, v in zip(gs, one):
            a.update_step(g, v, a.learning_rate)
        b.apply(gs, loop)
    for u, v in zip(one, loop):
        assert np.array_equal(u.numpy(), v.numpy())


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_each_dtype_gets_its_own_constants(momentum):
    # float32, float64, float32: the learning rate and momentum are rounded to each
    # variable's dtype, as w - lr*g (and the momentum form) computed in that dtype
    rng = np.random.default_rng(2)
    dtypes = ["float32", "float64", "float32"]
    start = [rng.standard_normal(4).astype(dt) for dt in dtypes]
    grads = [rng.standard_normal(4).astype(dt) for dt in dtypes]
    vs = [Variable(w.copy(), dtype=w.dtype) for w in start]
    opt = crk.optimizers.SGD(learning_rate=0.1, momentum=momentum)
    opt.apply(grads, vs)
    for v, w, g in zip(vs, start, grads):
        t = w.dtype.type
        m = t(momentum) * np.zeros_like(w) - t(np.float32(0.1)) * g
        expected = w + m if momentum else w - t(np.float32(0.1)) * g
        assert v.numpy().dtype == w.dtype
        assert np.array_equal(v.numpy(), expected)
