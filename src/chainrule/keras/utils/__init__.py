"""``keras.utils``: seeding, label encoding, normalisation, plotting and the summary table."""

from __future__ import annotations

from ...backend import np
from ...backend import set_random_seed as _set_random_seed
from .py_dataset import PyDataset

__all__ = ["PyDataset", "set_random_seed", "to_categorical", "normalize", "plot_history"]


def set_random_seed(seed: int) -> None:
    """Seed every random draw (chainrule's generator, NumPy's global one, Python's ``random``)
    so that initial weights, dropout and shuffling repeat (matches Keras 3
    ``keras.utils.set_random_seed``).

    Raises:
        ValueError: if ``seed`` is not a non-negative integer.
    """
    _set_random_seed(seed)


def to_categorical(x, num_classes=None):
    """One-hot encode integer labels: ``(..., ) -> (..., num_classes)`` float32 (a trailing
    axis of size 1 is dropped first, as Keras 3).

    Args:
        x: integer class labels in ``[0, num_classes)``.
        num_classes: default ``max(x) + 1``.

    Raises:
        ValueError: for negative or out-of-range labels, or non-integer values.
    """
    y = np.asarray(x)
    if y.dtype.kind == "f":
        if not np.all(np.mod(y, 1) == 0):
            raise ValueError("to_categorical needs integer labels, received non-integer values")
        y = y.astype(np.int64)
    if y.dtype.kind not in "iub":
        raise ValueError(f"to_categorical needs integer labels, received dtype {y.dtype}")
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        bad = int(y.min()) if y.min() < 0 else int(y.max())
        raise ValueError(f"label {bad} is out of range: expected labels in [0, {num_classes})")
    out = np.zeros(y.shape + (int(num_classes),), dtype="float32")
    np.put_along_axis(out, y[..., None].astype(np.int64), 1.0, axis=-1)
    return out


def normalize(x, axis=-1, order=2):
    """Scale ``x`` so each slice along ``axis`` has unit ``order``-norm (zero slices stay 0)."""
    x = np.asarray(x)
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    norm = np.where(norm == 0, 1, norm)
    return (x / norm).astype(x.dtype if x.dtype.kind == "f" else "float32")


def plot_history(history, path=None, metrics=None):
    """Draw loss and metric curves (train and validation) from a History (or its dict).

    Not in Keras, but every Keras user writes it. matplotlib is imported lazily.

    Args:
        history: a ``History`` or a ``{"loss": [...], "val_loss": [...], ...}`` dict.
        path: optional PNG file to write (written to a temporary name, then renamed).
        metrics: names to plot (default: every key without a ``val_`` prefix).

    Returns:
        The matplotlib Figure.

    Raises:
        ImportError: saying how to install matplotlib when it is missing.
    """
    from .plotting import plot_history as _plot  # noqa: PLC0415

    return _plot(history, path=path, metrics=metrics)
