"""Overlap losses for segmentation masks: Dice and Tversky.

Both reduce over ``axis`` (all axes by default, giving one number for the whole batch) and add
``eps = 1e-7`` to the denominator only, as Keras does: there is no smoothing term in the
numerator, so an all-zero target predicted as all zero has loss 1, not 0. Matches Keras 3
``keras/src/losses/losses.py`` (``dice``, ``tversky``, ``Dice``, ``Tversky``).
"""

from __future__ import annotations

import numbers

from ... import ops
from ...autodiff.tensor import Tensor
from ...backend import epsilon, np
from .loss import BuiltinLoss, _prepare

__all__ = ["dice", "tversky", "Dice", "Tversky"]

_SBS = "sum_over_batch_size"


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _check_axis_arg(axis, name: str) -> None:
    """Checks what can be checked without the input: None, an int, or a tuple/list of ints."""
    if axis is None or _is_int(axis):
        return
    if isinstance(axis, (tuple, list)) and all(_is_int(a) for a in axis):
        return
    raise ValueError(
        f"{name}: axis must be None, an int or a tuple of ints, received axis={axis!r}"
    )


def _resolve_axis(axis, ndim: int, name: str):
    """``axis`` as None or a tuple of distinct non-negative ints below ``ndim``."""
    _check_axis_arg(axis, name)
    if axis is None:
        return None
    axes = (axis,) if _is_int(axis) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(
                f"{name}: axis={axis!r} is out of range for inputs of rank {ndim} (shape "
                f"expected to have at least {abs(a) + (a >= 0)} axes)"
            )
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: axis={axis!r} repeats an axis")
    return tuple(out)


def _check_coefficient(value, arg: str) -> float:
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not np.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{arg} must be a non-negative finite number, received {arg}={value!r}")
    return float(value)


def dice(y_true, y_pred, axis=None) -> Tensor:
    """Dice loss between target masks and predicted masks.

    ``loss = 1 - 2 * sum(y_true * y_pred, axis) / (sum(y_true, axis) + sum(y_pred, axis)
    + eps)`` with ``eps = 1e-7``.

    Args:
        y_true: target masks (values usually in {0, 1}), same shape as ``y_pred``.
        y_pred: predicted masks (values usually in [0, 1]), any shape ``(N, ...)``.
        axis: the axes summed over: None (default, all axes: one value for the whole
            batch), an int, or a tuple of ints (e.g. ``(1, 2, 3)`` for one value per image).

    Returns:
        Tensor of ``y_pred``'s shape without the ``axis`` axes (shape ``()`` for None).

    Raises:
        ValueError: if the shapes differ (after matching a trailing size-1 axis, as the
            ``Loss`` classes do; Keras's function would broadcast them), or ``axis`` is not
            None/int/tuple of ints, out of range or repeated.

    Matches Keras 3 ``keras/src/losses/losses.py:dice``. All-zero target and prediction
    give 1 (no numerator smoothing), as in Keras.

    >>> float(dice([[1.0, 1.0], [0.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]))
    0.5
    """
    y_true, y_pred = _prepare(y_true, y_pred, "dice")
    axis = _resolve_axis(axis, y_pred.ndim, "dice")
    intersection = ops.sum(ops.multiply(y_pred, y_true), axis=axis)
    denominator = ops.add(
        ops.add(ops.sum(y_true, axis=axis), ops.sum(y_pred, axis=axis)), epsilon()
    )
    return ops.subtract(1.0, ops.divide(ops.multiply(intersection, 2.0), denominator))


def tversky(y_true, y_pred, alpha: float = 0.5, beta: float = 0.5, axis=None) -> Tensor:
    """Tversky loss (Salehi et al. 2017), a Dice loss with weighted error terms.

    ``tp = sum(y_true * y_pred, axis)``, ``a = sum(y_true * (1 - y_pred), axis)``,
    ``b = sum((1 - y_true) * y_pred, axis)``;
    ``loss = 1 - tp / (tp + alpha * a + beta * b + eps)`` with ``eps = 1e-7``.
    ``alpha = beta = 0.5`` is the Dice loss.

    # NOTE: as in Keras's code, ``alpha`` weights the missed target mass ``y_true * (1 -
    # y_pred)`` (false negatives) and ``beta`` the predicted mass outside the target (false
    # positives); Keras's docstring describes them the other way round. Numbers follow the code.

    Args:
        y_true: target masks, same shape as ``y_pred``.
        y_pred: predicted masks, any shape ``(N, ...)``.
        alpha: the weight of ``y_true * (1 - y_pred)``, ``>= 0`` (default 0.5).
        beta: the weight of ``(1 - y_true) * y_pred``, ``>= 0`` (default 0.5).
        axis: None (default, all axes), an int, or a tuple of ints.

    Returns:
        Tensor of ``y_pred``'s shape without the ``axis`` axes (shape ``()`` for None).

    Raises:
        ValueError: as :func:`dice`, or for a negative or non-numeric ``alpha``/``beta``.

    Matches Keras 3 ``keras/src/losses/losses.py:tversky``. All-zero target and prediction
    give 1, as in Keras.

    >>> float(tversky([[1.0, 1.0], [0.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]))
    0.5
    """
    alpha = _check_coefficient(alpha, "alpha")
    beta = _check_coefficient(beta, "beta")
    y_true, y_pred = _prepare(y_true, y_pred, "tversky")
    axis = _resolve_axis(axis, y_pred.ndim, "tversky")
    intersection = ops.sum(ops.multiply(y_pred, y_true), axis=axis)
    missed = ops.sum(ops.multiply(ops.subtract(1.0, y_pred), y_true), axis=axis)
    extra = ops.sum(ops.multiply(y_pred, 1.0 - y_true), axis=axis)
    denominator = ops.add(
        ops.add(ops.add(intersection, ops.multiply(missed, alpha)), ops.multiply(extra, beta)),
        epsilon(),
    )
    return ops.subtract(1.0, ops.divide(intersection, denominator))


class Dice(BuiltinLoss):
    """Dice loss; see :func:`dice` for the formula.

    Args:
        reduction: default ``"sum_over_batch_size"``. name: default ``"dice"``.
        axis: default None (one value for the whole batch, which no reduction changes).
        dtype: default ``floatx()``.

    Raises:
        ValueError: for a malformed ``axis`` or an unknown ``reduction`` at construction.

    Matches Keras 3 ``keras/src/losses/losses.py:Dice`` (config keys ``name, reduction,
    axis``).

    >>> float(Dice(axis=(1, 2))([[[1.0], [1.0]]], [[[0.0], [1.0]]]))  # doctest: +ELLIPSIS
    0.33333...
    """

    def __init__(self, reduction=_SBS, name="dice", axis=None, dtype=None):
        _check_axis_arg(axis, "Dice")
        super().__init__(dice, reduction=reduction, name=name, dtype=dtype, axis=axis)


class Tversky(BuiltinLoss):
    """Tversky loss; see :func:`tversky` for the formula.

    Args:
        alpha: default 0.5. beta: default 0.5. reduction: default ``"sum_over_batch_size"``.
        name: default ``"tversky"``. axis: default None. dtype: default ``floatx()``.

    Raises:
        ValueError: for a bad ``alpha``, ``beta``, ``axis`` or ``reduction`` at construction.

    Matches Keras 3 ``keras/src/losses/losses.py:Tversky`` (config keys ``name, reduction,
    alpha, beta, axis``).

    >>> round(float(Tversky(alpha=0.7, beta=0.3)([[1.0, 1.0, 0.0]], [[1.0, 0.0, 1.0]])), 4)
    0.5
    """

    def __init__(self, alpha=0.5, beta=0.5, reduction=_SBS, name="tversky", axis=None, dtype=None):
        _check_coefficient(alpha, "alpha")
        _check_coefficient(beta, "beta")
        _check_axis_arg(axis, "Tversky")
        super().__init__(
            tversky, reduction=reduction, name=name, dtype=dtype, alpha=alpha, beta=beta, axis=axis
        )
