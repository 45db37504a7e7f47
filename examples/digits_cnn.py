"""A small CNN on scikit-learn's 8x8 digits, trained with chainrule's Keras API.

1,797 grey-scale 8x8 images (``sklearn.datasets.load_digits``), scaled to [0, 1] and split
80/20 with stratification and a fixed seed. Prints ``digits_cnn test accuracy: 0.9xxx``.

Run: ``python examples/digits_cnn.py`` (``DIGITS_CNN_EPOCHS`` sets the epochs, default 10).
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

THRESHOLD = 0.97  # the test accuracy this example must reach (checked by its test)

def load_data(seed: int = 0):
    """``(x_train, y_train), (x_test, y_test)``: images ``(n, 8, 8, 1)`` in [0, 1], int labels."""
    (x_tr, y_tr), (x_te, y_te) = load_digit_images(seed)
    return (x_tr[..., None], y_tr), (x_te[..., None], y_te)


def build_model() -> keras.Sequential:
    layers = keras.layers
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(10),
    ])  # fmt: skip


def main(epochs: int | None = None, seed: int = 0) -> float:
    """Train and return the test accuracy."""
    epochs = int(os.environ.get("DIGITS_CNN_EPOCHS", 10)) if epochs is None else epochs
    chainrule.set_random_seed(seed)
    data = load_data(seed)
    return train_and_score(build_model(), data, epochs, "digits_cnn")


if __name__ == "__main__":
    main()
