"""Diabetes: regression with a small network, scored against scikit-learn's LinearRegression.

442 real patients, 10 baseline measurements each, and a measure of disease progression one
year later (``sklearn.datasets.load_diabetes``), split 80/20 with a fixed seed. Inputs and
target are standardised with training statistics; the network is one tanh layer of 32 units
with L2 weight decay, trained full-batch with Adam on the mean squared error. Prints the test
MSE next to ``LinearRegression``'s on the same split; the network must do at least as well.

Run: ``python examples/diabetes.py``.
"""

from __future__ import annotations

import os
import time

import matplotlib
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split

from chainrule import keras

matplotlib.use("Agg")  # files only: works on servers and in CI without a display

SEED = 0


def load_data(seed: int = SEED):
    """``(x_train, y_train), (x_test, y_test)``: raw float32 features and targets."""
    x, y = load_diabetes(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x.astype("float32"), y.astype("float32"), test_size=0.2, random_state=seed
    )
    return (x_tr, y_tr), (x_te, y_te)


def build_model() -> keras.Sequential:
    # Diabetes is nearly linear and small (353 training rows): a narrow smooth layer with
    # weight decay generalises a little better than the unregularised least-squares fit.
    l2 = keras.regularizers.L2(0.03)
    return keras.Sequential([
        keras.Input((10,)),
        keras.layers.Dense(32, activation="tanh", kernel_regularizer=l2),
        keras.layers.Dense(1, kernel_regularizer=l2),
    ])  # fmt: skip


def _every(n: int, epochs: int):
    """A callback printing a Keras-style line every ``n`` epochs (300 lines would be noise)."""

    def on_epoch_end(epoch, logs):
        if (epoch + 1) % n == 0 or epoch + 1 == epochs:
            print(f"Epoch {epoch + 1}/{epochs} - loss: {logs['loss']:.4f}")

    return keras.callbacks.LambdaCallback(on_epoch_end=on_epoch_end)


def main(epochs: int | None = None, verbose: int | str = 1, out_dir: str | None = "out",
         seed: int = SEED) -> dict:  # fmt: skip
    """Train, compare with ``LinearRegression`` on the same split, and return both MSEs.

    Args:
        epochs: full-batch epochs (default 300).
        verbose: 0 silent; otherwise a loss line every 50 epochs.
        out_dir: where the PNGs go (default "out"; None writes none).
        seed: the seed of the split and of every random draw (default 0).

    Returns:
        ``{"test_mse", "linear_regression_mse", "seconds", "plots"}``, both MSEs in the
        target's original units.
    """
    epochs = 300 if epochs is None else epochs
    keras.utils.set_random_seed(seed)
    (x_tr, y_tr), (x_te, y_te) = load_data(seed)
    baseline = LinearRegression().fit(x_tr, y_tr)
    linear_mse = float(np.mean((baseline.predict(x_te) - y_te) ** 2))

    x_mean, x_std = x_tr.mean(axis=0), x_tr.std(axis=0)
    y_mean, y_std = float(y_tr.mean()), float(y_tr.std())
    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2), loss="mse")
    callbacks = [_every(50, epochs)] if verbose else []
    start = time.perf_counter()
    history = model.fit((x_tr - x_mean) / x_std, (y_tr - y_mean) / y_std,
                        batch_size=len(x_tr), epochs=epochs, callbacks=callbacks,
                        verbose=0)  # fmt: skip
    seconds = time.perf_counter() - start
    pred = model.predict((x_te - x_mean) / x_std, verbose=0).ravel() * y_std + y_mean
    test_mse = float(np.mean((pred - y_te) ** 2))

    plots = []
    if out_dir is not None:
        import matplotlib.pyplot as plt

        from chainrule.keras.utils.plotting import save_figure

        path = os.path.join(out_dir, "diabetes_history.png")
        plt.close(keras.utils.plot_history(history, path=path))
        plots.append(path)
        fig, ax = plt.subplots(figsize=(4.5, 4.5))
        ax.scatter(y_te, baseline.predict(x_te), s=12, marker="x", label="LinearRegression")
        ax.scatter(y_te, pred, s=12, label="chainrule network")
        lo, hi = float(y_te.min()), float(y_te.max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        ax.set(xlabel="true progression", ylabel="predicted", title="diabetes, test set")
        ax.legend()
        fig.tight_layout()
        path = os.path.join(out_dir, "diabetes_predictions.png")
        save_figure(fig, path)
        plt.close(fig)
        plots.append(path)
    print(f"diabetes test MSE: {test_mse:.1f} (LinearRegression: {linear_mse:.1f})")
    return {"test_mse": test_mse, "linear_regression_mse": linear_mse, "seconds": seconds,
            "plots": plots}  # fmt: skip


if __name__ == "__main__":
    from threadpoolctl import threadpool_limits

    # NOTE: one BLAS thread: on a busy 2-core machine OpenBLAS's threads make small matmuls
    # many times slower than one thread does.
    with threadpool_limits(limits=1, user_api="blas"):
        result = main()
    raise SystemExit(0 if result["test_mse"] <= result["linear_regression_mse"] else 1)
