"""Regression and hinge metrics: running weighted means of per-sample errors.

Matches Keras 3 ``keras/src/metrics/regression_metrics.py`` and ``hinge_metrics.py``. Each
class is ``MeanMetricWrapper(fn)`` over the function of the same name in
:mod:`.loss_functions`, with Keras's default ``name``; ``RootMeanSquaredError`` is the square
root of the running mean of squared errors.
"""

from __future__ import annotations

from ...backend import np
from . import loss_functions as F
from ._utils import prepare_pair
from .base import BuiltinMetricWrapper, Mean

__all__ = [
    "MeanSquaredError",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError",
    "RootMeanSquaredError",
    "CosineSimilarity",
    "LogCoshError",
    "Hinge",
    "SquaredHinge",
    "CategoricalHinge",
]


class MeanSquaredError(BuiltinMetricWrapper):
    """Running weighted mean of ``mean((y_true - y_pred)**2, axis=-1)``.

    Args:
        name: default "mean_squared_error".
        dtype: default ``floatx()``.

    Shapes: ``y_true``, ``y_pred`` ``(batch, ..., d)`` (``(N,)`` against ``(N, 1)`` is
    aligned); ``sample_weight`` ``(batch,)`` or broadcastable. Raises ValueError naming both
    shapes when they differ otherwise.

    Matches Keras 3 ``keras/src/metrics/regression_metrics.py`` ``MeanSquaredError``.

    >>> m = MeanSquaredError()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    >>> m.result()
    0.25
    """

    def __init__(self, name: str = "mean_squared_error", dtype=None):
        super().__init__(F.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(BuiltinMetricWrapper):
    """Running weighted mean of ``mean(abs(y_true - y_pred), axis=-1)``.

    Args:
        name: default "mean_absolute_error".
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/metrics/regression_metrics.py`` ``MeanAbsoluteError``.
    """

    def __init__(self, name: str = "mean_absolute_error", dtype=None):
        super().__init__(F.mean_absolute_error, name=name, dtype=dtype)


class MeanAbsolutePercentageError(BuiltinMetricWrapper):
    """Running weighted mean of ``100 * mean(|(t - p) / max(|t|, eps)|, axis=-1)``.

    Args:
        name: default "mean_absolute_percentage_error".
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/metrics/regression_metrics.py``
    ``MeanAbsolutePercentageError``.
    """

    def __init__(self, name: str = "mean_absolute_percentage_error", dtype=None):
        super().__init__(F.mean_absolute_percentage_error, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(BuiltinMetricWrapper):
    """Running weighted mean of ``mean((log1p(max(p, eps)) - log1p(max(t, eps)))**2, -1)``.

    Args:
        name: default "mean_squared_logarithmic_error".
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/metrics/regression_metrics.py``
    ``MeanSquaredLogarithmicError``.
    """

    def __init__(self, name: str = "mean_squared_logarithmic_error", dtype=None):
        super().__init__(F.mean_squared_logarithmic_error, name=name, dtype=dtype)


class RootMeanSquaredError(Mean):
    """``sqrt(total / count)`` where total/count is the running weighted mean of
    ``(y_pred - y_true)**2`` over every element of every batch seen (not a mean of per-batch
    roots).

    Args:
        name: default "root_mean_squared_error".
        dtype: default ``floatx()``.

    Raises:
        ValueError: naming both shapes when ``y_true`` and ``y_pred`` differ.

    Matches Keras 3 ``keras/src/metrics/regression_metrics.py`` ``RootMeanSquaredError``.

    >>> m = RootMeanSquaredError()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    >>> m.result()
    0.5
    """

    _direction = "down"  # better when higher ("up") or lower; as Keras 3, for mode="auto"

    def __init__(self, name: str = "root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred = prepare_pair(y_true, y_pred, "root_mean_squared_error", self.dtype)
        super().update_state(np.square(y_pred - y_true), sample_weight=sample_weight)

    def result(self) -> float:
        return float(np.sqrt(np.asarray(super().result(), self.dtype)))


class CosineSimilarity(BuiltinMetricWrapper):
    """Running weighted mean of the cosine similarity along ``axis`` (+1: same direction).

    Args:
        name: default "cosine_similarity".
        dtype: default ``floatx()``.
        axis: default -1.

    Matches Keras 3 ``keras/src/metrics/regression_metrics.py`` ``CosineSimilarity``.
    """

    _direction = "up"  # better when higher ("up") or lower; as Keras 3, for mode="auto"

    def __init__(self, name: str = "cosine_similarity", dtype=None, axis: int = -1):
        super().__init__(F.cosine_similarity, name=name, dtype=dtype, axis=axis)

    def get_config(self) -> dict:
        # NOTE: Keras 3.15.1 leaves `axis` out of the config too.
        return {"name": self.name, "dtype": self.dtype}


class LogCoshError(BuiltinMetricWrapper):
    """Running weighted mean of ``mean(log(cosh(y_pred - y_true)), axis=-1)``.

    Args:
        name: default "logcosh".
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/metrics/regression_metrics.py`` ``LogCoshError``.
    """

    def __init__(self, name: str = "logcosh", dtype=None):
        super().__init__(F.log_cosh, name=name, dtype=dtype)


class Hinge(BuiltinMetricWrapper):
    """Running weighted mean of ``mean(maximum(1 - y_true * y_pred, 0), axis=-1)``; 0/1 labels
    are mapped to -1/1 when a whole batch is 0/1.

    Args:
        name: default "hinge".
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/metrics/hinge_metrics.py`` ``Hinge``.
    """

    def __init__(self, name: str = "hinge", dtype=None):
        super().__init__(F.hinge, name=name, dtype=dtype)


class SquaredHinge(BuiltinMetricWrapper):
    """Running weighted mean of ``mean(maximum(1 - y_true * y_pred, 0)**2, axis=-1)``.

    Args:
        name: default "squared_hinge".
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/metrics/hinge_metrics.py`` ``SquaredHinge``.
    """

    def __init__(self, name: str = "squared_hinge", dtype=None):
        super().__init__(F.squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(BuiltinMetricWrapper):
    """Running weighted mean of ``maximum(max((1-t)*p, -1) - sum(t*p, -1) + 1, 0)``.

    Args:
        name: default "categorical_hinge".
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/metrics/hinge_metrics.py`` ``CategoricalHinge``.
    """

    def __init__(self, name: str = "categorical_hinge", dtype=None):
        super().__init__(F.categorical_hinge, name=name, dtype=dtype)
