"""Circle loss (Sun et al. 2020, "Circle Loss: A Unified Perspective of Pair Similarity
Optimization") between integer labels and L2-normalised embeddings.

Each query row is compared with every reference row (by default the batch itself) through
the cosine distance ``d = max(1 - y_pred @ ref.T, 0)``; pairs with the same label are
positives (the query itself excluded when ``remove_diagonal``), the others negatives. As in
Keras, the per-sample values carry a mask ``loss > 0`` that the ``Loss`` classes honour: a row
with no positive or no negative pair has loss 0 and is left out of the mean.
Matches Keras 3 ``keras/src/losses/losses.py`` (``circle``, ``Circle``).
"""

from __future__ import annotations

import numbers

from ... import ops
from ...autodiff.tensor import Tensor
from ...backend import np
from .loss import BuiltinLoss, _as_pred, _cast_pred, _data

__all__ = ["circle", "Circle"]

_SBS = "sum_over_batch_size"


def _check_number(value, arg: str) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value):
        raise ValueError(f"{arg} must be a finite number, received {arg}={value!r}")
    return float(value)


def _check_args(gamma, margin, remove_diagonal) -> tuple[float, float]:
    gamma = _check_number(gamma, "gamma")
    if gamma <= 0:
        raise ValueError(f"gamma must be a positive number, received gamma={gamma!r}")
    margin = _check_number(margin, "margin")
    if not isinstance(remove_diagonal, (bool, np.bool_)):
        raise ValueError(
            f"remove_diagonal must be a bool, received remove_diagonal={remove_diagonal!r}"
        )
    return gamma, margin


def _int_labels(labels, arg: str, rows: int):
    """``labels`` as a 1-D int64 array of ``rows`` entries (shape ``(rows,)`` or
    ``(rows, 1)``; float arrays must hold whole numbers)."""
    arr = np.asarray(_data(labels))
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{arg} must hold integer labels, received dtype {arr.dtype}")
    if arr.shape not in ((rows,), (rows, 1)):
        raise ValueError(
            f"circle: {arg} must have shape ({rows},) or ({rows}, 1), one integer label per "
            f"embedding row, received {arg}.shape={arr.shape}"
        )
    arr = arr.reshape(rows)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            raise ValueError(
                f"circle: {arg} must hold integer labels, received {arr[bad][0].item()!r}"
            )
    return arr.astype(np.int64)


def _masks(labels, ref_labels, remove_diagonal: bool):
    positive = labels[:, None] == ref_labels[None, :]
    negative = ~positive
    if remove_diagonal:
        positive &= ~np.eye(labels.size, ref_labels.size, dtype=bool)
    return positive, negative


def _logsumexp_rows(x: Tensor, mask, dtype) -> Tensor:
    """``logsumexp`` over axis 1 of the entries of ``x`` where ``mask`` holds.

    # NOTE: a row with no such entry is filled with zeros instead of -inf: its logsumexp
    # would be -inf with a 0/0 gradient; the caller drops those rows, so their value is never
    # used, and the zeros keep the gradient (and NumPy) free of NaN and warnings.
    """
    has_any = mask.any(axis=1)
    fill = np.where(has_any, -np.inf, 0.0).astype(dtype)[:, None]
    return ops.logsumexp(ops.where(mask, x, fill), axis=1), has_any


def circle(
    y_true,
    y_pred,
    ref_labels=None,
    ref_embeddings=None,
    remove_diagonal: bool = True,
    gamma: float = 80,
    margin: float = 0.4,
) -> Tensor:
    """Circle loss of each query embedding against the reference embeddings.

    With ``d = max(1 - y_pred @ ref_embeddings.T, 0)`` (cosine distances, shape ``(N, M)``)::

        pos_logit = -gamma * max(margin + d, 0) * (margin - d)        # positive pairs
        neg_logit = gamma * max(1 + margin - d, 0) * (1 - margin - d)  # negative pairs
        loss = softplus(logsumexp(pos_logit over positives) + logsumexp(neg_logit over
                                                                        negatives))

    A row with no positive or no negative pair gets 0 (``softplus(-inf)``), with gradient 0.

    Args:
        y_true: integer labels of the query rows, shape ``(N,)`` or ``(N, 1)`` (float arrays
            holding whole numbers are accepted).
        y_pred: L2-normalised query embeddings, shape ``(N, D)`` (not normalised here: use
            ``UnitNormalization`` as the model's last layer).
        ref_labels: integer labels of the reference rows, shape ``(M,)``; default ``y_true``.
        ref_embeddings: L2-normalised reference embeddings ``(M, D)``; default ``y_pred``.
        remove_diagonal: leave pair ``(i, i)`` out of the positives (default True).
        gamma: the scale, ``> 0`` (default 80).
        margin: the relaxation margin (default 0.4).

    Returns:
        Tensor of shape ``(N,)``.

    Raises:
        ValueError: if ``y_pred`` or ``ref_embeddings`` is not rank 2, their widths differ,
            a label array's size does not match its embeddings (``ref_labels`` is needed when
            ``ref_embeddings`` has another number of rows), a label is not a whole number, or
            ``gamma``/``margin``/``remove_diagonal`` is malformed.

    Matches Keras 3 ``keras/src/losses/losses.py:circle`` (paper: Sun et al. 2020,
    arXiv:2002.10857). The function returns the values only; Keras attaches the mask
    ``loss > 0`` to them, which :class:`Circle` (and ``losses.get("circle")``) apply.

    >>> e = [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    >>> [round(v, 4) for v in circle([0, 0, 1], e).numpy().tolist()]
    [0.0, 0.0, 0.0]
    """
    gamma, margin = _check_args(gamma, margin, remove_diagonal)
    y_pred = _as_pred(y_pred)
    if y_pred.ndim != 2:
        raise ValueError(
            f"circle expects y_pred of shape (batch_size, embedding_dim), received "
            f"y_pred.shape={y_pred.shape}"
        )
    n, width = y_pred.shape
    labels = _int_labels(y_true, "y_true", n)
    if ref_embeddings is None:
        ref = y_pred
    else:
        ref = _cast_pred(ref_embeddings, y_pred.dtype)
        if ref.ndim != 2 or ref.shape[1] != width:
            raise ValueError(
                f"circle expects ref_embeddings of shape (num_references, {width}) to match "
                f"y_pred.shape={y_pred.shape}, received ref_embeddings.shape={ref.shape}"
            )
    if ref_labels is None:
        if ref.shape[0] != n:
            raise ValueError(
                f"circle: ref_labels is needed when ref_embeddings has {ref.shape[0]} rows and "
                f"y_pred has {n} (the default, y_true, labels only y_pred's rows)"
            )
        ref_lab = labels
    else:
        ref_lab = _int_labels(ref_labels, "ref_labels", ref.shape[0])
    positive, negative = _masks(labels, ref_lab, bool(remove_diagonal))
    dtype = y_pred.dtype

    dist = ops.maximum(ops.subtract(1.0, ops.matmul(y_pred, ops.transpose(ref))), 0.0)
    # Keras masks the weights before clamping them at 0; the same order keeps its gradient.
    pos_w = ops.maximum(ops.multiply(ops.add(dist, margin), positive.astype(dtype)), 0.0)
    neg_w = ops.maximum(ops.multiply(ops.subtract(1.0 + margin, dist), negative.astype(dtype)), 0.0)
    pos_logit = ops.multiply(ops.multiply(pos_w, -gamma), ops.subtract(margin, dist))
    neg_logit = ops.multiply(ops.multiply(neg_w, gamma), ops.subtract(1.0 - margin, dist))
    p_lse, has_pos = _logsumexp_rows(pos_logit, positive, dtype)
    n_lse, has_neg = _logsumexp_rows(neg_logit, negative, dtype)
    valid = has_pos & has_neg
    out = ops.softplus(ops.add(p_lse, n_lse))
    if valid.all():
        return out
    return ops.where(valid, out, np.zeros((), dtype))


def _positive(values: Tensor):
    # Keras's mask (backend.set_keras_mask(circle_loss, circle_loss > 0)): rows with no
    # positive or no negative pair, and rows whose loss underflows to 0, leave the mean.
    return values.data > 0


circle.values_mask = _positive  # (read by LossFunctionWrapper._call_with_mask)


class Circle(BuiltinLoss):
    """Circle loss; see :func:`circle` for the formula.

    ``y_true``: integer labels ``(N,)``; ``y_pred``: L2-normalised embeddings ``(N, D)``; the
    batch is its own reference set. Per-sample values ``(N,)``; rows whose loss is 0 (no
    positive or no negative pair in the batch) are masked out of the reduction, as in Keras
    (so ``"sum_over_batch_size"`` divides by the number of rows with a non-zero loss).

    Args:
        gamma: default 80.0. margin: default 0.4. remove_diagonal: default True.
        reduction: default ``"sum_over_batch_size"``. name: default ``"circle"``.
        dtype: default ``floatx()``.

    Raises:
        ValueError: for a bad ``gamma``, ``margin``, ``remove_diagonal`` or ``reduction`` at
            construction; at call time as :func:`circle`.

    Matches Keras 3 ``keras/src/losses/losses.py:Circle`` (config keys ``name, reduction,
    gamma, margin, remove_diagonal``).

    >>> e = [[0.6, 0.8], [0.8, 0.6], [0.0, 1.0], [1.0, 0.0]]
    >>> round(float(Circle()([0, 0, 1, 1], e)), 3)
    65.664
    """

    def __init__(
        self,
        gamma=80.0,
        margin=0.4,
        remove_diagonal=True,
        reduction=_SBS,
        name="circle",
        dtype=None,
    ):
        _check_args(gamma, margin, remove_diagonal)
        super().__init__(
            circle,
            reduction=reduction,
            name=name,
            dtype=dtype,
            gamma=gamma,
            margin=margin,
            remove_diagonal=remove_diagonal,
        )
