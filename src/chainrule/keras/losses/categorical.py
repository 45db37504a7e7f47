"""Categorical cross-entropy losses: one-hot (or soft) targets and integer class indices.

On probabilities, each row is renormalised to sum to 1 and clipped to ``[eps, 1 - eps]``
(``eps = 1e-7``) before the log, as Keras does; the gradient is 0 where clipping is active.
From logits, the fused core ops ``softmax_cross_entropy`` and ``sparse_softmax_cross_entropy``
are used (finite for any finite logit; gradient ``softmax(x) - y``). Formulas match Keras 3
``keras/src/losses/losses.py`` and ``keras/src/backend/torch/nn.py``.
"""

from __future__ import annotations

from ... import ops
from ...autodiff.tensor import Tensor
from ...backend import np
from ._fused import cce_probs, sparse_cce_logits_mean
from .crossentropy import _check_axis, _check_smoothing, _smooth_classes
from .loss import (
    BuiltinLoss,
    _as_pred,
    _as_true,
    _data,
    _in_float32,
    _true_array,
    register_fast_mean,
    squeeze_or_expand_to_same_rank,
)

__all__ = [
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
]

_SBS = "sum_over_batch_size"


def categorical_crossentropy(
    y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1
) -> Tensor:
    """Categorical cross-entropy between one-hot (or soft) targets and predictions.

    ``t = y_true * (1 - label_smoothing) + label_smoothing / C`` with ``C = y_pred.shape[-1]``
    (the last axis even for another ``axis``, as Keras); probabilities:
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
    y_true = _smooth_classes("categorical_crossentropy", y_true, y_pred, ls)
    if from_logits:
        return _in_float32(lambda p: ops.softmax_cross_entropy(y_true, p, axis=axis), y_pred)
    return cce_probs(y_true, y_pred, axis=axis)


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
        hint = "; for one-hot labels use categorical_crossentropy"
        if len(true_shape) == y_pred.ndim:
            hint = (" (a y_pred whose last axis has size 1, one score for one class, is squeezed "
                    "to y_true's rank first, as in Keras); the sparse loss needs one score per "
                    "class, for a single sigmoid unit use binary_crossentropy")  # fmt: skip
        raise ValueError(
            f"{name} needs integer class indices whose rank is one less than the prediction "
            f"rank (y_true.shape == y_pred.shape without the class axis, {expected}), received "
            f"y_true.shape={np.shape(_data(y_true))} and y_pred.shape={y_pred.shape}{hint}"
        )
    num_classes = y_pred.shape[axis]
    labels, valid = _sparse_labels(np.reshape(_data(y_true), true_shape), num_classes, ignore_class)
    if from_logits:
        out = _in_float32(lambda p: _sparse_from_logits(labels, p, axis), y_pred)
    else:
        one_hot = np.zeros(labels.shape + (num_classes,), dtype=y_pred.dtype)
        np.put_along_axis(one_hot, labels[..., None], 1, axis=-1)
        if axis != y_pred.ndim - 1:
            one_hot = np.moveaxis(one_hot, -1, axis)
        out = cce_probs(one_hot, y_pred, axis=axis)
    if valid is not None:
        out = ops.multiply(out, valid.astype(out.dtype))
    return out, valid


def _sparse_from_logits(labels, y_pred, axis):
    if axis == y_pred.ndim - 1 and y_pred.data.flags.c_contiguous:
        return ops.sparse_softmax_cross_entropy(labels, y_pred)
    # Class axis last, flattened to (M, C): the reshape copies the moved view into a
    # C-contiguous array, which the core op's gradient needs (its in-place update through a
    # reshaped view is lost on a non-contiguous array).
    flat = ops.reshape(ops.moveaxis(y_pred, axis, -1), (-1, y_pred.shape[axis]))
    out = ops.sparse_softmax_cross_entropy(labels.reshape(-1), flat)
    return ops.reshape(out, labels.shape)


def _sparse_cce_fast(y_true, y_pred, dtype, from_logits=False, ignore_class=None, axis=-1):
    """The mean of :func:`sparse_categorical_crossentropy` from logits as one node that keeps
    its softmax's pieces for the gradient (``register_fast_mean``), or None to take the
    general path (called on what ``loss._fast_inputs`` accepts)."""
    if not from_logits or ignore_class is not None:
        return None
    p = y_pred.data
    if type(axis) is not int or axis not in (-1, p.ndim - 1):
        return None  # (True and 1.0 equal 1: the general path's _check_axis refuses them)
    if p.shape[-1] == 1 or not p.flags.c_contiguous:
        return None  # (one class: the general path's rank checks decide)
    t = y_true
    if t.ndim == p.ndim and t.shape[-1] == 1:
        t = t.reshape(t.shape[:-1])
    if t.shape != p.shape[:-1]:
        return None
    labels, _ = _sparse_labels(t, p.shape[-1], None)
    return sparse_cce_logits_mean, (labels, y_pred), {"saved": []}


register_fast_mean(sparse_categorical_crossentropy, _sparse_cce_fast)


class CategoricalCrossentropy(BuiltinLoss):
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


class SparseCategoricalCrossentropy(BuiltinLoss):
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

    def _call_with_mask(self, y_true, y_pred):
        # Ranks are matched first, as LossFunctionWrapper.call does in Keras: (N, T) labels
        # against a (N, T, 1) prediction squeeze the prediction, and then fail the shape check.
        y_true, y_pred = squeeze_or_expand_to_same_rank(_true_array(y_true), y_pred)
        return _sparse_cce(y_true, y_pred, self.from_logits, self.ignore_class, self.axis)

