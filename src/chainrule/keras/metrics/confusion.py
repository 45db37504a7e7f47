"""Confusion-matrix metrics: TruePositives, ..., Precision and Recall (AUC is in ``auc.py``).

Matches Keras 3 ``keras/src/metrics/confusion_metrics.py`` and ``metrics_utils.py``
(``update_confusion_matrix_variables``). A prediction counts as positive at threshold ``t``
when ``y_pred > t``; labels count as positive when non-zero. State is float32 count arrays of
one entry per threshold.
"""

from __future__ import annotations

from ...backend import epsilon, np
from ._utils import align_ranks, divide_no_nan, to_float
from .base import Metric

__all__ = [
    "TruePositives",
    "FalsePositives",
    "TrueNegatives",
    "FalseNegatives",
    "Precision",
    "Recall",
]

NEG_INF = -1e10
_CONDS = ("tp", "fp", "tn", "fn")


def parse_thresholds(thresholds, default):
    """A list of thresholds, each checked to lie in [0, 1]."""
    if thresholds is None:
        return [default]
    values = list(thresholds) if isinstance(thresholds, (list, tuple)) else [thresholds]
    bad = [t for t in values if t is None or not 0 <= t <= 1]
    if bad:
        raise ValueError(f"thresholds must be in [0, 1], received thresholds={thresholds!r}")
    return [float(t) for t in values]


def evenly_spaced(thresholds) -> bool:
    """True when the thresholds are ``i / (n - 1)`` for ``n >= 3`` (Keras's fast path)."""
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(thresholds, even, atol=epsilon()))


def _filter_top_k(x, k):
    """Keep each row's ``k`` largest entries; the rest become ``NEG_INF``."""
    keep = np.zeros(x.shape, bool)
    idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    np.put_along_axis(keep, idx, True, axis=-1)
    return np.where(keep, x, np.asarray(NEG_INF, x.dtype))


def update_confusion(
    state: dict,
    y_true,
    y_pred,
    thresholds,
    *,
    evenly=False,
    top_k=None,
    class_id=None,
    sample_weight=None,
    multi_label=False,
    label_weights=None,
    dtype="float32",
):
    """Add this batch's weighted TP/FP/TN/FN counts per threshold to the arrays in ``state``.

    Args:
        state: maps "tp", "fp", "tn", "fn" (any subset) to count arrays, updated in place.
        thresholds: the thresholds (length T); the arrays are ``(T,)``, or ``(T, labels)``
            with ``multi_label``.
        evenly: thresholds are evenly spaced (bucket counting instead of a T x N comparison;
            same counts).

    Raises:
        ValueError: naming both shapes when ``y_true`` and ``y_pred`` differ; when
            ``class_id`` is given with rank-1 ``y_pred``.
    """
    y_true = to_float(y_true, dtype, "y_true")
    y_pred = to_float(y_pred, dtype, "y_pred")
    y_pred, y_true = align_ranks(y_pred, y_true)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape, received y_true.shape={y_true.shape} "
            f"and y_pred.shape={y_pred.shape}"
        )
    if sample_weight is not None:
        sample_weight = to_float(sample_weight, dtype, "sample_weight")[..., None]
        _, sample_weight = align_ranks(y_true, sample_weight, expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError(
                "When class_id is provided, y_pred must be a 2D array with shape "
                f"(num_samples, num_classes), found shape: {y_pred.shape}"
            )
        y_true = y_true[..., class_id, None]
        y_pred = y_pred[..., class_id, None]
    weights = np.ones((), dtype)
    if sample_weight is not None:
        try:
            weights = np.broadcast_to(sample_weight, y_pred.shape)
        except ValueError:
            raise ValueError(
                f"sample_weight of shape {sample_weight.shape[:-1]} does not broadcast to "
                f"y_pred of shape {y_pred.shape}"
            ) from None
    if label_weights is not None and not multi_label:
        weights = weights * np.broadcast_to(np.asarray(label_weights, dtype), y_pred.shape)
    weights = np.broadcast_to(weights, y_pred.shape).astype(dtype)
    positive = y_true != 0
    if multi_label:
        flat = (y_pred, positive, weights)  # (N, L): counts per label
    else:
        flat = (y_pred.reshape(-1, 1), positive.reshape(-1, 1), weights.reshape(-1, 1))
    pred, pos, w = flat
    thr = np.asarray(thresholds, dtype)
    if evenly:
        tp, fp = _bucket_counts(pred, pos, w, thr)
    else:
        above = pred[None] > thr.reshape(-1, 1, 1)  # (T, N, L)
        tp = np.sum(np.where(above & pos[None], w[None], 0), axis=1, dtype=dtype)
        fp = np.sum(np.where(above & ~pos[None], w[None], 0), axis=1, dtype=dtype)
    total_pos = np.sum(np.where(pos, w, 0), axis=0, dtype=dtype)
    total_neg = np.sum(np.where(pos, 0, w), axis=0, dtype=dtype)
    counts = {"tp": tp, "fp": fp, "tn": total_neg - fp, "fn": total_pos - tp}
    for cond, arr in state.items():
        c = counts[cond]
        arr += (c if multi_label else c[:, 0]).astype(arr.dtype)


def _bucket_counts(pred, pos, w, thr):
    """Counts for evenly spaced thresholds by bucketing each prediction once.

    Prediction ``p`` lands in bucket ``ceil(p * (T - 1)) - 1`` (clamped at 0 when the end
    thresholds sit just outside [0, 1]); it is above every threshold up to its bucket, so the
    counts are reversed cumulative sums of the per-bucket weights (Keras
    ``_update_confusion_matrix_variables_optimized``).
    """
    n_thr = thr.shape[0]
    with_eps = bool(thr[0] < 0 or thr[-1] > 1)
    p = np.clip(pred, 0, 1)
    buckets = np.ceil(p * np.asarray(n_thr - 1, p.dtype)) - 1
    if with_eps:
        buckets = np.maximum(buckets, 0)
    buckets = buckets.astype(np.int64)
    n_labels = pred.shape[1]
    keep = buckets >= 0
    ids = (buckets + n_thr * np.arange(n_labels)[None, :])[keep]
    size = n_thr * n_labels
    wt = np.where(pos, w, 0)[keep]
    wf = np.where(pos, 0, w)[keep]
    # NOTE: accumulated in the state dtype, in order, as Keras's segment_sum + cumsum do, so
    # weighted counts round the same way.
    tp_b = np.zeros(size, pred.dtype)
    fp_b = np.zeros(size, pred.dtype)
    np.add.at(tp_b, ids, wt)
    np.add.at(fp_b, ids, wf)
    tp = np.cumsum(tp_b.reshape(n_labels, n_thr).T[::-1], axis=0, dtype=pred.dtype)[::-1]
    fp = np.cumsum(fp_b.reshape(n_labels, n_thr).T[::-1], axis=0, dtype=pred.dtype)[::-1]
    return tp, fp


def _first_or_all(x):
    x = np.asarray(x)
    return float(x[0]) if x.shape == (1,) else x


class _ConfusionCount(Metric):
    _cond = ""

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = parse_thresholds(thresholds, 0.5)
        self._evenly = evenly_spaced(self.thresholds)
        self.accumulator = self._add_state((len(self.thresholds),), "accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        update_confusion(
            {self._cond: self.accumulator.data},
            y_true,
            y_pred,
            self.thresholds,
            evenly=self._evenly,
            sample_weight=sample_weight,
            dtype=self.dtype,
        )

    def result(self):
        return _first_or_all(self.accumulator.data.copy())

    def get_config(self) -> dict:
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionCount):
    """Weighted count of ``y_true != 0 and y_pred > threshold`` (per threshold).

    Args:
        thresholds: default None (one threshold, 0.5); a float or list in [0, 1].
        name: default "true_positives" (uniquified).
        dtype: default ``floatx()``.

    Returns (``result``): a float for one threshold, else an array.

    Matches Keras 3 ``keras/src/metrics/confusion_metrics.py`` ``TruePositives``.
    """

    _cond = "tp"


class FalsePositives(_ConfusionCount):
    """Weighted count of ``y_true == 0 and y_pred > threshold``; arguments as
    :class:`TruePositives`. Matches Keras 3 ``FalsePositives``."""

    _cond = "fp"


class TrueNegatives(_ConfusionCount):
    """Weighted count of ``y_true == 0 and y_pred <= threshold``; arguments as
    :class:`TruePositives`. Matches Keras 3 ``TrueNegatives``."""

    _cond = "tn"


class FalseNegatives(_ConfusionCount):
    """Weighted count of ``y_true != 0 and y_pred <= threshold``; arguments as
    :class:`TruePositives`. Matches Keras 3 ``FalseNegatives``."""

    _cond = "fn"


class _PrecisionRecall(Metric):
    _second = ""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if top_k is not None and (isinstance(top_k, bool) or int(top_k) != top_k or top_k < 1):
            raise ValueError(f"top_k must be a positive integer or None, received top_k={top_k!r}")
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        default = 0.5 if top_k is None else NEG_INF
        self.thresholds = parse_thresholds(thresholds, default)
        self._evenly = evenly_spaced(self.thresholds)
        n = len(self.thresholds)
        self.true_positives = self._add_state((n,), "true_positives")
        other = "false_positives" if self._second == "fp" else "false_negatives"
        self._other = self._add_state((n,), other)
        setattr(self, other, self._other)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        update_confusion(
            {"tp": self.true_positives.data, self._second: self._other.data},
            y_true,
            y_pred,
            self.thresholds,
            evenly=self._evenly,
            top_k=self.top_k,
            class_id=self.class_id,
            sample_weight=sample_weight,
            dtype=self.dtype,
        )

    def result(self):
        tp = self.true_positives.data
        return _first_or_all(divide_no_nan(tp, tp + self._other.data))

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }


class Precision(_PrecisionRecall):
    """``tp / (tp + fp)`` over all batches, per threshold (0 when nothing is predicted).

    Args:
        thresholds: default None: 0.5, or with ``top_k`` a threshold of -1e10 (every kept
            score counts); a float or list of floats in [0, 1].
        top_k: default None; only each row's ``k`` highest scores can count as positive.
        class_id: default None; restrict to one column of ``(N, C)`` inputs.
        name: default "precision" (uniquified: "precision_1", ...).
        dtype: default ``floatx()``.

    Returns (``result``): a float for one threshold, else an array.

    Raises:
        ValueError: for thresholds outside [0, 1]; mismatched shapes (both named).

    Matches Keras 3 ``keras/src/metrics/confusion_metrics.py`` ``Precision``.

    >>> m = Precision()
    >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    >>> round(m.result(), 6)
    0.666667
    """

    _direction = "up"  # better when higher ("up") or lower; as Keras 3, for mode="auto"

    _second = "fp"


class Recall(_PrecisionRecall):
    """``tp / (tp + fn)`` over all batches, per threshold (0 when there are no positives).

    Args: as :class:`Precision`; name default "recall".

    Matches Keras 3 ``keras/src/metrics/confusion_metrics.py`` ``Recall``.
    """

    _second = "fn"
