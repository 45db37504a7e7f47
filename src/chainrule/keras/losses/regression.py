"""Regression losses: squared, absolute, percentage, logarithmic, Huber, log-cosh, cosine.

Each function maps ``y_true, y_pred`` of shape ``(batch, d0, .., dN)`` to per-sample values of
shape ``(batch, d0, .., dN-1)`` (the mean over the last axis), differentiable in ``y_pred``.
``y_true`` of shape ``(N,)`` against ``y_pred`` of shape ``(N, 1)`` is expanded to ``(N, 1)``
(never broadcast to ``(N, N)``); other shape mismatches raise ``ValueError`` naming both shapes.
Formulas match Keras 3 ``keras/src/losses/losses.py``.
"""

from __future__ import annotations

import math

from ... import ops
from ...autodiff.tensor import Tensor
from ...backend import epsilon, np
from ._fused import mse_mean, mse_rows
from .loss import BuiltinLoss, _data, _mean, _prepare, register_fast_mean

__all__ = [
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "huber", "log_cosh", "cosine_similarity",
    "half_mean_squared_error", "MeanSquaredError", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "Huber", "LogCosh",
    "CosineSimilarity", "HalfMeanSquaredError",
]  # fmt: skip

_SBS = "sum_over_batch_size"


def mean_squared_error(y_true, y_pred) -> Tensor:
    """Mean squared error over the last axis.

    ``loss = mean(square(y_true - y_pred), axis=-1)``

    Args:
        y_true: targets, shape ``(N, ..., D)`` (or ``(N,)`` against ``y_pred`` ``(N, 1)``).
        y_pred: predictions, shape ``(N, ..., D)``.

    Returns:
        Tensor of shape ``(N, ...)``.

    Raises:
        ValueError: if the shapes differ beyond a trailing size-1 axis.

    Matches Keras 3 ``keras/src/losses/losses.py:mean_squared_error``.

    >>> mean_squared_error([1.0, 2.0], [[1.5], [2.5]]).numpy()
    array([0.25, 0.25], dtype=float32)
    """
    y_true, y_pred = _prepare(y_true, y_pred, "mean_squared_error")
    if y_pred.ndim == 0:
        return ops.square(ops.subtract(y_true, y_pred))
    return mse_rows(y_true, y_pred)


def _mse_fast(y_true, y_pred, dtype):
    """The mean of :func:`mean_squared_error` as one node (``register_fast_mean``), or None
    to take the general path (called on what ``loss._fast_inputs`` accepts)."""
    p, t = y_pred.data, y_true
    if t.dtype.kind not in "biuf":
        return None
    if t.ndim == 1 and p.ndim == 2 and p.shape[1] == 1:
        t = t[:, None]  # (N,) against (N, 1): expanded, as squeeze_or_expand_to_same_rank does
    if t.shape != p.shape:
        return None
    return mse_mean, (t if t.dtype == dtype else t.astype(dtype), y_pred), {"saved": []}


register_fast_mean(mean_squared_error, _mse_fast)


def half_mean_squared_error(y_true, y_pred) -> Tensor:
    """Half mean squared error, the textbook ``1/(2n) sum((y - y_hat)**2)``.

    ``loss = mean(0.5 * square(y_true - y_pred), axis=-1)``

    The classic form whose gradient is the plain residual: ``d loss / d y_pred =
    (y_pred - y_true) / n``. Not in Keras (use it as ``loss="half_mse"``).

    Args:
        y_true: targets, shape ``(N, ..., D)`` (or ``(N,)`` against ``(N, 1)``).
        y_pred: predictions, shape ``(N, ..., D)``.

    Returns:
        Tensor of shape ``(N, ...)``.

    Raises:
        ValueError: if the shapes differ beyond a trailing size-1 axis.

    >>> half_mean_squared_error([[1.0]], [[3.0]]).numpy()
    array([2.], dtype=float32)
    """
    y_true, y_pred = _prepare(y_true, y_pred, "half_mean_squared_error")
    sq = ops.square(ops.subtract(y_true, y_pred))
    return ops.multiply(ops.sum(sq, axis=-1), 0.5 / max(sq.shape[-1], 1))


def mean_absolute_error(y_true, y_pred) -> Tensor:
    """Mean absolute error over the last axis.

    ``loss = mean(abs(y_true - y_pred), axis=-1)`` (subgradient 0 where ``y_pred == y_true``)

    Args:
        y_true: targets, shape ``(N, ..., D)`` (or ``(N,)`` against ``(N, 1)``).
        y_pred: predictions, shape ``(N, ..., D)``.

    Returns:
        Tensor of shape ``(N, ...)``.

    Raises:
        ValueError: if the shapes differ beyond a trailing size-1 axis.

    Matches Keras 3 ``keras/src/losses/losses.py:mean_absolute_error``.

    >>> mean_absolute_error([[1.0, 2.0]], [[2.0, 4.0]]).numpy()
    array([1.5], dtype=float32)
    """
    y_true, y_pred = _prepare(y_true, y_pred, "mean_absolute_error")
    return _mean(ops.abs(ops.subtract(y_true, y_pred)))


def mean_absolute_percentage_error(y_true, y_pred) -> Tensor:
    """Mean absolute percentage error over the last axis.

    ``loss = 100 * mean(abs((y_true - y_pred) / maximum(abs(y_true), epsilon)), axis=-1)``
    with ``epsilon = 1e-7``.

    Args:
        y_true: targets, shape ``(N, ..., D)`` (or ``(N,)`` against ``(N, 1)``).
        y_pred: predictions, shape ``(N, ..., D)``.

    Returns:
        Tensor of shape ``(N, ...)``.

    Raises:
        ValueError: if the shapes differ beyond a trailing size-1 axis.

    Matches Keras 3 ``keras/src/losses/losses.py:mean_absolute_percentage_error``.

    >>> mean_absolute_percentage_error([[2.0, 4.0]], [[1.0, 5.0]]).numpy()
    array([37.5], dtype=float32)
    """
    y_true, y_pred = _prepare(y_true, y_pred, "mean_absolute_percentage_error")
    denom = ops.maximum(ops.abs(y_true), epsilon())
    diff = ops.abs(ops.divide(ops.subtract(y_true, y_pred), denom))
    return ops.multiply(_mean(diff), 100.0)


def mean_squared_logarithmic_error(y_true, y_pred) -> Tensor:
    """Mean squared logarithmic error over the last axis.

    ``loss = mean(square(log(maximum(y_pred, eps) + 1) - log(maximum(y_true, eps) + 1)), -1)``
    with ``eps = 1e-7`` (values at or below 0 are replaced by ``eps``).

    Args:
        y_true: targets, shape ``(N, ..., D)`` (or ``(N,)`` against ``(N, 1)``).
        y_pred: predictions, shape ``(N, ..., D)``.

    Returns:
        Tensor of shape ``(N, ...)``.

    Raises:
        ValueError: if the shapes differ beyond a trailing size-1 axis.

    Matches Keras 3 ``keras/src/losses/losses.py:mean_squared_logarithmic_error``.

    >>> round(float(mean_squared_logarithmic_error([[0.0]], [[math.e - 1]])[0]), 4)
    1.0
    """
    y_true, y_pred = _prepare(y_true, y_pred, "mean_squared_logarithmic_error")
    eps = epsilon()
    first = ops.log(ops.add(ops.maximum(y_pred, eps), 1.0))
    second = ops.log(ops.add(ops.maximum(y_true, eps), 1.0))
    return _mean(ops.square(ops.subtract(first, second)))


def _check_delta(delta) -> float:
    if (
        isinstance(delta, bool)
        or not isinstance(delta, (int, float, np.floating))
        or not delta >= 0
    ):
        raise ValueError(f"delta must be a non-negative number, received delta={delta!r}")
    return float(delta)


def huber(y_true, y_pred, delta: float = 1.0) -> Tensor:
    """Huber loss: quadratic for small errors, linear for large ones.

    ``e = y_pred - y_true``; ``loss = mean(where(|e| <= delta, 0.5 * e**2,
    delta * |e| - 0.5 * delta**2), axis=-1)``

    Args:
        y_true: targets, shape ``(N, ..., D)`` (or ``(N,)`` against ``(N, 1)``).
        y_pred: predictions, shape ``(N, ..., D)``.
        delta: where the loss turns from quadratic to linear (default 1.0).

    Returns:
        Tensor of shape ``(N, ...)``.

    Raises:
        ValueError: if the shapes differ, or ``delta`` is not a non-negative number.

    Matches Keras 3 ``keras/src/losses/losses.py:huber`` (Huber 1964).

    >>> huber([[0.0, 0.0]], [[0.5, 3.0]]).numpy()
    array([1.3125], dtype=float32)
    """
    delta = _check_delta(delta)
    y_true, y_pred = _prepare(y_true, y_pred, "huber")
    err = ops.subtract(y_pred, y_true)
    abs_err = ops.abs(err)
    quadratic = ops.multiply(ops.square(err), 0.5)
    linear = ops.subtract(ops.multiply(abs_err, delta), 0.5 * delta * delta)
    return _mean(ops.where(_data(abs_err) <= delta, quadratic, linear))


def log_cosh(y_true, y_pred) -> Tensor:
    """Logarithm of the hyperbolic cosine of the error, averaged over the last axis.

    ``x = y_pred - y_true``; ``loss = mean(x + softplus(-2 x) - log(2), axis=-1)``
    (``= log(cosh(x))`` without overflow for large ``|x|``).

    Args:
        y_true: targets, shape ``(N, ..., D)`` (or ``(N,)`` against ``(N, 1)``).
        y_pred: predictions, shape ``(N, ..., D)``.

    Returns:
        Tensor of shape ``(N, ...)``.

    Raises:
        ValueError: if the shapes differ beyond a trailing size-1 axis.

    Matches Keras 3 ``keras/src/losses/losses.py:log_cosh``.

    >>> log_cosh([[0.0]], [[1000.0]]).numpy()
    array([999.3068], dtype=float32)
    """
    y_true, y_pred = _prepare(y_true, y_pred, "log_cosh")
    x = ops.subtract(y_pred, y_true)
    per_elem = ops.add(x, ops.softplus(ops.multiply(x, -2.0)))
    return ops.subtract(_mean(per_elem), math.log(2.0))


def _l2_normalize(x, axis):
    # x / max(||x||, eps) == x * minimum(rsqrt(sum(x**2)), 1/eps) as Keras's `normalize`;
    # NOTE: the max is taken on the squared norm so the gradient of a zero vector is finite.
    eps = epsilon()
    if isinstance(x, Tensor):
        sq = ops.sum(ops.square(x), axis=axis, keepdims=True)
        return ops.divide(x, ops.sqrt(ops.maximum(sq, eps * eps)))
    sq = np.sum(np.square(x), axis=axis, keepdims=True)
    return x / np.sqrt(np.maximum(sq, np.asarray(eps * eps, x.dtype)))


def cosine_similarity(y_true, y_pred, axis: int = -1) -> Tensor:
    """Negative cosine similarity: -1 for aligned vectors, 0 for orthogonal or zero vectors.

    ``loss = -sum(l2_normalize(y_true, axis) * l2_normalize(y_pred, axis), axis)`` where
    ``l2_normalize(x) = x / max(||x||, 1e-7)``.

    Args:
        y_true: targets, shape ``(N, ..., D)`` (or ``(N,)`` against ``(N, 1)``).
        y_pred: predictions, same shape.
        axis: the feature axis (default -1).

    Returns:
        Tensor of ``y_pred``'s shape without ``axis``.

    Raises:
        ValueError: if the shapes differ beyond a trailing size-1 axis.

    Matches Keras 3 ``keras/src/losses/losses.py:cosine_similarity``.

    >>> cosine_similarity([[0.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [1.0, 1.0]]).numpy().round(6)
    array([ 0., -1.], dtype=float32)
    """
    y_true, y_pred = _prepare(y_true, y_pred, "cosine_similarity")
    t = _l2_normalize(y_true, axis)
    p = _l2_normalize(y_pred, axis)
    return ops.sum(ops.multiply(p, -t), axis=axis)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
half_mse = half_mean_squared_error


class MeanSquaredError(BuiltinLoss):
    """Mean squared error loss; see :func:`mean_squared_error` for the formula.

    Args:
        reduction: default ``"sum_over_batch_size"`` (see :class:`Loss`).
        name: default ``"mean_squared_error"``.
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/losses/losses.py:MeanSquaredError``.
    """

    def __init__(self, reduction=_SBS, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


class HalfMeanSquaredError(BuiltinLoss):
    """Half mean squared error loss, ``mean(0.5 * (y - y_hat)**2)``.

    See :func:`half_mean_squared_error`.

    Args:
        reduction: default ``"sum_over_batch_size"`` (see :class:`Loss`).
        name: default ``"half_mean_squared_error"``.
        dtype: default ``floatx()``.

    Not in Keras. The classic form whose gradient is the plain residual.
    """

    def __init__(self, reduction=_SBS, name="half_mean_squared_error", dtype=None):
        super().__init__(half_mean_squared_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(BuiltinLoss):
    """Mean absolute error loss; see :func:`mean_absolute_error` for the formula.

    Args:
        reduction: default ``"sum_over_batch_size"`` (see :class:`Loss`).
        name: default ``"mean_absolute_error"``.
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/losses/losses.py:MeanAbsoluteError``.
    """

    def __init__(self, reduction=_SBS, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsolutePercentageError(BuiltinLoss):
    """Mean absolute percentage error loss.

    See :func:`mean_absolute_percentage_error` for the formula.

    Args:
        reduction: default ``"sum_over_batch_size"`` (see :class:`Loss`).
        name: default ``"mean_absolute_percentage_error"``.
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/losses/losses.py:MeanAbsolutePercentageError``.
    """

    def __init__(self, reduction=_SBS, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(
            mean_absolute_percentage_error, reduction=reduction, name=name, dtype=dtype
        )


class MeanSquaredLogarithmicError(BuiltinLoss):
    """Mean squared logarithmic error loss.

    See :func:`mean_squared_logarithmic_error` for the formula.

    Args:
        reduction: default ``"sum_over_batch_size"`` (see :class:`Loss`).
        name: default ``"mean_squared_logarithmic_error"``.
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/losses/losses.py:MeanSquaredLogarithmicError``.
    """

    def __init__(self, reduction=_SBS, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(
            mean_squared_logarithmic_error, reduction=reduction, name=name, dtype=dtype
        )


class Huber(BuiltinLoss):
    """Huber loss; see :func:`huber` for the formula.

    Args:
        delta: where the loss turns from quadratic to linear (default 1.0).
        reduction: default ``"sum_over_batch_size"`` (see :class:`Loss`).
        name: default ``"huber_loss"``.
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/losses/losses.py:Huber``.
    Raises ``ValueError`` for a negative ``delta``. Unlike Keras, ``get_config`` includes
    ``delta`` so the config round-trips.
    """

    def __init__(self, delta=1.0, reduction=_SBS, name="huber_loss", dtype=None):
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)
        _check_delta(delta)  # fail at construction, not at the first training step


class LogCosh(BuiltinLoss):
    """Log-cosh loss; see :func:`log_cosh` for the formula.

    Args:
        reduction: default ``"sum_over_batch_size"`` (see :class:`Loss`).
        name: default ``"log_cosh"``.
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/losses/losses.py:LogCosh``.
    """

    def __init__(self, reduction=_SBS, name="log_cosh", dtype=None):
        super().__init__(log_cosh, reduction=reduction, name=name, dtype=dtype)


class CosineSimilarity(BuiltinLoss):
    """Negative cosine similarity loss; see :func:`cosine_similarity` for the formula.

    Args:
        axis: the feature axis (default -1).
        reduction: default ``"sum_over_batch_size"`` (see :class:`Loss`).
        name: default ``"cosine_similarity"``.
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/losses/losses.py:CosineSimilarity``.
    Unlike Keras, ``get_config`` includes ``axis`` so the config round-trips.
    """

    def __init__(self, axis=-1, reduction=_SBS, name="cosine_similarity", dtype=None):
        super().__init__(cosine_similarity, reduction=reduction, name=name, dtype=dtype, axis=axis)

