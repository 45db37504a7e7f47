"""What the digits examples share: the 8x8 images split the same way, and the same training run.

``digits_cnn.py`` and ``digits_lstm.py`` read the images as ``(8, 8, 1)`` pictures and as
sequences of 8 rows; both train with Adam and sparse categorical cross-entropy from logits and
score by the test accuracy of ``argmax(predict)``.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from chainrule import keras


def load_digit_images(seed: int = 0):
    """``(x_train, y_train), (x_test, y_test)``: scikit-learn's 1,797 images ``(n, 8, 8)``
    scaled to [0, 1] (float32) and int64 labels, split 80/20, stratified, with ``seed``."""
    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")
    y = digits.target.astype("int64")
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y, random_state=seed)
    return (x_tr, y_tr), (x_te, y_te)


def train_and_score(model, data, epochs: int, name: str) -> float:
    """Compile ``model`` (Adam(1e-2), sparse categorical cross-entropy from logits), fit it on
    ``data``'s training half for ``epochs`` (batch 32, silent), print the time and
    ``<name> test accuracy: 0.xxxx``, and return that accuracy."""
    (x_tr, y_tr), (x_te, y_te) = data
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    start = time.perf_counter()
    model.fit(x_tr, y_tr, epochs=epochs, batch_size=32, verbose=0)
    seconds = time.perf_counter() - start
    pred = model.predict(x_te, verbose=0).argmax(axis=-1)
    accuracy = float(np.mean(pred == y_te))
    print(f"trained {epochs} epochs in {seconds:.1f} s")
    print(f"{name} test accuracy: {accuracy:.4f}")
    return accuracy
