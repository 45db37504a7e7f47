"""Run the seed program (``examples/seed_linear_regression.py``) and report what it learned.

The seed program fits ``y = 2x + noise`` with one ``Dense(1)`` unit, SGD and the mean squared
error, silently (``verbose=0``) and keeps no history of its own. This report runs the file as
it is, then compares the learned weight and bias with the truth (2 and 0) and with the exact
least-squares line (``np.polyfit``), which SGD on the MSE should reach. It plots the data with
the fitted line, and the loss per epoch read from ``model.history`` (the History of the last
``fit``).

Run: ``python examples/seed_report.py``.
"""

from __future__ import annotations

import os
import runpy
import time

import matplotlib
import numpy as np

from chainrule import keras

matplotlib.use("Agg")  # files only: works on servers and in CI without a display

SEED_PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "seed_linear_regression.py")  # fmt: skip
TOLERANCE = 0.05  # how close SGD must come to the least-squares weight and bias


def main(verbose: int | str = 1, out_dir: str | None = "out", seed: int = 0) -> dict:
    """Run the seed program once and return the learned and reference parameters.

    Args:
        verbose: 0 prints only the summary line; otherwise also the report.
        out_dir: where the PNGs go (default "out"; None writes none).
        seed: seeds NumPy's global generator, which the seed program's noise comes from,
            and chainrule's (default 0).

    Returns:
        ``{"weight", "bias", "lstsq_weight", "lstsq_bias", "final_loss", "seconds", "plots"}``.
    """
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    program = runpy.run_path(SEED_PROGRAM, run_name="seed_linear_regression")
    seconds = time.perf_counter() - start
    x, y, model = program["x"], program["y"], program["model"]
    kernel, bias = (np.asarray(w).ravel() for w in model.get_weights())
    weight, bias = float(kernel[0]), float(bias[0])
    lstsq_weight, lstsq_bias = (float(v) for v in np.polyfit(x, y, 1))
    losses = model.history.history["loss"]
    if verbose:
        print(f"seed program: {len(losses)} epochs of SGD in {seconds:.1f} s, "
              f"final loss {losses[-1]:.4f}")  # fmt: skip
        print(f"  {'':16}{'weight':>10}{'bias':>10}")
        print(f"  {'learned':16}{weight:10.4f}{bias:10.4f}")
        print(f"  {'least squares':16}{lstsq_weight:10.4f}{lstsq_bias:10.4f}")
        print(f"  {'truth':16}{2.0:10.4f}{0.0:10.4f}")
    plots = []
    if out_dir is not None:
        plots = _plot(x, y, weight, bias, losses, out_dir)
    print(f"seed weight: {weight:.4f} bias: {bias:.4f} (true 2 and 0; least squares "
          f"{lstsq_weight:.4f} and {lstsq_bias:.4f})")  # fmt: skip
    return {"weight": weight, "bias": bias, "lstsq_weight": lstsq_weight,
            "lstsq_bias": lstsq_bias, "final_loss": float(losses[-1]), "seconds": seconds,
            "plots": plots}  # fmt: skip


def _plot(x, y, weight, bias, losses, out_dir) -> list[str]:
    import matplotlib.pyplot as plt

    from chainrule.keras.utils.plotting import save_figure

    fig, ax = plt.subplots(figsize=(5, 3.8))
    ax.scatter(x, y, s=10, alpha=0.6, label="data: y = 2x + noise")
    ax.plot(x, weight * x + bias, "r", label=f"fitted: y = {weight:.3f}x + {bias:.3f}")
    ax.plot(x, 2 * x, "k--", lw=1, label="truth: y = 2x")
    ax.set(xlabel="x", ylabel="y", title="seed program: linear regression")
    ax.legend()
    fig.tight_layout()
    data_path = save_figure(fig, os.path.join(out_dir, "seed_fit.png"))
    plt.close(fig)
    fig = keras.utils.plot_history({"loss": losses}, path=os.path.join(out_dir, "seed_loss.png"))
    plt.close(fig)
    return [data_path, os.path.join(out_dir, "seed_loss.png")]


def passed(result: dict) -> bool:
    """True when SGD reached the least-squares line within ``TOLERANCE``."""
    return (abs(result["weight"] - result["lstsq_weight"]) <= TOLERANCE
            and abs(result["bias"] - result["lstsq_bias"]) <= TOLERANCE)  # fmt: skip


if __name__ == "__main__":
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        result = main()
    raise SystemExit(0 if passed(result) else 1)
