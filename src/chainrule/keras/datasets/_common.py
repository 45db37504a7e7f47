"""What several dataset loaders share: the download folder's URL, argument checks, and the
seeded shuffle-then-split of the regression datasets."""

from __future__ import annotations

import numbers

from ...backend import np

# The folder most Keras datasets are downloaded from (Keras 3 ``keras/src/datasets/*.py``).
TF_KERAS_DATASETS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


def check_int(name: str, value, allow_none: bool = True, minimum: int | None = None):
    """``value`` if it is an integer (or None when allowed) of at least ``minimum``; else a
    ValueError naming the argument."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        want = "an integer or None" if allow_none else "an integer"
        raise ValueError(f"{name} must be {want}, received {name}={value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, received {name}={value!r}")
    return int(value)


def check_test_split(test_split) -> None:
    """Keras's check: ``0 <= test_split < 1``."""
    if (
        isinstance(test_split, bool)
        or not isinstance(test_split, numbers.Real)
        or not (0 <= test_split < 1)
    ):
        raise ValueError(f"Invalid `test_split` argument: {test_split}. It must be between 0 "
                         f"and 1 (exclusive of 1), received test_split={test_split!r}")  # fmt: skip


def shuffle_and_split(x, y, test_split: float, seed):
    """Shuffle ``(x, y)`` with ``np.random.RandomState(seed)`` and keep the first
    ``int(n * (1 - test_split))`` rows for training, as Keras's regression datasets do.

    NOTE: the legacy ``RandomState`` (not ``default_rng``) is what gives Keras's order.
    """
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))
