"""``AUC``: area under the ROC or precision-recall curve from thresholded counts.

Matches Keras 3 ``keras/src/metrics/confusion_metrics.py`` ``AUC``: TP/FP/TN/FN are counted at
``num_thresholds`` thresholds over every batch, and the area is a Riemann sum over them.
"""

from __future__ import annotations

from ...backend import epsilon, np
from ._utils import divide_no_nan, sigmoid, to_float
from .base import Metric
from .confusion import evenly_spaced, update_confusion

__all__ = ["AUC"]

_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "majoring", "minoring")


class AUC(Metric):
    """Approximate area under the ROC or PR curve.

    With thresholds ``t_0 = -eps < t_1 < ... < t_{T-1} = 1 + eps`` (evenly spaced, or the given
    ones plus the two ends), counts ``tp, fp, tn, fn`` per threshold, and ``x``/``y`` the curve
    coordinates (ROC: ``x = fp/(fp+tn)``, ``y = tp/(tp+fn)``; PR: ``x = recall``,
    ``y = precision``)::

        auc = sum((x[:-1] - x[1:]) * h)     # h: (y[:-1] + y[1:]) / 2 ("interpolation"),
                                            # min (minoring) or max (majoring) of the two
        # curve="PR" with "interpolation" uses the Davis & Goadrich (2006) interpolation of
        # precision between thresholds instead.

    Args:
        num_thresholds: default 200 (> 1).
        curve: default "ROC"; "PR" or "PRGAIN" too.
        summation_method: default "interpolation"; "majoring" or "minoring" too.
        name: default "auc" (uniquified: "auc_1", ...).
        dtype: default ``floatx()``.
        thresholds: default None; a list in [0, 1] replacing the evenly spaced ones.
        multi_label: default False (all labels pooled); True: one curve per column of
            ``(N, L)`` inputs, averaged (weighted by ``label_weights``).
        num_labels: default None; the number of labels when ``multi_label``.
        label_weights: default None; per-label weights, shape ``(L,)``.
        from_logits: default False; True applies a sigmoid to ``y_pred`` first.

    Shapes: ``y_true``, ``y_pred`` equal (``(N,)`` against ``(N, 1)`` aligned), labels 0/1.

    Raises:
        ValueError: for a bad curve, summation method, ``num_thresholds`` or threshold;
            for mismatched shapes (both named).

    Matches Keras 3 ``keras/src/metrics/confusion_metrics.py`` ``AUC``.

    >>> m = AUC(num_thresholds=3)
    >>> m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    >>> round(m.result(), 6)
    0.75
    """

    _direction = "up"  # better when higher ("up") or lower; as Keras 3, for mode="auto"

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: str | None = None,
        dtype=None,
        thresholds=None,
        multi_label: bool = False,
        num_labels: int | None = None,
        label_weights=None,
        from_logits: bool = False,
    ):
        if str(curve).lower() not in _CURVES:
            raise ValueError(
                f'Invalid AUC curve value: "{curve}". Expected values are ["PR", "ROC", "PRGAIN"]'
            )
        if str(summation_method).lower() not in _SUMMATIONS:
            raise ValueError(
                f'Invalid AUC summation method value: "{summation_method}". Expected values are '
                '["interpolation", "majoring", "minoring"]'
            )
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            if any(not 0 <= t <= 1 for t in inner):
                raise ValueError(f"thresholds must be in [0, 1], received thresholds={thresholds}")
            self.num_thresholds = len(inner) + 2
            self._evenly = evenly_spaced([0.0, *inner, 1.0])
        else:
            if isinstance(num_thresholds, bool) or int(num_thresholds) <= 1:
                raise ValueError(
                    "Argument `num_thresholds` must be an integer > 1. "
                    f"Received: num_thresholds={num_thresholds}"
                )
            self.num_thresholds = int(num_thresholds)
            n = self.num_thresholds
            inner = [(i + 1) * 1.0 / (n - 1) for i in range(n - 2)]
            self._evenly = True
        # NOTE: the end thresholds sit just outside [0, 1] so predictions of exactly 0 and 1
        # fall strictly inside the curve's range.
        self._thresholds = np.array([0.0 - epsilon(), *inner, 1.0 + epsilon()])
        self.curve = _CURVES[str(curve).lower()]
        self.summation_method = str(summation_method).lower()
        super().__init__(name=name, dtype=dtype)
        self.multi_label = bool(multi_label)
        self.num_labels = num_labels
        self.label_weights = (
            None if label_weights is None else np.asarray(label_weights, self.dtype)
        )
        self._from_logits = from_logits
        self._built = False
        if self.multi_label:
            if num_labels:
                self._build((None, num_labels))
        else:
            if num_labels:
                raise ValueError("`num_labels` is needed only when `multi_label` is True.")
            self._build(None)

    @property
    def thresholds(self) -> list:
        return list(self._thresholds)

    def _build(self, shape) -> None:
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError(
                    "`y_pred` must have rank 2 when `multi_label=True`. Found rank "
                    f"{len(shape)}. Full shape received for `y_pred`: {shape}"
                )
            self._num_labels = shape[1]
            var_shape = (self.num_thresholds, shape[1])
        else:
            var_shape = (self.num_thresholds,)
        self.true_positives = self._add_state(var_shape, "true_positives")
        self.false_positives = self._add_state(var_shape, "false_positives")
        self.true_negatives = self._add_state(var_shape, "true_negatives")
        self.false_negatives = self._add_state(var_shape, "false_negatives")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_pred = to_float(y_pred, self.dtype, "y_pred")
        if not self._built:
            self._build(y_pred.shape)
        if self._from_logits:
            y_pred = sigmoid(y_pred)
        update_confusion(
            {
                "tp": self.true_positives.data,
                "tn": self.true_negatives.data,
                "fp": self.false_positives.data,
                "fn": self.false_negatives.data,
            },
            y_true,
            y_pred,
            self._thresholds,
            evenly=self._evenly,
            sample_weight=sample_weight,
            multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights,
            dtype=self.dtype,
        )

    def _average_labels(self, per_threshold):
        if not self.multi_label:
            return np.sum(per_threshold)
        by_label = np.sum(per_threshold, axis=0)
        if self.label_weights is None:
            return np.mean(by_label)
        return divide_no_nan(np.sum(by_label * self.label_weights), np.sum(self.label_weights))

    def _interpolate_pr_auc(self):
        """Davis & Goadrich (2006) PR interpolation (Keras ``interpolate_pr_auc``)."""
        tp, fp = self.true_positives.data, self.false_positives.data
        fn = self.false_negatives.data
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1).astype(p.dtype)
        increments = divide_no_nan(
            slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0)
        )
        return self._average_labels(increments)

    def result(self) -> float:
        if not self._built:
            return 0.0
        if self.curve == "PR" and self.summation_method == "interpolation":
            return float(self._interpolate_pr_auc())
        tp, fp = self.true_positives.data, self.false_positives.data
        tn, fn = self.true_negatives.data, self.false_negatives.data
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, divide_no_nan(tp, tp + fp)
        else:
            scale = divide_no_nan(tp + fn, tn + fp)
            recall_gain = 1.0 - scale * divide_no_nan(fn, tp)
            precision_gain = 1.0 - scale * divide_no_nan(fp, tp)
            x = np.maximum(np.where(tp == 0, 0.0, recall_gain), 0.0).astype(tp.dtype)
            y = np.where(tp == 0, 1.0, precision_gain).astype(tp.dtype)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return float(self._average_labels((x[:-1] - x[1:]) * heights))

    def reset_state(self) -> None:
        if self._built:
            super().reset_state()

    def get_config(self) -> dict:
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
            "from_logits": self._from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config
