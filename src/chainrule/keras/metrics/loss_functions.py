"""Loss-like metric functions in NumPy (per-sample values, no graph).

``keras.metrics.mean_squared_error`` and friends are Keras's loss functions reused as metrics
(``keras/src/losses/losses.py``); these are NumPy re-implementations with the same clipping,
for the trainer's cheap per-batch metric updates. Each returns the per-sample array (the last
axis reduced), in the dtype of ``y_pred`` (``floatx()`` for non-float input).

# NOTE: where Keras would broadcast mismatched shapes (e.g. (N, 1) against (N, 3)) we raise a
# ValueError naming both shapes instead; (N,) against (N, 1) is aligned as Keras does.
"""

from __future__ import annotations

import warnings

from ...backend import epsilon, np
from ._utils import check_same_shape, prepare_pair, sigmoid, to_float, to_numpy

__all__ = [
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "log_cosh",
    "huber",
    "cosine_similarity",
    "hinge",
    "squared_hinge",
    "categorical_hinge",
    "kl_divergence",
    "poisson",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "sparse_categorical_crossentropy",
]


def mean_squared_error(y_true, y_pred):
    """``mean((y_true - y_pred)**2, axis=-1)``; shapes ``(..., d)`` -> ``(...)``."""
    y_true, y_pred = prepare_pair(y_true, y_pred, "mean_squared_error")
    return np.mean(np.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """``mean(abs(y_true - y_pred), axis=-1)``; shapes ``(..., d)`` -> ``(...)``."""
    y_true, y_pred = prepare_pair(y_true, y_pred, "mean_absolute_error")
    return np.mean(np.abs(y_true - y_pred), axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """``100 * mean(abs((y_true - y_pred) / maximum(abs(y_true), epsilon)), axis=-1)``."""
    y_true, y_pred = prepare_pair(y_true, y_pred, "mean_absolute_percentage_error")
    eps = np.asarray(epsilon(), y_pred.dtype)
    diff = np.abs((y_true - y_pred) / np.maximum(np.abs(y_true), eps))
    return np.asarray(100.0, y_pred.dtype) * np.mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    """``mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))**2, axis=-1)``."""
    y_true, y_pred = prepare_pair(y_true, y_pred, "mean_squared_logarithmic_error")
    eps = np.asarray(epsilon(), y_pred.dtype)
    first = np.log(np.maximum(y_pred, eps) + 1)
    second = np.log(np.maximum(y_true, eps) + 1)
    return np.mean(np.square(first - second), axis=-1)


def log_cosh(y_true, y_pred):
    """``mean(log(cosh(y_pred - y_true)), axis=-1)``.

    # NOTE: computed as ``x + softplus(-2x) - log(2)``, which cannot overflow for large |x|.
    """
    y_true, y_pred = prepare_pair(y_true, y_pred, "log_cosh")
    x = y_pred - y_true
    out = x + np.logaddexp(np.zeros((), x.dtype), -2 * x) - np.asarray(np.log(2.0), x.dtype)
    return np.mean(out, axis=-1)


def huber(y_true, y_pred, delta: float = 1.0):
    """``mean(where(|e| <= delta, e**2 / 2, delta*|e| - delta**2 / 2), axis=-1)``, ``e =
    y_pred - y_true``; ``delta`` default 1.0."""
    y_true, y_pred = prepare_pair(y_true, y_pred, "huber")
    d = np.asarray(delta, y_pred.dtype)
    err = y_pred - y_true
    abs_err = np.abs(err)
    half = np.asarray(0.5, y_pred.dtype)
    return np.mean(
        np.where(abs_err <= d, half * np.square(err), d * abs_err - half * np.square(d)), axis=-1
    )


def _l2_normalize(x, axis):
    # NOTE: Keras ``normalize`` divides by sqrt(max(sum(x**2), 1e-12)) so zero rows stay zero.
    sq = np.sum(np.square(x), axis=axis, keepdims=True)
    return x / np.sqrt(np.maximum(sq, np.asarray(1e-12, x.dtype)))


def cosine_similarity(y_true, y_pred, axis: int = -1):
    """``sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)`` (the metric's sign: +1 for
    identical directions; the loss of the same name is its negative)."""
    y_true, y_pred = prepare_pair(y_true, y_pred, "cosine_similarity")
    return np.sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), axis=axis)


def _hinge_labels(y_true):
    # Keras maps {0, 1} labels to {-1, 1}, but only when the whole batch is 0/1.
    if np.all((y_true == 0) | (y_true == 1)):
        return 2 * y_true - 1
    return y_true


def hinge(y_true, y_pred):
    """``mean(maximum(1 - y_true * y_pred, 0), axis=-1)``; labels -1/1 (0/1 are mapped)."""
    y_true, y_pred = prepare_pair(y_true, y_pred, "hinge")
    return np.mean(np.maximum(1 - _hinge_labels(y_true) * y_pred, 0), axis=-1)


def squared_hinge(y_true, y_pred):
    """``mean(maximum(1 - y_true * y_pred, 0)**2, axis=-1)``; labels -1/1 (0/1 are mapped)."""
    y_true, y_pred = prepare_pair(y_true, y_pred, "squared_hinge")
    return np.mean(np.square(np.maximum(1 - _hinge_labels(y_true) * y_pred, 0)), axis=-1)


def categorical_hinge(y_true, y_pred):
    """``maximum(max((1 - y_true) * y_pred, -1) - sum(y_true * y_pred, -1) + 1, 0)``."""
    y_true, y_pred = prepare_pair(y_true, y_pred, "categorical_hinge")
    pos = np.sum(y_true * y_pred, axis=-1)
    neg = np.max((1 - y_true) * y_pred, axis=-1)
    return np.maximum(neg - pos + 1, 0)


def kl_divergence(y_true, y_pred):
    """``sum(t * log(t / p), axis=-1)`` with ``t``, ``p`` clipped to ``[epsilon, 1]``."""
    y_true, y_pred = prepare_pair(y_true, y_pred, "kl_divergence")
    t = np.clip(y_true, epsilon(), 1).astype(y_pred.dtype)
    p = np.clip(y_pred, epsilon(), 1).astype(y_pred.dtype)
    return np.sum(t * np.log(t / p), axis=-1)


def poisson(y_true, y_pred):
    """``mean(y_pred - y_true * log(y_pred + epsilon), axis=-1)``."""
    y_true, y_pred = prepare_pair(y_true, y_pred, "poisson")
    eps = np.asarray(epsilon(), y_pred.dtype)
    return np.mean(y_pred - y_true * np.log(y_pred + eps), axis=-1)


def _bce_elementwise(t, o, from_logits: bool):
    if from_logits:
        # NOTE: max(x, 0) - x*z + log1p(exp(-|x|)) never overflows.
        return np.maximum(o, 0) - o * t + np.log1p(np.exp(-np.abs(o)))
    eps = epsilon()
    o = np.clip(o, eps, 1 - eps).astype(o.dtype)
    # NOTE: after the clip the logs are finite; 1 - (1 - eps) is 1.19e-7 in float32.
    return -(t * np.log(o) + (1 - t) * np.log(1 - o))


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """``mean(-(t*log(p) + (1-t)*log(1-p)), axis)`` with ``p`` clipped to ``[eps, 1-eps]``.

    Args:
        from_logits: default False (then ``y_pred`` are logits, computed stably).
        label_smoothing: default 0.0; ``t -> t*(1-ls) + 0.5*ls``.
        axis: default -1.
    """
    y_true, y_pred = prepare_pair(y_true, y_pred, "binary_crossentropy")
    if label_smoothing:
        y_true = y_true * (1 - label_smoothing) + 0.5 * label_smoothing
    return np.mean(_bce_elementwise(y_true, y_pred, from_logits), axis=axis)


def binary_focal_crossentropy(
    y_true,
    y_pred,
    apply_class_balancing=False,
    alpha=0.25,
    gamma=2.0,
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
):
    """``mean((1 - p_t)**gamma * bce, axis)``, ``p_t = t*p + (1-t)*(1-p)``; with class
    balancing also times ``t*alpha + (1-t)*(1-alpha)``. Defaults as Keras: alpha=0.25,
    gamma=2.0."""
    y_true, y_pred = prepare_pair(y_true, y_pred, "binary_focal_crossentropy")
    if label_smoothing:
        y_true = y_true * (1 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = sigmoid(y_pred)
    bce = _bce_elementwise(y_true, y_pred, False)
    p_t = y_true * y_pred + (1 - y_true) * (1 - y_pred)
    focal = np.power(1 - p_t, gamma) * bce
    if apply_class_balancing:
        focal = (y_true * alpha + (1 - y_true) * (1 - alpha)) * focal
    return np.mean(focal, axis=axis).astype(y_pred.dtype)


def _normalized_clipped(y_pred, axis):
    """Probabilities renormalised along ``axis`` and clipped to ``[eps, 1 - eps]``.

    # NOTE: a row summing to 0 is left at 0 (then clipped to eps) instead of Keras's 0/0 NaN.
    """
    s = np.sum(y_pred, axis=axis, keepdims=True)
    out = y_pred / np.where(s == 0, 1, s)
    return np.clip(out, epsilon(), 1 - epsilon()).astype(y_pred.dtype)


def _log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _check_axis(axis):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"axis must be an int, received axis={axis!r}")


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """``-sum(t * log(p), axis)``; ``p`` renormalised over ``axis`` and clipped to
    ``[eps, 1-eps]`` (or ``log_softmax`` of logits).

    Args:
        from_logits: default False.
        label_smoothing: default 0.0; ``t -> t*(1-ls) + ls/num_classes``.
        axis: default -1.

    Raises:
        ValueError: naming both shapes when they differ.
    """
    _check_axis(axis)
    y_pred = to_float(y_pred, arg="y_pred")
    y_true = to_numpy(y_true, y_pred.dtype, "y_true")
    check_same_shape(y_true, y_pred, "categorical_crossentropy")
    if y_pred.shape[-1] == 1:
        warnings.warn(
            "In categorical_crossentropy, expected y_pred.shape to be (batch_size, num_classes) "
            f"with num_classes > 1, received y_pred.shape={y_pred.shape}; consider "
            "binary_crossentropy for 2 classes",
            SyntaxWarning,
            stacklevel=2,
        )
    if label_smoothing:
        y_true = y_true * (1 - label_smoothing) + label_smoothing / y_true.shape[-1]
    log_p = _log_softmax(y_pred, axis) if from_logits else np.log(_normalized_clipped(y_pred, axis))
    return -np.sum(y_true * log_p, axis=axis)


def categorical_focal_crossentropy(
    y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1
):
    """``sum(alpha * (1 - p)**gamma * -t * log(p), axis)`` with ``p`` as in
    :func:`categorical_crossentropy`. Defaults as Keras: alpha=0.25, gamma=2.0."""
    _check_axis(axis)
    y_pred = to_float(y_pred, arg="y_pred")
    y_true = to_numpy(y_true, y_pred.dtype, "y_true")
    check_same_shape(y_true, y_pred, "categorical_focal_crossentropy")
    if label_smoothing:
        y_true = y_true * (1 - label_smoothing) + label_smoothing / y_true.shape[-1]
    if from_logits:
        y_pred = np.exp(_log_softmax(y_pred, axis))
    p = _normalized_clipped(y_pred, axis)
    return np.sum(alpha * np.power(1 - p, gamma) * (-y_true * np.log(p)), axis=axis).astype(p.dtype)


def sparse_labels_and_mask(y_true, y_pred, axis, ignore_class, fn_name):
    """Validated int64 labels of ``y_pred``'s shape without ``axis``, and the valid mask.

    Raises:
        ValueError: naming both shapes when the labels' shape does not fit (e.g. one-hot
            labels); naming the bad label and the range ``[0, C)`` for an out-of-range or
            non-integer label (a negative label never wraps around).
    """
    labels = to_numpy(y_true, arg="y_true")
    axis = axis % y_pred.ndim
    if labels.ndim == y_pred.ndim and labels.shape[axis] == 1:
        labels = np.squeeze(labels, axis=axis)
    expected = y_pred.shape[:axis] + y_pred.shape[axis + 1 :]
    if labels.shape != expected:
        raise ValueError(
            f"{fn_name}: y_true must hold integer class indices with rank one less than y_pred "
            f"(shape {expected}), received y_true.shape={to_numpy(y_true).shape} and "
            f"y_pred.shape={y_pred.shape}"
        )
    valid = np.ones(labels.shape, bool) if ignore_class is None else labels != ignore_class
    num_classes = y_pred.shape[axis]
    bad = valid & ((labels < 0) | (labels >= num_classes) | (labels != np.round(labels)))
    if bad.any():
        raise ValueError(
            f"{fn_name}: labels must be integers in the range [0, {num_classes}), received "
            f"label {labels[bad][0]!r}"
        )
    return np.where(valid, labels, 0).astype(np.int64), valid


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """``-log(p[y_true])`` per sample; ``p`` renormalised and clipped to ``[eps, 1-eps]`` (or
    ``log_softmax`` of logits).

    Args:
        y_true: class indices, shape ``y_pred.shape`` without ``axis`` (a size-1 ``axis`` is
            squeezed).
        from_logits: default False.
        ignore_class: default None; labels equal to it give 0 (and are masked out by the
            ``SparseCategoricalCrossentropy`` metric).
        axis: default -1.

    Raises:
        ValueError: see :func:`sparse_labels_and_mask`.
    """
    _check_axis(axis)
    y_pred = to_float(y_pred, arg="y_pred")
    labels, valid = sparse_labels_and_mask(
        y_true, y_pred, axis, ignore_class, "sparse_categorical_crossentropy"
    )
    pred = np.moveaxis(y_pred, axis, -1)
    if ignore_class is not None:
        pred = np.where(valid[..., None], pred, 0).astype(pred.dtype)
    log_p = _log_softmax(pred, -1) if from_logits else np.log(_normalized_clipped(pred, -1))
    out = -np.take_along_axis(log_p, labels[..., None], axis=-1)[..., 0]
    return np.where(valid, out, 0).astype(y_pred.dtype)
