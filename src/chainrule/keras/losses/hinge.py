"""Hinge losses for maximum-margin classifiers: hinge, squared hinge, categorical hinge.

Formulas match Keras 3 ``keras/src/losses/losses.py`` (``hinge``, ``squared_hinge``,
``categorical_hinge``).
"""

from __future__ import annotations

from ... import ops
from ...autodiff.tensor import Tensor
from ...backend import np
from .loss import BuiltinLoss, _data, _mean, _prepare

__all__ = [
    "hinge",
    "squared_hinge",
    "categorical_hinge",
    "Hinge",
    "SquaredHinge",
    "CategoricalHinge",
]

_SBS = "sum_over_batch_size"


def _to_signed(y_true):
    # Binary {0, 1} labels become {-1, 1}; anything else is used as given (Keras's
    # convert_binary_labels_to_hinge).
    t = np.asarray(_data(y_true))
    if np.all((t == 0) | (t == 1)):
        return 2.0 * y_true - 1.0
    return y_true


def _margin(y_true, y_pred, name):
    y_true, y_pred = _prepare(y_true, y_pred, name)
    return ops.maximum(ops.subtract(1.0, ops.multiply(_to_signed(y_true), y_pred)), 0.0)


def hinge(y_true, y_pred) -> Tensor:
    """Hinge loss, averaged over the last axis.

    ``loss = mean(maximum(1 - y_true * y_pred, 0), axis=-1)``; labels in {0, 1} are first
    mapped to {-1, 1}.

    Args:
        y_true: labels in {-1, 1} or {0, 1}, shape ``(N, ..., D)`` (or ``(N,)`` against
            ``(N, 1)``).
        y_pred: scores, shape ``(N, ..., D)``.

    Returns:
        Tensor of shape ``(N, ...)``.

    Raises:
        ValueError: if the shapes differ beyond a trailing size-1 axis.

    Matches Keras 3 ``keras/src/losses/losses.py:hinge``.

    >>> hinge([[1.0, 0.0]], [[0.5, 0.5]]).numpy()
    array([1.], dtype=float32)
    """
    return _mean(_margin(y_true, y_pred, "hinge"))


def squared_hinge(y_true, y_pred) -> Tensor:
    """Squared hinge loss, averaged over the last axis.

    ``loss = mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)``; labels in {0, 1} are
    first mapped to {-1, 1}.

    Args:
        y_true: labels in {-1, 1} or {0, 1}, shape ``(N, ..., D)``.
        y_pred: scores, shape ``(N, ..., D)``.

    Returns:
        Tensor of shape ``(N, ...)``.

    Raises:
        ValueError: if the shapes differ beyond a trailing size-1 axis.

    Matches Keras 3 ``keras/src/losses/losses.py:squared_hinge``.

    >>> squared_hinge([[1.0, 0.0]], [[0.5, 0.5]]).numpy()
    array([1.25], dtype=float32)
    """
    return _mean(ops.square(_margin(y_true, y_pred, "squared_hinge")))


def categorical_hinge(y_true, y_pred) -> Tensor:
    """Categorical hinge loss (Crammer-Singer multi-class margin).

    ``pos = sum(y_true * y_pred, -1)``, ``neg = max((1 - y_true) * y_pred, -1)``,
    ``loss = maximum(neg - pos + 1, 0)``.

    Args:
        y_true: one-hot labels, shape ``(N, ..., C)``.
        y_pred: scores, shape ``(N, ..., C)``.

    Returns:
        Tensor of shape ``(N, ...)``.

    Raises:
        ValueError: if the shapes differ beyond a trailing size-1 axis.

    Matches Keras 3 ``keras/src/losses/losses.py:categorical_hinge``.

    >>> categorical_hinge([[0.0, 1.0]], [[0.3, 0.8]]).numpy()
    array([0.5], dtype=float32)
    """
    y_true, y_pred = _prepare(y_true, y_pred, "categorical_hinge")
    pos = ops.sum(ops.multiply(y_true, y_pred), axis=-1)
    neg = ops.max(ops.multiply(1.0 - y_true, y_pred), axis=-1)
    return ops.maximum(ops.add(ops.subtract(neg, pos), 1.0), 0.0)


class Hinge(BuiltinLoss):
    """Hinge loss; see :func:`hinge` for the formula.

    Args:
        reduction: default ``"sum_over_batch_size"`` (see :class:`Loss`).
        name: default ``"hinge"``.
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/losses/losses.py:Hinge``.
    """

    def __init__(self, reduction=_SBS, name="hinge", dtype=None):
        super().__init__(hinge, reduction=reduction, name=name, dtype=dtype)


class SquaredHinge(BuiltinLoss):
    """Squared hinge loss; see :func:`squared_hinge` for the formula.

    Args:
        reduction: default ``"sum_over_batch_size"`` (see :class:`Loss`).
        name: default ``"squared_hinge"``.
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/losses/losses.py:SquaredHinge``.
    """

    def __init__(self, reduction=_SBS, name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, reduction=reduction, name=name, dtype=dtype)


class CategoricalHinge(BuiltinLoss):
    """Categorical hinge loss; see :func:`categorical_hinge` for the formula.

    Args:
        reduction: default ``"sum_over_batch_size"`` (see :class:`Loss`).
        name: default ``"categorical_hinge"``.
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/losses/losses.py:CategoricalHinge``.
    """

    def __init__(self, reduction=_SBS, name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, reduction=reduction, name=name, dtype=dtype)

