"""Categorical focal cross-entropy (Lin et al. 2017, "Focal Loss for Dense Object Detection").

Probabilities are renormalised along the class axis and clipped to ``[eps, 1 - eps]``
(``eps = 1e-7``) before the log, as Keras does; the gradient is 0 where clipping is active.
From logits, a softmax comes first (so, as in Keras, the loss saturates at ``-log(eps)`` per
class instead of growing without bound). Matches Keras 3 ``keras/src/losses/losses.py``.
"""

from __future__ import annotations

import numbers

from ... import ops
from ...autodiff.tensor import Tensor
from ...backend import epsilon, np
from .crossentropy import _check_axis, _check_smoothing, _smooth_classes
from .loss import BuiltinLoss, _as_pred, _as_true

__all__ = ["categorical_focal_crossentropy", "CategoricalFocalCrossentropy"]

_SBS = "sum_over_batch_size"
_NAME = "categorical_focal_crossentropy"


def _is_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _check_gamma(gamma) -> float:
    if not _is_number(gamma) or not np.isfinite(gamma) or gamma < 0:
        raise ValueError(f"gamma must be a non-negative finite number, received gamma={gamma!r}")
    return float(gamma)


def _check_alpha(alpha):
    """``alpha`` as a float64 array of shape ``()`` or ``(K,)``, all finite and >= 0."""
    if _is_number(alpha):
        arr = np.asarray(float(alpha))
    else:
        try:
            arr = np.asarray(alpha, dtype=np.float64)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.ndim != 1 or arr.size == 0 or np.asarray(alpha).dtype == bool:
            raise ValueError(
                "alpha must be a number or a non-empty 1-D list of numbers (one weight per "
                f"class), received alpha={alpha!r}"
            )
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"alpha must hold non-negative finite numbers, received alpha={alpha!r}")
    return arr


def categorical_focal_crossentropy(
    y_true,
    y_pred,
    alpha=0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Tensor:
    """Categorical focal cross-entropy between one-hot (or soft) targets and predictions.

    ``t = y_true * (1 - label_smoothing) + label_smoothing / y_true.shape[-1]``;
    ``p = softmax(y_pred, axis)`` if ``from_logits`` else ``y_pred``;
    ``q = clip(p / sum(p, axis), eps, 1 - eps)``;
    ``loss = sum(alpha * (1 - q) ** gamma * (-t * log(q)), axis)``.

    Args:
        y_true: one-hot or probability targets, same shape as ``y_pred``.
        y_pred: probabilities or logits, shape ``(N, ..., C)``.
        alpha: the class weight, a number or a list of one weight per class (broadcast
            against the last axis of ``y_pred``, as in Keras) (default 0.25).
        gamma: the focusing parameter, ``>= 0``; 0 gives ``alpha`` times the categorical
            cross-entropy (default 2.0).
        from_logits: whether ``y_pred`` holds logits (default False).
        label_smoothing: in [0, 1] (default 0.0).
        axis: the class axis (default -1).

    Returns:
        Tensor of ``y_pred``'s shape without ``axis``.

    Raises:
        ValueError: if the shapes differ (the class form first matches a trailing size-1
            axis, as Keras's), ``axis`` is not an int in range, ``gamma`` is negative,
            ``alpha`` is negative or a list whose length is neither 1 nor
            ``y_pred.shape[-1]``, or ``label_smoothing`` is outside [0, 1]. A
            ``SyntaxWarning`` is raised for a last axis of size 1, as in Keras.

    Matches Keras 3 ``keras/src/losses/losses.py:categorical_focal_crossentropy``; the
    argument checks are ours (Keras would broadcast or fail inside the backend).

    >>> categorical_focal_crossentropy([[0.0, 1.0, 0.0]], [[0.05, 0.9, 0.05]]).numpy()
    array([0.0002634], dtype=float32)
    """
    ls = _check_smoothing(label_smoothing)
    gamma = _check_gamma(gamma)
    alpha_arr = _check_alpha(alpha)
    y_pred = _as_pred(y_pred)
    y_true = _as_true(y_true, y_pred.dtype)
    if np.shape(y_true) != y_pred.shape:
        raise ValueError(
            f"{_NAME} expects one-hot y_true with the same shape as y_pred, received "
            f"y_true.shape={np.shape(y_true)} and y_pred.shape={y_pred.shape}"
        )
    axis = _check_axis(axis, max(y_pred.ndim, 1), _NAME)
    last = y_pred.shape[-1] if y_pred.ndim else 1
    if alpha_arr.ndim and alpha_arr.size not in (1, last):
        raise ValueError(
            f"{_NAME}: alpha has {alpha_arr.size} entries but y_pred.shape[-1] is {last}; "
            f"give one weight per class (received alpha={alpha!r}, y_pred.shape={y_pred.shape})"
        )
    y_true = _smooth_classes(_NAME, y_true, y_pred, ls)
    if from_logits:
        y_pred = ops.softmax(y_pred, axis=axis)
    q = ops.divide(y_pred, ops.sum(y_pred, axis=axis, keepdims=True))
    eps = epsilon()
    q = ops.clip(q, eps, 1.0 - eps)
    cce = ops.multiply(ops.log(q), -y_true)
    weight = ops.multiply(ops.power(ops.subtract(1.0, q), gamma), alpha_arr.astype(q.dtype))
    return ops.sum(ops.multiply(weight, cce), axis=axis)


class CategoricalFocalCrossentropy(BuiltinLoss):
    """Categorical focal cross-entropy loss; see :func:`categorical_focal_crossentropy`.

    Args:
        alpha: a number or one weight per class (default 0.25). gamma: default 2.0.
        from_logits: default False. label_smoothing: default 0.0. axis: default -1.
        reduction: default ``"sum_over_batch_size"``. name: default
        ``"categorical_focal_crossentropy"``. dtype: default ``floatx()``.

    Input shapes ``(N, ..., C)`` for both; per-sample values ``(N, ...)``.

    Raises:
        ValueError: at construction for a bad ``alpha``, ``gamma``, ``label_smoothing`` or
            ``reduction``; at call time as the function.

    Matches Keras 3 ``keras/src/losses/losses.py:CategoricalFocalCrossentropy`` (config keys
    ``name, reduction, from_logits, label_smoothing, axis, alpha, gamma``).

    >>> loss = CategoricalFocalCrossentropy()
    >>> round(float(loss([[0., 1., 0.], [0., 0., 1.]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]])), 5)
    0.23315
    """

    def __init__(
        self,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction=_SBS,
        name=_NAME,
        dtype=None,
    ):
        _check_smoothing(label_smoothing)
        _check_gamma(gamma)
        _check_alpha(alpha)
        super().__init__(
            categorical_focal_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            # (this order is the order of Keras's config keys)
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
            alpha=alpha,
            gamma=gamma,
        )
