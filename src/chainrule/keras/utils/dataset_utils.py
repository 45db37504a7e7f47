"""``keras.utils.split_dataset`` for NumPy arrays (Keras 3 ``keras/src/utils/dataset_utils.py``)."""

from __future__ import annotations

import numbers
import random

from ...autodiff.tensor import Tensor
from ...backend import np, rng

__all__ = ["split_dataset"]


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Split samples into a left part and a right part (e.g. train and test).

    Matches Keras 3 ``keras.utils.split_dataset`` (``keras/src/utils/dataset_utils.py``, its
    ``tf.data`` path) on arrays::

        order = list(range(n)); if shuffle: random.Random(seed).shuffle(order)
        left = samples[order[:left_size]]; right = samples[order[n - right_size:]]

    A fraction is ``round(fraction * n)`` samples (Python's ``round``, half to even); a size
    left None is the complement of the other; samples in neither part (when the two sizes
    add up to less than ``n``) are dropped.

    What it returns differs from Keras, which gives dataset objects: a ``tf.data.Dataset``
    pair with TensorFlow installed, and on the torch backend without it two
    ``torch.utils.data.Subset`` of a ``TensorDataset`` (whose ``random_split`` also permutes
    the samples when ``shuffle=False``). chainrule returns the arrays themselves, in the
    structure given, ready for ``fit``: ``x_train, x_test = split_dataset(x, 0.8)``, or
    ``(x_train, y_train), (x_test, y_test) = split_dataset((x, y), 0.8)``.

    Args:
        dataset: a NumPy array (or Tensor), or a tuple/list of arrays of the same length.
        left_size: default None. A float in (0, 1) (a fraction) or an int in (0, n)
            (a count).
        right_size: default None, as ``left_size``. At least one must be given.
        shuffle: default False. Shuffle the samples before splitting.
        seed: default None. The shuffle's seed; None draws one from chainrule's generator
            (``keras.utils.set_random_seed`` makes it repeat).

    Returns:
        ``(left, right)``: arrays, or tuples/lists of arrays, of ``left_size`` and
        ``right_size`` samples.

    Raises:
        TypeError: a dataset of another kind (a ``tf.data``/``torch`` dataset, a dict, a
            generator); sizes that are not int, float or None.
        ValueError: arrays of different lengths or without a sample axis; both sizes None or
            zero; a size out of range; sizes adding up to more than the data; a part that
            would be empty (Keras's messages).

    >>> import numpy as np
    >>> left, right = split_dataset(np.arange(10), left_size=0.8)
    >>> left.tolist(), right.tolist()
    ([0, 1, 2, 3, 4, 5, 6, 7], [8, 9])
    """
    arrays, kind = _as_arrays(dataset)
    if left_size is None and right_size is None:
        raise ValueError("At least one of the `left_size` or `right_size` must be specified. "
                         "Received: left_size=None and right_size=None")  # fmt: skip
    total = len(arrays[0])
    n_left, n_right = _split_sizes(left_size, right_size, total)
    order = list(range(total))
    if shuffle:
        if seed is None:
            seed = int(rng().integers(0, 10**6 + 1))
        # NOTE: Keras shuffles its list of samples with Python's `random` seeded so; the same
        # permutation, without touching the global `random` state
        random.Random(seed).shuffle(order)
    order = np.asarray(order, dtype=np.int64)
    left_idx, right_idx = order[:n_left], order[total - n_right :]
    left = [a[left_idx] for a in arrays]
    right = [a[right_idx] for a in arrays]
    if kind is None:
        return left[0], right[0]
    return kind(left), kind(right)


def _as_arrays(dataset):
    """``([arrays], container type or None for one array)``, or a clear error."""
    if isinstance(dataset, Tensor):
        dataset = dataset.data
    if isinstance(dataset, np.ndarray):
        parts, kind = [dataset], None
    elif isinstance(dataset, (list, tuple)) and dataset:
        parts = [p.data if isinstance(p, Tensor) else np.asarray(p) for p in dataset]
        kind = type(dataset) if type(dataset) in (list, tuple) else tuple
    else:
        raise TypeError(
            "The `dataset` argument must be a NumPy array or a non-empty list/tuple of arrays "
            "of the same length (chainrule has no tf.data or torch datasets). Received: "
            f"dataset of type {type(dataset).__name__}"
        )
    lengths = set()
    for i, p in enumerate(parts):
        if p.ndim == 0:
            raise ValueError(f"split_dataset: element {i} of `dataset` is a scalar; each must be "
                             "an array with the samples on its first axis")  # fmt: skip
        lengths.add(len(p))
    if len(lengths) > 1:
        raise ValueError("split_dataset: the arrays in `dataset` must have the same length, "
                         f"received lengths {[len(p) for p in parts]}")  # fmt: skip
    return parts, kind


def _size_kind(value, what: str):
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral,
                                                                     numbers.Real)):  # fmt: skip
        raise TypeError(f"Invalid `{what}` Type. Expected: int or float or None, Received: "
                        f"type({what})={type(value)}.")  # fmt: skip
    return int if isinstance(value, numbers.Integral) else float


def _split_sizes(left_size, right_size, total: int) -> tuple:
    """Keras's ``_rescale_dataset_split_sizes``: the two sizes as sample counts."""
    kinds = {}
    for what, value in (("left_size", left_size), ("right_size", right_size)):
        kinds[what] = _size_kind(value, what)
    if left_size == 0 and right_size == 0:
        raise ValueError("Both `left_size` and `right_size` are zero. At least one of the split "
                         "sizes must be non-zero.")  # fmt: skip
    for what, value in (("left_size", left_size), ("right_size", right_size)):
        kind = kinds[what]
        if (kind is int and not 0 < value < total) or (kind is float and not 0 < value < 1):
            raise ValueError(
                f"`{what}` should be either a positive integer smaller than {total}, "
                f"or a float within the range `[0, 1]`. Received: {what}={value}"
            )
    if kinds["left_size"] is kinds["right_size"] is float and left_size + right_size > 1:
        raise ValueError("The sum of `left_size` and `right_size` is greater than 1. It must be "
                         "less than or equal to 1.")  # fmt: skip
    sizes = []
    for what, value in (("left_size", left_size), ("right_size", right_size)):
        kind = kinds[what]
        sizes.append(None if kind is None else round(value * total) if kind is float
                     else int(value))  # fmt: skip
    left, right = sizes
    left = total - right if left is None else left
    right = total - left if right is None else right
    if left + right > total:
        raise ValueError(f"The sum of `left_size` and `right_size` should be smaller than the "
                         f"{total}. Received: left_size + right_size = {left + right} and "
                         f"total_length = {total}")  # fmt: skip
    for value, side in ((left, "left"), (right, "right")):
        if value == 0:
            raise ValueError(f"With `dataset` of length={total}, `left_size`={left} and "
                             f"`right_size`={right}. Resulting {side} side dataset split will "
                             "be empty. Adjust any of the aforementioned parameters")  # fmt: skip
    return left, right
