"""An LSTM that reads each scikit-learn 8x8 digit as a sequence of 8 rows of 8 pixels.

1,797 grey-scale 8x8 images (``sklearn.datasets.load_digits``), scaled to [0, 1] and split
80/20 with stratification and a fixed seed. Each image is a ``(steps=8, features=8)``
sequence; ``LSTM(units)`` reads it top to bottom and a ``Dense(10)`` classifies its last
state. Prints ``digits_lstm test accuracy: 0.9xxx``.

Run: ``python examples/digits_lstm.py`` (``DIGITS_LSTM_EPOCHS`` sets the epochs, default 20).
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
    """``(x_train, y_train), (x_test, y_test)``: sequences ``(n, 8, 8)`` in [0, 1], int labels."""
    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")  # (n, rows=steps, cols=features)
    y = digits.target.astype("int64")
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y, random_state=seed)
    return (x_tr, y_tr), (x_te, y_te)


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
    (x_tr, y_tr), (x_te, y_te) = load_data(seed)
    model = build_model(units)
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    start = time.perf_counter()
    model.fit(x_tr, y_tr, epochs=epochs, batch_size=32, verbose=0)
    seconds = time.perf_counter() - start
    pred = model.predict(x_te, verbose=0).argmax(axis=-1)
    accuracy = float(np.mean(pred == y_te))
    print(f"trained {epochs} epochs in {seconds:.1f} s")
    print(f"digits_lstm test accuracy: {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
