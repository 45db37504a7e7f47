"""The logged loss: ``LossTracker`` against Keras 3.15.1's ``Mean`` metric, which ``fit`` and
``evaluate`` use for it (float32 running sums, not float64)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras as tk  # noqa: E402
import numpy as np  # noqa: E402

from chainrule.keras.trainers.compile_utils import LossTracker  # noqa: E402


def test_the_running_mean_is_kerass_to_the_last_digit():
    rng = np.random.default_rng(0)
    # large losses over many batches, where float64 and float32 sums part in the last digits
    losses = (rng.random(200) * 5000).astype("float32")
    sizes = rng.integers(1, 65, 200)
    ours, ref = LossTracker(), tk.metrics.Mean()
    for value, n in zip(losses, sizes):
        ours.update_state(value, sample_weight=int(n))
        ref.update_state(value, sample_weight=int(n))
        assert ours.result() == float(ref.result())
    float64 = float(np.sum(losses.astype("float64") * sizes) / sizes.sum())
    assert ours.result() != float64  # the case the float32 sums are for


def test_weights_default_to_one_and_reset_empties():
    ours, ref = LossTracker(), tk.metrics.Mean()
    for value in (0.1, 0.2, 0.7):
        ours.update_state(np.float32(value))
        ref.update_state(np.float32(value))
    assert ours.result() == float(ref.result())
    ours.reset_state()
    assert ours.result() == 0.0 and ours.count == 0
