"""An LSTM that reads each scikit-learn 8x8 digit as a sequence of 8 rows of 8 pixels.

1,797 grey-scale 8x8 images (``sklearn.datasets.load_digits``), scaled to [0, 1] and split
80/20 with stratification and a fixed seed. Each image is a ``(steps=8, features=8)``
sequence; ``LSTM(units)`` reads it top to bottom and a ``Dense(10)`` classifies its last
state. Prints ``digits_lstm test accuracy: 0.9xxx``.

Run: ``python examples/digits_lstm.py`` (``DIGITS_LSTM_EPOCHS`` sets the epochs, default 20).
"""

from __future__ import annotations

import os
import sys

import chainrule
from chainrule import keras

# demo.py and the tests load this file by path: make its neighbour _common.py importable.
if os.path.dirname(os.path.abspath(__file__)) not in sys.path:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import load_digit_images, train_and_score  # noqa: E402

THRESHOLD = 0.93  # the test accuracy this example must reach (checked by its test)

def load_data(seed: int = 0):
    """``(x_train, y_train), (x_test, y_test)``: sequences ``(n, 8, 8)`` in [0, 1], int labels."""
    return load_digit_images(seed)  # (n, rows=steps, cols=features)


def build_model(units: int = 64) -> keras.Sequential:
    return keras.Sequential([
        keras.Input((8, 8)),
        keras.layers.LSTM(units),
        keras.layers.Dense(10),
    ])  # fmt: skip


def main(epochs: int | None = None, units: int = 64, seed: int = 0) -> float:
    """Train and return the test accuracy."""
    epochs = int(os.environ.get("DIGITS_LSTM_EPOCHS", 20)) if epochs is None else epochs
    chainrule.set_random_seed(seed)
    data = load_data(seed)
    return train_and_score(build_model(units), data, epochs, "digits_lstm")


if __name__ == "__main__":
    main()
