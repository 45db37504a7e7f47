"""A small CNN on scikit-learn's 8x8 digits, trained with chainrule's Keras API.

1,797 grey-scale 8x8 images (``sklearn.datasets.load_digits``), scaled to [0, 1] and split
80/20 with stratification and a fixed seed. Prints ``digits_cnn test accuracy: 0.9xxx``.

Run: ``python examples/digits_cnn.py`` (``DIGITS_CNN_EPOCHS`` sets the epochs, default 10).
"""

from __future__ import annotations

import os
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import chainrule
from chainrule import keras


def load_data(seed: int = 0):
    """``(x_train, y_train), (x_test, y_test)``: images ``(n, 8, 8, 1)`` in [0, 1], int labels."""
    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    y = digits.target.astype("int64")
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y, random_state=seed)
    return (x_tr, y_tr), (x_te, y_te)


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
    (x_tr, y_tr), (x_te, y_te) = load_data(seed)
    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    start = time.perf_counter()
    model.fit(x_tr, y_tr, epochs=epochs, batch_size=32, verbose=0)
    seconds = time.perf_counter() - start
    pred = model.predict(x_te, verbose=0).argmax(axis=-1)
    accuracy = float(np.mean(pred == y_te))
    print(f"trained {epochs} epochs in {seconds:.1f} s")
    print(f"digits_cnn test accuracy: {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
