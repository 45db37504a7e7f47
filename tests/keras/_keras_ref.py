"""Helpers for parity tests against real Keras 3 (torch backend)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras as tk  # noqa: E402  (real Keras, the reference)
import numpy as np  # noqa: E402

from chainrule import keras as ck  # noqa: E402


def build_pair(spec, input_dim, seed=0):
    """The same Dense stack in chainrule and real Keras, with identical initial weights.

    ``spec`` is a list of ``(units, activation, extra_kwargs)``.
    """
    ours = ck.Sequential([ck.Input((input_dim,))] + [
        ck.layers.Dense(u, activation=a, **kw) for u, a, kw in spec])
    ref = tk.Sequential([tk.Input((input_dim,))] + [
        tk.layers.Dense(u, activation=a, **kw) for u, a, kw in spec])
    rng = np.random.default_rng(seed)
    weights = [rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in ours.get_weights()]
    ours.set_weights(weights)
    ref.set_weights(weights)
    return ours, ref


def assert_history_close(h_ours, h_ref, rtol=1e-5, atol=1e-6):
    assert set(h_ours.history) == set(h_ref.history), (h_ours.history, h_ref.history)
    for key in h_ref.history:
        np.testing.assert_allclose(h_ours.history[key], h_ref.history[key], rtol=rtol,
                                   atol=atol, err_msg=key)


def assert_weights_close(ours, ref, rtol=1e-5, atol=1e-6):
    for a, b in zip(ours.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=rtol, atol=atol)
