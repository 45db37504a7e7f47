"""Binary cross-entropy losses: binary and binary focal (plus argument checks shared with
``categorical.py``).

On probabilities, predictions are clipped to ``[eps, 1 - eps]`` (``eps = 1e-7``, in the
prediction's dtype, so ``1 - eps`` is 0.99999988 in float32) before the log, as Keras does;
the gradient is 0 where clipping is active. From logits, the fused core op
``sigmoid_cross_entropy`` is used, so values are finite for any finite logit and the gradient
is exactly ``sigmoid(x) - z`` (0.5 - z at logit 0). Formulas match Keras 3
``keras/src/losses/losses.py`` and ``keras/src/backend/torch/nn.py``.
"""

from __future__ import annotations

import warnings

from ... import ops
from ...autodiff.tensor import Tensor
from ...backend import epsilon, np
from ._fused import bce_probs
from .loss import BuiltinLoss, _mean, _prepare

__all__ = [
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
]

_SBS = "sum_over_batch_size"


def _smooth_classes(name: str, y_true, y_pred, ls: float):
    """One-hot targets smoothed as Keras's categorical losses smooth them,
    ``y_true * (1 - ls) + ls / C``, after Keras's warning for ``C == 1``. ``C`` is the size
    of ``y_pred``'s LAST axis whatever the class axis is, as in Keras (the two agree whenever
    the class axis is last)."""
    classes = y_pred.shape[-1] if y_pred.ndim else 1
    if classes == 1:
        warnings.warn(
            f"In loss {name}, expected y_pred.shape to be (batch_size, num_classes) with "
            f"num_classes > 1. Received: y_pred.shape={y_pred.shape}. Consider using "
            "'binary_crossentropy' if you only have 2 classes.",
            SyntaxWarning,
            stacklevel=3,  # (the caller of the loss function)
        )
    return y_true * (1.0 - ls) + ls / classes if ls else y_true


def _check_smoothing(label_smoothing) -> float:
    ls = label_smoothing
    if isinstance(ls, bool) or not isinstance(ls, (int, float, np.floating)) or not 0 <= ls <= 1:
        raise ValueError(
            f"label_smoothing must be a number in [0, 1], received label_smoothing={ls!r}"
        )
    return float(ls)


def _check_axis(axis, ndim: int, name: str) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{name}: axis must be an int, received axis={axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{name}: axis={axis} is out of range for y_pred of rank {ndim} (shape expected "
            f"to have at least {abs(axis) + (axis >= 0)} axes)"
        )
    return int(axis) % ndim


def _clip_probs(p: Tensor) -> Tensor:
    eps = epsilon()
    return ops.clip(p, eps, 1.0 - eps)


def _bce_probs(t, p: Tensor) -> Tensor:
    """Elementwise ``-(t log p + (1 - t) log(1 - p))`` on clipped ``p``."""
    p = _clip_probs(p)
    return ops.negative(
        ops.add(ops.multiply(t, ops.log(p)), ops.multiply(1.0 - t, ops.log(ops.subtract(1.0, p))))
    )


def binary_crossentropy(
    y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1
) -> Tensor:
    """Binary cross-entropy, averaged over ``axis``.

    ``t = y_true * (1 - label_smoothing) + 0.5 * label_smoothing``; probabilities:
    ``p = clip(y_pred, eps, 1 - eps)``, ``loss = mean(-(t log p + (1 - t) log(1 - p)), axis)``;
    logits ``x``: ``loss = mean(max(x, 0) - x t + log1p(exp(-|x|)), axis)``.

    Args:
        y_true: targets in [0, 1], shape ``(N, ..., D)`` (or ``(N,)`` against ``(N, 1)``).
        y_pred: probabilities or logits, shape ``(N, ..., D)``.
        from_logits: whether ``y_pred`` holds logits (default False).
        label_smoothing: in [0, 1], squeezes targets towards 0.5 (default 0.0).
        axis: the axis averaged over (default -1).

    Returns:
        Tensor of ``y_pred``'s shape without ``axis``.

    Raises:
        ValueError: for different shapes (naming both), ``label_smoothing`` outside [0, 1]
            or a bad ``axis``.

    Matches Keras 3 ``keras/src/losses/losses.py:binary_crossentropy`` (torch backend).

    >>> binary_crossentropy([[1.0, 0.0]], [[0.0, 0.0]], from_logits=True).numpy()
    array([0.6931472], dtype=float32)
    """
    ls = _check_smoothing(label_smoothing)
    y_true, y_pred = _prepare(y_true, y_pred, "binary_crossentropy")
    axis = _check_axis(axis, max(y_pred.ndim, 1), "binary_crossentropy")
    if ls:
        y_true = y_true * (1.0 - ls) + 0.5 * ls
    if from_logits:
        return _mean(ops.sigmoid_cross_entropy(y_true, y_pred), axis)
    return bce_probs(y_true, y_pred, axis=axis)


def binary_focal_crossentropy(
    y_true,
    y_pred,
    apply_class_balancing: bool = False,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Tensor:
    """Binary focal cross-entropy (Lin et al. 2017), averaged over ``axis``.

    ``t`` as in :func:`binary_crossentropy`; ``p = sigmoid(y_pred)`` if ``from_logits`` else
    ``y_pred``; ``p_t = t p + (1 - t)(1 - p)``; ``loss = mean(w * (1 - p_t)**gamma * bce, axis)``
    with ``w = t alpha + (1 - t)(1 - alpha)`` if ``apply_class_balancing`` else 1.

    Args:
        y_true: targets in [0, 1], shape ``(N, ..., D)``.
        y_pred: probabilities or logits, shape ``(N, ..., D)``.
        apply_class_balancing: weight class 1 by ``alpha``, class 0 by ``1 - alpha``
            (default False).
        alpha: the class-1 weight (default 0.25).
        gamma: the focusing parameter, ``>= 0`` (default 2.0).
        from_logits: whether ``y_pred`` holds logits (default False).
        label_smoothing: in [0, 1] (default 0.0).
        axis: the axis averaged over (default -1).

    Returns:
        Tensor of ``y_pred``'s shape without ``axis``.

    Raises:
        ValueError: for different shapes, a negative ``gamma``, ``label_smoothing`` outside
            [0, 1] or a bad ``axis``.

    Matches Keras 3 ``keras/src/losses/losses.py:binary_focal_crossentropy``. From logits the
    ``bce`` factor is the fused logits form (Keras clips ``sigmoid(x)``), so values stay exact
    and finite where ``|x| > 16``; elsewhere the numbers agree.

    >>> binary_focal_crossentropy([[1.0]], [[0.5]]).numpy()
    array([0.1732868], dtype=float32)
    """
    ls = _check_smoothing(label_smoothing)
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not gamma >= 0:
        raise ValueError(f"gamma must be a non-negative number, received gamma={gamma!r}")
    y_true, y_pred = _prepare(y_true, y_pred, "binary_focal_crossentropy")
    axis = _check_axis(axis, max(y_pred.ndim, 1), "binary_focal_crossentropy")
    if ls:
        y_true = y_true * (1.0 - ls) + 0.5 * ls
    if from_logits:
        bce = ops.sigmoid_cross_entropy(y_true, y_pred)
        p = ops.sigmoid(y_pred)
    else:
        bce = _bce_probs(y_true, y_pred)
        p = y_pred
    # 1 - p_t = t (1 - p) + (1 - t) p = t + p (1 - 2 t)
    one_minus_pt = ops.add(ops.multiply(p, 1.0 - 2.0 * y_true), y_true)
    focal = ops.multiply(ops.power(one_minus_pt, float(gamma)), bce)
    if apply_class_balancing:
        focal = ops.multiply(focal, y_true * alpha + (1.0 - y_true) * (1.0 - alpha))
    return _mean(focal, axis)


class BinaryCrossentropy(BuiltinLoss):
    """Binary cross-entropy loss; see :func:`binary_crossentropy` for the formula.

    Args:
        from_logits: default False. label_smoothing: default 0.0. axis: default -1.
        reduction: default ``"sum_over_batch_size"`` (see :class:`Loss`).
        name: default ``"binary_crossentropy"``. dtype: default ``floatx()``.

    Raises:
        ValueError: for ``label_smoothing`` outside [0, 1] or an unknown ``reduction``.

    Matches Keras 3 ``keras/src/losses/losses.py:BinaryCrossentropy``.
    """

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction=_SBS,
        name="binary_crossentropy",
        dtype=None,
    ):
        _check_smoothing(label_smoothing)
        super().__init__(
            binary_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class BinaryFocalCrossentropy(BuiltinLoss):
    """Binary focal cross-entropy loss; see :func:`binary_focal_crossentropy`.

    Args:
        apply_class_balancing: default False. alpha: default 0.25. gamma: default 2.0.
        from_logits: default False. label_smoothing: default 0.0. axis: default -1.
        reduction: default ``"sum_over_batch_size"``. name: default
        ``"binary_focal_crossentropy"``. dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/losses/losses.py:BinaryFocalCrossentropy``.
    """

    def __init__(
        self,
        apply_class_balancing=False,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction=_SBS,
        name="binary_focal_crossentropy",
        dtype=None,
    ):
        _check_smoothing(label_smoothing)
        super().__init__(
            binary_focal_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            apply_class_balancing=apply_class_balancing,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )

