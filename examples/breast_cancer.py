"""Breast cancer: binary classification with a sigmoid output, with chainrule's Keras API.

569 real tumour measurements (30 features each) labelled malignant (0) or benign (1)
(``sklearn.datasets.load_breast_cancer``), split 80/20 with stratification and a fixed seed,
features standardised on the training set. One hidden layer, a sigmoid output, binary
cross-entropy and Adam, EarlyStopping on ``val_loss``. Prints
``breast_cancer test accuracy: 0.9xxx`` (the bar is 0.95) and writes the curves to ``out/``.

Run: ``python examples/breast_cancer.py``.
"""

from __future__ import annotations

import os
import time

import matplotlib
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from chainrule import keras

matplotlib.use("Agg")  # files only: works on servers and in CI without a display

THRESHOLD = 0.95
SEED = 0


def load_data(seed: int = SEED):
    """``(x_train, y_train), (x_test, y_test)``: standardised float32 features, 0/1 labels."""
    x, y = load_breast_cancer(return_X_y=True)
    x, y = x.astype("float32"), y.astype("float32")
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y, random_state=seed)
    # The features range from 1e-3 to 4e3: standardise with training statistics only.
    mean, std = x_tr.mean(axis=0), x_tr.std(axis=0)
    return ((x_tr - mean) / std, y_tr), ((x_te - mean) / std, y_te)


def build_model() -> keras.Sequential:
    return keras.Sequential([
        keras.Input((30,)),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])  # fmt: skip


def main(epochs: int | None = None, verbose: int | str = 1, out_dir: str | None = "out",
         seed: int = SEED) -> dict:  # fmt: skip
    """Train, evaluate on the held-out 20 % and return the metrics.

    Args:
        epochs: the most epochs to train (default 60; EarlyStopping usually stops sooner).
        verbose: passed to ``fit`` (1: progress bars, 2: one line per epoch, 0: silent).
        out_dir: where the PNG goes (default "out"; None writes none).
        seed: the seed of the split and of every random draw (default 0).

    Returns:
        ``{"test_accuracy", "test_loss", "epochs_run", "seconds", "plots"}``.
    """
    epochs = 60 if epochs is None else epochs
    keras.utils.set_random_seed(seed)
    (x_tr, y_tr), (x_te, y_te) = load_data(seed)
    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3),
                  loss="binary_crossentropy", metrics=["accuracy"])  # fmt: skip
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=5,
                                         restore_best_weights=True)  # fmt: skip
    start = time.perf_counter()
    history = model.fit(x_tr, y_tr, batch_size=32, epochs=epochs, validation_split=0.15,
                        callbacks=[stop], verbose=verbose)  # fmt: skip
    seconds = time.perf_counter() - start
    test_loss, test_acc = model.evaluate(x_te, y_te, verbose=0)
    # Keras's "accuracy" for one sigmoid unit thresholds the probability at 0.5: check it.
    p = model.predict(x_te, verbose=0).ravel()
    assert abs(float(np.mean((p > 0.5) == y_te)) - test_acc) < 1e-6, test_acc
    plots = []
    if out_dir is not None:
        import matplotlib.pyplot as plt

        path = os.path.join(out_dir, "breast_cancer_history.png")
        plt.close(keras.utils.plot_history(history, path=path, metrics=["loss", "accuracy"]))
        plots.append(path)
    print(f"breast_cancer test accuracy: {test_acc:.4f}")
    return {"test_accuracy": float(test_acc), "test_loss": float(test_loss),
            "epochs_run": len(history.history["loss"]), "seconds": seconds,
            "plots": plots}  # fmt: skip


if __name__ == "__main__":
    from threadpoolctl import threadpool_limits

    # NOTE: one BLAS thread: on a busy 2-core machine OpenBLAS's threads make small matmuls
    # many times slower than one thread does.
    with threadpool_limits(limits=1, user_api="blas"):
        result = main()
    raise SystemExit(0 if result["test_accuracy"] >= THRESHOLD else 1)
