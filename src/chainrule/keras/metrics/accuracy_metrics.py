"""Accuracy metrics: per-sample functions and their running-mean classes.

Matches Keras 3 ``keras/src/metrics/accuracy_metrics.py``. Every function returns a float
array of 0/1 per sample (``floatx()``); the classes average it, weighted by ``sample_weight``.
"""

from __future__ import annotations

from ...backend import floatx, np
from ._utils import align_ranks, check_same_shape, to_float, to_numpy
from .base import BuiltinMetricWrapper

__all__ = [
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "top_k_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "Accuracy",
    "BinaryAccuracy",
    "CategoricalAccuracy",
    "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy",
    "SparseTopKCategoricalAccuracy",
]


def _as_float(matches):
    return matches.astype(floatx())


def _sparse_labels(y_true, y_pred, fn_name: str):
    """Integer-class labels of shape ``y_pred.shape[:-1]`` (a trailing 1 is squeezed).

    Raises:
        ValueError: naming both shapes when the labels do not match ``y_pred`` minus its
            class axis (e.g. one-hot labels given to a sparse metric).
    """
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    if y_true.shape != y_pred.shape[:-1]:
        raise ValueError(
            f"{fn_name}: y_true must hold integer class indices of shape y_pred.shape[:-1] "
            f"(rank one less than y_pred), received y_true.shape={y_true.shape} and "
            f"y_pred.shape={y_pred.shape}"
        )
    return y_true


def accuracy(y_true, y_pred):
    """Exact-match accuracy: ``float(y_true == y_pred)`` per element.

    Args:
        y_true, y_pred: arrays of the same shape (a trailing axis of 1 is aligned).

    Returns:
        A float array of y_pred's (aligned) shape.

    Raises:
        ValueError: naming both shapes when they differ.
    """
    y_pred = to_float(y_pred, arg="y_pred")
    y_true = to_numpy(y_true, y_pred.dtype, "y_true")
    y_true, y_pred = align_ranks(y_true, y_pred)
    check_same_shape(y_true, y_pred, "accuracy")
    return _as_float(y_true == y_pred)


def binary_accuracy(y_true, y_pred, threshold: float = 0.5):
    """Binary accuracy: ``float(y_true == (y_pred > threshold))`` per element.

    Args:
        y_true: 0/1 labels, the shape of ``y_pred`` (a trailing axis of 1 is aligned).
        y_pred: probabilities (or scores, with a matching ``threshold``).
        threshold: default 0.5; a prediction counts as 1 when strictly above it.

    Raises:
        ValueError: naming both shapes when they differ.

    >>> binary_accuracy([[1], [0]], [[0.7], [0.6]]).tolist()
    [[1.0], [0.0]]
    """
    y_pred = to_float(y_pred, arg="y_pred")
    y_true = to_numpy(y_true, arg="y_true")
    y_true, y_pred = align_ranks(y_true, y_pred)
    check_same_shape(y_true, y_pred, "binary_accuracy")
    predicted = (y_pred > np.asarray(threshold, y_pred.dtype)).astype(y_true.dtype)
    return _as_float(y_true == predicted)


def categorical_accuracy(y_true, y_pred):
    """One-hot accuracy: ``float(argmax(y_true, -1) == argmax(y_pred, -1))``.

    Args:
        y_true: one-hot (or probability) labels, shape ``(..., C)``.
        y_pred: scores, shape ``(..., C)``.

    Returns:
        Shape ``(...)``.

    Raises:
        ValueError: naming both shapes when they differ (integer labels need
            ``sparse_categorical_accuracy``).
    """
    y_pred = to_float(y_pred, arg="y_pred")
    y_true = to_numpy(y_true, arg="y_true")
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "categorical_accuracy: y_true must be one-hot with the shape of y_pred (use "
            "sparse_categorical_accuracy for integer labels), received "
            f"y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}"
        )
    return _as_float(np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1))


def sparse_categorical_accuracy(y_true, y_pred):
    """Integer-label accuracy: ``float(y_true == argmax(y_pred, -1))``.

    Args:
        y_true: class indices, shape ``(...)`` or ``(..., 1)``.
        y_pred: scores, shape ``(..., C)``.

    Returns:
        Shape ``(...)``.

    Raises:
        ValueError: naming both shapes when ``y_true`` is not ``y_pred.shape[:-1]``.
    """
    y_pred = to_float(y_pred, arg="y_pred")
    y_true = to_numpy(y_true, y_pred.dtype, "y_true")
    y_true = _sparse_labels(y_true, y_pred, "sparse_categorical_accuracy")
    return _as_float(y_true == np.argmax(y_pred, axis=-1).astype(y_true.dtype))


def _in_top_k(labels, scores, k: int, fn_name: str):
    """True where the label's score is at least the k-th largest score of its row.

    # NOTE: ties at the k-th score count as hits (Keras torch backend ``in_top_k``); a ``k``
    # larger than the number of classes makes every label a hit.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{fn_name}: k must be a positive integer, received k={k!r}")
    num_classes = scores.shape[-1]
    scores = scores.reshape(-1, num_classes)
    labels = labels.reshape(-1)
    bad = (labels < 0) | (labels >= num_classes)
    if bad.any():
        raise ValueError(
            f"{fn_name}: labels must be in [0, {num_classes}), received label {labels[bad][0]}"
        )
    kth = np.partition(scores, num_classes - min(k, num_classes), axis=-1)[
        :, num_classes - min(k, num_classes)
    ]
    target = np.take_along_axis(scores, labels[:, None].astype(np.int64), axis=-1)[:, 0]
    return target >= kth


def top_k_categorical_accuracy(y_true, y_pred, k: int = 5):
    """Whether the one-hot target's class is among the ``k`` highest scores.

    Args:
        y_true: one-hot labels, shape ``(..., C)``.
        y_pred: scores, shape ``(..., C)``.
        k: default 5.

    Returns:
        Shape ``(...)``.

    Raises:
        ValueError: naming both shapes when they differ; when ``k`` is not a positive integer.
    """
    y_pred = to_float(y_pred, arg="y_pred")
    y_true = to_numpy(y_true, arg="y_true")
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "top_k_categorical_accuracy: y_true must be one-hot with the shape of y_pred, "
            f"received y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}"
        )
    labels = np.argmax(y_true, axis=-1)
    hits = _in_top_k(labels, y_pred, k, "top_k_categorical_accuracy")
    return _as_float(hits).reshape(labels.shape)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k: int = 5, from_sorted_ids=False):
    """Whether the integer target is among the ``k`` highest scores.

    Args:
        y_true: class indices, shape ``(...)`` or ``(..., 1)``.
        y_pred: scores ``(..., C)``; or, with ``from_sorted_ids=True``, class ids sorted by
            decreasing score, shape ``(batch, N)`` with ``N >= k``.
        k: default 5.
        from_sorted_ids: default False.

    Returns:
        Shape ``(...)``.

    Raises:
        ValueError: naming both shapes when ``y_true`` does not match; for a bad ``k`` or a
            label outside ``[0, C)``.
    """
    y_pred = to_float(y_pred, arg="y_pred") if not from_sorted_ids else to_numpy(y_pred)
    y_true = to_numpy(y_true, arg="y_true")
    y_true = _sparse_labels(y_true, y_pred, "sparse_top_k_categorical_accuracy")
    if from_sorted_ids:
        hits = (y_true.reshape(-1, 1) == y_pred.reshape(-1, y_pred.shape[-1])[:, :k]).any(-1)
    else:
        if y_true.dtype.kind == "f" and np.any(y_true != np.round(y_true)):
            raise ValueError(
                "sparse_top_k_categorical_accuracy: y_true must hold integer class indices, "
                f"received non-integer values such as {y_true[y_true != np.round(y_true)][0]}"
            )
        hits = _in_top_k(y_true.astype(np.int64), y_pred, k, "sparse_top_k_categorical_accuracy")
    return _as_float(hits).reshape(y_true.shape)


class Accuracy(BuiltinMetricWrapper):
    """How often ``y_pred`` equals ``y_true`` exactly (running weighted mean of
    :func:`accuracy`).

    Args:
        name: default "accuracy".
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/metrics/accuracy_metrics.py`` ``Accuracy``.

    >>> m = Accuracy()
    >>> m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]])
    >>> m.result()
    0.75
    """

    _direction = "up"  # better when higher ("up") or lower; as Keras 3, for mode="auto"

    def __init__(self, name: str = "accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(BuiltinMetricWrapper):
    """How often thresholded predictions match binary labels (mean of
    :func:`binary_accuracy`).

    Args:
        name: default "binary_accuracy".
        dtype: default ``floatx()``.
        threshold: default 0.5.

    Matches Keras 3 ``keras/src/metrics/accuracy_metrics.py`` ``BinaryAccuracy``.
    """

    _direction = "up"  # better when higher ("up") or lower; as Keras 3, for mode="auto"

    def __init__(self, name: str = "binary_accuracy", dtype=None, threshold: float = 0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(BuiltinMetricWrapper):
    """How often ``argmax(y_pred)`` matches one-hot labels (mean of
    :func:`categorical_accuracy`).

    Args:
        name: default "categorical_accuracy".
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/metrics/accuracy_metrics.py`` ``CategoricalAccuracy``.
    """

    _direction = "up"  # better when higher ("up") or lower; as Keras 3, for mode="auto"

    def __init__(self, name: str = "categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(BuiltinMetricWrapper):
    """How often ``argmax(y_pred)`` matches integer labels (mean of
    :func:`sparse_categorical_accuracy`).

    Args:
        name: default "sparse_categorical_accuracy".
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/metrics/accuracy_metrics.py`` ``SparseCategoricalAccuracy``.
    """

    _direction = "up"  # better when higher ("up") or lower; as Keras 3, for mode="auto"

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(BuiltinMetricWrapper):
    """How often the one-hot target is in the top ``k`` scores.

    Args:
        k: default 5.
        name: default "top_k_categorical_accuracy".
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/metrics/accuracy_metrics.py`` ``TopKCategoricalAccuracy``.
    """

    _direction = "up"  # better when higher ("up") or lower; as Keras 3, for mode="auto"

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


class SparseTopKCategoricalAccuracy(BuiltinMetricWrapper):
    """How often the integer target is in the top ``k`` scores.

    Args:
        k: default 5.
        name: default "sparse_top_k_categorical_accuracy".
        dtype: default ``floatx()``.
        from_sorted_ids: default False (see :func:`sparse_top_k_categorical_accuracy`).

    Matches Keras 3 ``keras/src/metrics/accuracy_metrics.py``
    ``SparseTopKCategoricalAccuracy``.
    """

    _direction = "up"  # better when higher ("up") or lower; as Keras 3, for mode="auto"

    def __init__(
        self,
        k: int = 5,
        name: str = "sparse_top_k_categorical_accuracy",
        dtype=None,
        from_sorted_ids: bool = False,
    ):
        super().__init__(
            sparse_top_k_categorical_accuracy,
            name=name,
            dtype=dtype,
            k=k,
            from_sorted_ids=from_sorted_ids,
        )

    def get_config(self) -> dict:
        config = {"name": self.name, "dtype": self.dtype, "k": self.k}
        if self.from_sorted_ids:
            config["from_sorted_ids"] = True
        return config
