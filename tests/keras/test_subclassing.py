"""Subclassed models and layers against real Keras 3.15.1 (torch backend): attribute tracking
(plain, lists, dicts), build on first call, custom layers in all three model styles, and a
custom train_step giving Keras's history."""

import numpy as np
import pytest
import torch

import chainrule as cr

from ._keras_ref import ck, tk

RNG = np.random.default_rng(11)
X = RNG.normal(size=(37, 4)).astype("float32")
Y = RNG.normal(size=(37, 1)).astype("float32")


def _scale_layer(k):
    class Scale(k.layers.Layer):
        """y = x * gamma + beta, then a Keras-ops nonlinearity."""

        def __init__(self, activation="tanh", **kwargs):
            super().__init__(**kwargs)
            self.activation_name = activation

        def build(self, input_shape):
            self.gamma = self.add_weight(shape=(input_shape[-1],), initializer="ones",
                                         name="gamma")
            self.beta = self.add_weight(shape=(input_shape[-1],), initializer="zeros",
                                        name="beta")

        def call(self, inputs):
            h = k.ops.add(k.ops.multiply(inputs, self.gamma), self.beta)
            return k.ops.tanh(h) if self.activation_name == "tanh" else k.ops.relu(h)

        def get_config(self):
            return {**super().get_config(), "activation": self.activation_name}

    return Scale


def _subclass_model(k):
    Scale = _scale_layer(k)

    class Net(k.Model):
        def __init__(self):
            super().__init__()
            self.blocks = [k.layers.Dense(6, activation="relu"), Scale()]
            self.heads = {"main": k.layers.Dense(1)}
            self.dropout = k.layers.Dropout(0.5)

        def call(self, inputs, training=None):
            h = inputs
            for block in self.blocks:
                h = block(h)
            return self.heads["main"](self.dropout(h, training=False))

    return Net()


def _same_weights(ours, ref, seed=0):
    rng = np.random.default_rng(seed)
    ws = [rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in ours.get_weights()]
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in ref.get_weights()]
    ours.set_weights(ws)
    ref.set_weights(ws)


def test_subclassed_model_tracks_lists_and_dicts_and_builds_on_first_call():
    ours, ref = _subclass_model(ck), _subclass_model(tk)
    assert not ours.built and ours.weights == []
    ours(X[:2])
    ref(X[:2])
    assert ours.built
    assert len(ours.trainable_weights) == len(ref.trainable_weights) == 6
    _same_weights(ours, ref)
    np.testing.assert_allclose(ours(X).numpy(), ref(X).detach().numpy(), rtol=1e-5, atol=1e-6)
    for m, opt in ((ours, ck.optimizers.Adam(0.01)), (ref, tk.optimizers.Adam(0.01))):
        m.compile(optimizer=opt, loss="mse")
    h1 = ours.fit(X, Y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    h2 = ref.fit(X, Y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-5)


@pytest.mark.parametrize("style", ["sequential", "functional", "subclass"])
def test_custom_layer_in_every_model_style_matches_keras(style):
    def build(k):
        Scale = _scale_layer(k)
        if style == "sequential":
            return k.Sequential([k.Input((4,)), Scale(name="scale"), k.layers.Dense(1)])
        if style == "functional":
            x = k.Input((4,))
            return k.Model(x, k.layers.Dense(1)(Scale(name="scale")(x)))

        class M(k.Model):
            def __init__(self):
                super().__init__()
                self.scale, self.out = Scale(name="scale"), k.layers.Dense(1)

            def call(self, x):
                return self.out(self.scale(x))

        m = M()
        m(X[:1])
        return m

    ours, ref = build(ck), build(tk)
    _same_weights(ours, ref, seed=3)
    for m, opt in ((ours, ck.optimizers.SGD(0.1)), (ref, tk.optimizers.SGD(0.1))):
        m.compile(optimizer=opt, loss="mse")
    h1 = ours.fit(X, Y, epochs=2, batch_size=10, shuffle=False, verbose=0)
    h2 = ref.fit(X, Y, epochs=2, batch_size=10, shuffle=False, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(ours.predict(X, verbose=0), ref.predict(X, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_custom_layer_get_config_round_trip():
    Scale = _scale_layer(ck)
    layer = Scale(activation="relu", name="s")
    cfg = layer.get_config()
    assert cfg["activation"] == "relu" and cfg["name"] == "s"
    clone = Scale.from_config(cfg)
    assert clone.activation_name == "relu" and clone.name == "s"
    out = clone(np.array([[-1.0, 2.0]], "float32"))
    np.testing.assert_array_equal(out.numpy(), [[0.0, 2.0]])
    assert [w.path for w in clone.weights] == ["s/gamma", "s/beta"]


def _custom_step_model(k, backend):
    class CustomModel(k.Model):
        def __init__(self):
            super().__init__()
            self.hidden = k.layers.Dense(5, activation="tanh")
            self.out = k.layers.Dense(1)

        def call(self, x, training=None):
            return self.out(self.hidden(x))

        def train_step(self, data):  # Keras's guide "Customizing what happens in fit()"
            x, y = data
            if backend != "chainrule":
                self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            weights = self.trainable_weights
            if backend == "torch":
                loss.backward()
                grads = [v.value.grad for v in weights]
                with torch.no_grad():
                    self.optimizer.apply(grads, weights)
            elif backend == "chainrule, backward":  # the torch form: a weight holds its .grad
                loss.backward()
                with cr.no_grad():
                    self.optimizer.apply([v.grad for v in weights], weights)
            else:
                self.optimizer.apply(cr.grad(loss, weights), weights)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    m = CustomModel()
    m(X[:1])
    return m


@pytest.mark.parametrize("form", ["chainrule", "chainrule, backward"])
def test_custom_train_step_matches_keras_history(form):
    # cr.grad, or the guide's torch form (zero_grad, backward, each weight's .grad)
    ours, ref = _custom_step_model(ck, form), _custom_step_model(tk, "torch")
    _same_weights(ours, ref, seed=5)
    ours.compile(optimizer=ck.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    ref.compile(optimizer=tk.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    h1 = ours.fit(X, Y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    h2 = ref.fit(X, Y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert list(h1.history) == list(h2.history) == ["mae", "loss"]  # (Keras's order)
    for key in h2.history:  # the loss tracker here averages batch means, as Keras's does
        np.testing.assert_allclose(h1.history[key], h2.history[key], rtol=1e-5, err_msg=key)
    for a, b in zip(ours.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert ours.metrics_names == ref.metrics_names == ["loss", "compile_metrics"]
