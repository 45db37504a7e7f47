"""Cross-entropy losses: binary, binary focal, categorical and sparse categorical.

On probabilities, predictions are clipped to ``[eps, 1 - eps]`` (``eps = 1e-7``, in the
prediction's dtype, so ``1 - eps`` is 0.99999988 in float32) before the log, as Keras does;
the gradient is 0 where clipping is active. From logits, the fused core ops
``sigmoid_cross_entropy``, ``softmax_cross_entropy`` and ``sparse_softmax_cross_entropy`` are
used, so values are finite for any finite logit and the gradient is exactly
``sigmoid(x) - z`` (``softmax(x) - y``). Formulas match Keras 3 ``keras/src/losses/losses.py``
and ``keras/src/backend/torch/nn.py``.
"""

from __future__ import annotations

import warnings

from ... import ops
from ...autodiff.tensor import Tensor
from ...backend import epsilon, np
from .loss import Loss, LossFunctionWrapper, _as_pred, _as_true, _data, _mean, _prepare

__all__ = [
    "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "BinaryCrossentropy", "BinaryFocalCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
]  # fmt: skip

_SBS = "sum_over_batch_size"


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
        per_elem = ops.sigmoid_cross_entropy(y_true, y_pred)
    else:
        per_elem = _bce_probs(y_true, y_pred)
    return _mean(per_elem, axis)


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


def _cce_probs(t, p: Tensor, axis: int) -> Tensor:
    """``-sum(t * log(clip(p / sum(p, axis))), axis)``, with an all-zero row left at zero."""
    s = ops.sum(p, axis=axis, keepdims=True)
    zero = _data(s) == 0
    if zero.any():
        # NOTE: Keras divides 0 by 0 here and returns NaN. We divide a zero row by 1, so it
        # stays 0, is clipped to eps, and the loss is -log(eps) = 16.1181 (batch1 case 01.4).
        s = ops.where(zero, 1.0, s)
    q = _clip_probs(ops.divide(p, s))
    neg_t = -t
    return ops.sum(ops.multiply(neg_t, ops.log(q)), axis=axis)


def categorical_crossentropy(
    y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1
) -> Tensor:
    """Categorical cross-entropy between one-hot (or soft) targets and predictions.

    ``t = y_true * (1 - label_smoothing) + label_smoothing / C``; probabilities:
    ``q = clip(y_pred / sum(y_pred, axis), eps, 1 - eps)``, ``loss = -sum(t log q, axis)``;
    logits: ``loss = -sum(t * log_softmax(y_pred, axis), axis)``.

    Args:
        y_true: one-hot or probability targets, shape ``(N, ..., C)``.
        y_pred: probabilities or logits, shape ``(N, ..., C)``.
        from_logits: whether ``y_pred`` holds logits (default False).
        label_smoothing: in [0, 1] (default 0.0).
        axis: the class axis (default -1).

    Returns:
        Tensor of ``y_pred``'s shape without ``axis``.

    Raises:
        ValueError: if the shapes differ (integer labels ``(N,)`` against ``(N, C)`` name
            both shapes and point to the sparse loss), ``label_smoothing`` is outside [0, 1]
            or ``axis`` is bad.

    Matches Keras 3 ``keras/src/losses/losses.py:categorical_crossentropy`` (torch backend),
    except that a prediction row of all zeros gives ``-log(eps) = 16.1181`` where Keras gives
    NaN. A ``SyntaxWarning`` is raised for a class axis of size 1, as in Keras.

    >>> categorical_crossentropy([[0.0, 1.0]], [[0.2, 0.2]]).numpy()
    array([0.6931472], dtype=float32)
    """
    ls = _check_smoothing(label_smoothing)
    y_pred = _as_pred(y_pred)
    y_true = _as_true(y_true, y_pred.dtype)
    if np.shape(y_true) != y_pred.shape:
        hint = ""
        if np.ndim(y_true) == y_pred.ndim - 1 or np.shape(y_true)[-1:] == (1,):
            hint = "; for integer class indices use sparse_categorical_crossentropy"
        raise ValueError(
            "categorical_crossentropy expects one-hot y_true with the same shape as y_pred, "
            f"received y_true.shape={np.shape(y_true)} and y_pred.shape={y_pred.shape}{hint}"
        )
    axis = _check_axis(axis, max(y_pred.ndim, 1), "categorical_crossentropy")
    num_classes = y_pred.shape[axis]
    if num_classes == 1:
        warnings.warn(
            "In loss categorical_crossentropy, expected y_pred.shape to be (batch_size, "
            f"num_classes) with num_classes > 1. Received: y_pred.shape={y_pred.shape}. "
            "Consider using 'binary_crossentropy' if you only have 2 classes.",
            SyntaxWarning,
            stacklevel=2,
        )
    if ls:
        y_true = y_true * (1.0 - ls) + ls / num_classes
    if from_logits:
        return ops.softmax_cross_entropy(y_true, y_pred, axis=axis)
    return _cce_probs(y_true, y_pred, axis)


def _sparse_labels(y_true, num_classes: int, ignore_class):
    """Validated integer labels (ignored entries set to 0) and the valid mask (or None)."""
    lab = np.asarray(_data(y_true))
    valid = None
    if ignore_class is not None:
        valid = lab != ignore_class
        lab = np.where(valid, lab, 0)
    if lab.dtype.kind == "f":
        bad = ~np.isfinite(lab) | (lab != np.round(lab))
        if bad.any():
            raise ValueError(
                "sparse_categorical_crossentropy needs integer class indices, received "
                f"label {lab[bad].flat[0]!r}"
            )
        lab = lab.astype(np.int64)
    elif lab.dtype.kind not in "iu":
        raise ValueError(
            "sparse_categorical_crossentropy needs integer class indices, received dtype "
            f"{lab.dtype}"
        )
    if lab.size:
        lo, hi = lab.min(), lab.max()
        if lo < 0 or hi >= num_classes:
            raise ValueError(
                f"sparse_categorical_crossentropy: label {lo if lo < 0 else hi} is out of "
                f"range; expected class indices in [0, {num_classes})"
            )
    return lab, valid


def sparse_categorical_crossentropy(
    y_true, y_pred, from_logits: bool = False, ignore_class: int | None = None, axis: int = -1
) -> Tensor:
    """Categorical cross-entropy with integer class indices as targets.

    ``loss = -log(q[label])`` with ``q = clip(y_pred / sum(y_pred, axis), eps, 1 - eps)`` on
    probabilities, or ``logsumexp(y_pred) - y_pred[label]`` from logits. Entries whose label
    equals ``ignore_class`` get loss 0 and are left out of the mean by the ``Loss`` class.

    Args:
        y_true: integer class indices in ``[0, C)``, shape ``(N, ...)`` or ``(N, ..., 1)``
            (float arrays holding whole numbers are accepted).
        y_pred: probabilities or logits, shape ``(N, ..., C)``.
        from_logits: whether ``y_pred`` holds logits (default False).
        ignore_class: a label value to skip (e.g. -1 or 255), or None (default).
        axis: the class axis of ``y_pred`` (default -1).

    Returns:
        Tensor of ``y_pred``'s shape without ``axis``.

    Raises:
        ValueError: if ``y_true`` is not rank ``y_pred.ndim - 1`` of the matching shape (a
            one-hot ``y_true`` names both shapes), a label is not an integer, or a label is
            outside ``[0, C)`` (naming the label and the range; -1 is never wrapped around).

    Matches Keras 3 ``keras/src/losses/losses.py:sparse_categorical_crossentropy`` (torch
    backend), with the label checks added and the all-zero-row guard of
    :func:`categorical_crossentropy`.

    >>> sparse_categorical_crossentropy([1], [[0.5, 0.5]]).numpy()
    array([0.6931472], dtype=float32)
    """
    return _sparse_cce(y_true, y_pred, from_logits, ignore_class, axis)[0]


def _sparse_cce(y_true, y_pred, from_logits, ignore_class, axis):
    y_pred = _as_pred(y_pred)
    name = "sparse_categorical_crossentropy"
    axis = _check_axis(axis, max(y_pred.ndim, 1), name)
    true_shape = np.shape(_data(y_true))
    if len(true_shape) == y_pred.ndim and true_shape[axis] == 1:
        true_shape = true_shape[:axis] + true_shape[axis + 1 :]
    expected = y_pred.shape[:axis] + y_pred.shape[axis + 1 :]
    if true_shape != expected:
        raise ValueError(
            f"{name} needs integer class indices whose rank is one less than the prediction "
            f"rank (y_true.shape == y_pred.shape without the class axis, {expected}), received "
            f"y_true.shape={np.shape(_data(y_true))} and y_pred.shape={y_pred.shape}; for one-hot "
            "labels use categorical_crossentropy"
        )
    num_classes = y_pred.shape[axis]
    labels, valid = _sparse_labels(np.reshape(_data(y_true), true_shape), num_classes, ignore_class)
    if from_logits:
        logits = y_pred if axis == y_pred.ndim - 1 else ops.moveaxis(y_pred, axis, -1)
        out = ops.sparse_softmax_cross_entropy(labels, logits)
    else:
        one_hot = np.zeros(labels.shape + (num_classes,), dtype=y_pred.dtype)
        np.put_along_axis(one_hot, labels[..., None], 1, axis=-1)
        if axis != y_pred.ndim - 1:
            one_hot = np.moveaxis(one_hot, -1, axis)
        out = _cce_probs(one_hot, y_pred, axis)
    if valid is not None:
        out = ops.multiply(out, valid.astype(out.dtype))
    return out, valid


class BinaryCrossentropy(LossFunctionWrapper):
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
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self):
        return {
            **Loss.get_config(self),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }


class BinaryFocalCrossentropy(LossFunctionWrapper):
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
        self.apply_class_balancing = apply_class_balancing
        self.alpha = alpha
        self.gamma = gamma
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self):
        return {
            **Loss.get_config(self),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
            "apply_class_balancing": self.apply_class_balancing,
            "alpha": self.alpha,
            "gamma": self.gamma,
        }


class CategoricalCrossentropy(LossFunctionWrapper):
    """Categorical cross-entropy loss; see :func:`categorical_crossentropy`.

    Args:
        from_logits: default False. label_smoothing: default 0.0. axis: default -1.
        reduction: default ``"sum_over_batch_size"``. name: default
        ``"categorical_crossentropy"``. dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/losses/losses.py:CategoricalCrossentropy`` (all-zero rows:
    16.1181 instead of NaN).
    """

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction=_SBS,
        name="categorical_crossentropy",
        dtype=None,
    ):
        _check_smoothing(label_smoothing)
        super().__init__(
            categorical_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis

    def get_config(self):
        return {
            **Loss.get_config(self),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Sparse categorical cross-entropy loss; see :func:`sparse_categorical_crossentropy`.

    With ``ignore_class``, ignored entries count neither in the sum nor in the divisor of
    ``"sum_over_batch_size"`` (the mean is over valid entries), as in Keras.

    Args:
        from_logits: default False. ignore_class: default None.
        reduction: default ``"sum_over_batch_size"``. axis: default -1. name: default
        ``"sparse_categorical_crossentropy"``. dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/losses/losses.py:SparseCategoricalCrossentropy`` (its
    ``get_config`` has no ``axis``; ours adds it so the config round-trips).
    """

    def __init__(
        self,
        from_logits=False,
        ignore_class=None,
        reduction=_SBS,
        axis=-1,
        name="sparse_categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(
            sparse_categorical_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            ignore_class=ignore_class,
            axis=axis,
        )
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis

    def _call_with_mask(self, y_true, y_pred):
        return _sparse_cce(y_true, y_pred, self.from_logits, self.ignore_class, self.axis)

    def get_config(self):
        return {
            **Loss.get_config(self),
            "from_logits": self.from_logits,
            "ignore_class": self.ignore_class,
            "axis": self.axis,
        }
