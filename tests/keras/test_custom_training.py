"""Custom training: fit, an overridden train_step, and loops written from scratch (cr.grad and
loss.backward()) reach the same weights; generators and PyDataset feed fit/evaluate/predict as
in Keras 3.15.1 (torch backend); the wide & deep example reaches its accuracy."""

import os
import re
import runpy
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr

from ._keras_ref import ck, tk

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RNG = np.random.default_rng(3)
X = RNG.normal(size=(30, 3)).astype("float32")
Y = (X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3).astype("float32")
BATCHES = [(X[i:i + 8], Y[i:i + 8]) for i in range(0, 30, 8)]
EPOCHS = 3


def _model(cls=None):
    cr.set_random_seed(0)
    x = ck.Input((3,))
    h = ck.layers.Dense(4, activation="tanh")(ck.layers.Dense(4, activation="relu")(x))
    out = ck.layers.Dense(1)(h)
    model = ck.Model(x, out)
    if cls is not None:  # the same graph in a subclass with a custom train_step
        sub = cls()
        sub.body = model
        return sub
    return model


class _StepModel(ck.Model):
    def call(self, x, training=None):
        return self.body(x, training=training)

    def train_step(self, data):
        x, y = data
        y_pred = self(x, training=True)
        loss = self.compute_loss(x, y, y_pred)
        grads = cr.grad(loss, self.trainable_weights)
        self.optimizer.apply(grads, self.trainable_weights)
        self._loss_tracker.update_state(loss, sample_weight=len(x))
        return {"loss": self._loss_tracker.result()}


def test_fit_custom_train_step_and_loops_from_scratch_reach_the_same_weights():
    fitted = _model()
    fitted.compile(optimizer=ck.optimizers.SGD(0.1), loss="mse")
    hist = fitted.fit(X, Y, batch_size=8, epochs=EPOCHS, shuffle=False, verbose=0)

    stepped = _model(_StepModel)
    stepped.compile(optimizer=ck.optimizers.SGD(0.1), loss="mse")
    hist_step = stepped.fit(X, Y, batch_size=8, epochs=EPOCHS, shuffle=False, verbose=0)

    scratch = _model()
    opt = ck.optimizers.SGD(0.1)
    loss_fn = ck.losses.MeanSquaredError()
    for _ in range(EPOCHS):
        for xb, yb in BATCHES:
            loss = loss_fn(yb, scratch(xb, training=True))
            grads = cr.grad(loss, scratch.trainable_weights)
            opt.apply(grads, scratch.trainable_weights)

    torch_style = _model()
    opt2 = ck.optimizers.SGD(0.1)
    for _ in range(EPOCHS):
        for xb, yb in BATCHES:
            for w in torch_style.trainable_weights:
                w.grad = None
            loss = loss_fn(yb, torch_style(xb, training=True))
            loss.backward()
            opt2.apply([w.grad for w in torch_style.trainable_weights],
                       torch_style.trainable_weights)

    ref = fitted.get_weights()
    assert not np.allclose(ref[0], _model().get_weights()[0])  # training moved the weights
    for other in (stepped, scratch, torch_style):
        for a, b in zip(ref, other.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(hist.history["loss"], hist_step.history["loss"], rtol=1e-6)


def test_fit_generator_matches_arrays():
    by_arrays = _model()
    by_arrays.compile(optimizer=ck.optimizers.SGD(0.1), loss="mse")
    h1 = by_arrays.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    by_gen = _model()
    by_gen.compile(optimizer=ck.optimizers.SGD(0.1), loss="mse")
    h2 = by_gen.fit((b for b in BATCHES), epochs=1, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-6)
    with pytest.raises(ValueError, match="`y` should not be passed"):
        by_gen.fit((b for b in BATCHES), Y, verbose=0)


def _py_dataset(base):
    class Batches(base):
        def __init__(self, x, y, batch_size, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y, self.batch_size = x, y, batch_size
            self.epochs_seen = 0

        def __len__(self):
            return -(-len(self.x) // self.batch_size)

        def __getitem__(self, i):
            s = slice(i * self.batch_size, (i + 1) * self.batch_size)
            return (self.x[s], self.y[s]) if self.y is not None else self.x[s]

        def on_epoch_end(self):
            self.epochs_seen += 1

    return Batches


def test_py_dataset_fit_evaluate_predict_match_keras():
    ours = _model()
    x = tk.Input((3,))
    h = tk.layers.Dense(4, activation="tanh")(tk.layers.Dense(4, activation="relu")(x))
    ref = tk.Model(x, tk.layers.Dense(1)(h))
    ref.set_weights(ours.get_weights())
    ours.compile(optimizer=ck.optimizers.Adam(0.02), loss="mse", metrics=["mae"])
    ref.compile(optimizer=tk.optimizers.Adam(0.02), loss="mse", metrics=["mae"])
    ds_ours = _py_dataset(ck.utils.PyDataset)(X, Y, 8)
    ds_ref = _py_dataset(tk.utils.PyDataset)(X, Y, 8)
    h1 = ours.fit(ds_ours, epochs=2, shuffle=False, verbose=0)
    h2 = ref.fit(ds_ref, epochs=2, shuffle=False, verbose=0)
    assert set(h1.history) == set(h2.history)
    for k in h2.history:
        np.testing.assert_allclose(h1.history[k], h2.history[k], rtol=1e-5, err_msg=k)
    assert ds_ours.epochs_seen == ds_ref.epochs_seen == 3  # (one on_epoch_end before training)
    np.testing.assert_allclose(ours.evaluate(ds_ours, verbose=0), ref.evaluate(ds_ref, verbose=0),
                               rtol=1e-5)
    xs_ours = _py_dataset(ck.utils.PyDataset)(X, None, 8)
    xs_ref = _py_dataset(tk.utils.PyDataset)(X, None, 8)
    np.testing.assert_allclose(ours.predict(xs_ours, verbose=0), ref.predict(xs_ref, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_py_dataset_shuffle_visits_every_batch_once():
    seen = []

    class Spy(ck.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            seen.append(i)
            return X[i * 8:(i + 1) * 8], Y[i * 8:(i + 1) * 8]

    m = _model()
    m.compile(optimizer="sgd", loss="mse")
    m.fit(Spy(), epochs=1, verbose=0)  # shuffle=True by default
    assert sorted(seen[-4:]) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="workers"):
        ck.utils.PyDataset(workers=0)


def test_wide_and_deep_example_reaches_accuracy():
    path = os.path.join(ROOT, "examples", "wide_and_deep.py")
    out = subprocess.run([sys.executable, path], capture_output=True, text=True, timeout=120,
                         check=True).stdout  # fmt: skip
    match = re.search(r"wide_and_deep test accuracy: (0\.\d{4})", out)
    assert match, out
    assert float(match.group(1)) >= 0.93
    assert callable(runpy.run_path(path)["build_model"])

