"""The reduction metrics ``Sum``, ``Mean`` and ``MeanMetricWrapper`` (``Metric`` itself is in
``metric.py`` and re-exported here).

The built-ins are plain NumPy: the trainer hands them ``y_true`` / ``y_pred`` arrays once per
batch, nothing here records a graph, and each state Variable's ``.data`` array is updated in
place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...backend import np
from ..naming import auto_name
from ._utils import align_ranks, divide_no_nan, to_float, to_numpy
from .metric import Metric, MetricVariable

__all__ = ["Metric", "MetricVariable", "Sum", "Mean", "MeanMetricWrapper"]


def _scalar(x):
    """A 0-d result as a Python float; arrays stay arrays."""
    x = np.asarray(x)
    return float(x) if x.ndim == 0 else x


def reduce_to_samplewise(values, sample_weight, reduce_fn, dtype):
    """Reduce ``values`` to one number per sample, applying ``sample_weight`` on the way.

    Matches Keras 3 ``keras/src/metrics/reduction_metrics.py``
    ``reduce_to_samplewise_values``: the weights are rank-aligned with the values; values are
    reduced (with ``reduce_fn``) down to the weights' rank, multiplied by the broadcast
    weights, and both are then reduced over every axis but the first.

    Raises:
        ValueError: naming both shapes when the weights do not broadcast to the values.
    """
    values = to_float(values, dtype, "values")
    if sample_weight is not None:
        sample_weight = to_float(sample_weight, dtype, "sample_weight")
        values, sample_weight = align_ranks(values, sample_weight)
        w_ndim = sample_weight.ndim
        if values.ndim > w_ndim:
            values = reduce_fn(values, axis=tuple(range(w_ndim, values.ndim)))
        try:
            sample_weight = np.broadcast_to(sample_weight, values.shape)
        except ValueError:
            raise ValueError(
                f"sample_weight of shape {sample_weight.shape} does not broadcast to the "
                f"per-sample values of shape {values.shape}"
            ) from None
        values = values * sample_weight
        if w_ndim > 1:
            sample_weight = reduce_fn(sample_weight, axis=tuple(range(1, w_ndim)))
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of all values seen.

    ``total += sum(values * sample_weight)``.

    Args:
        name: default "sum".
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/metrics/reduction_metrics.py`` ``Sum``.

    >>> m = Sum()
    >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    >>> m.result()
    4.0
    """

    def __init__(self, name: str = "sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self._add_state((), "total")

    def update_state(self, values, sample_weight=None) -> None:
        values, _ = reduce_to_samplewise(values, sample_weight, np.sum, self.dtype)
        self.total.data += np.sum(values, dtype=self.dtype)

    def result(self) -> float:
        return _scalar(self.total.data)


class Mean(Metric):
    """The (weighted) mean of all values seen: ``total / count``.

    ``total += sum(values * w)``; ``count += sum(w)`` (or the number of samples when
    ``sample_weight`` is None). The result is 0 while ``count`` is 0.

    Args:
        name: default "mean".
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/metrics/reduction_metrics.py`` ``Mean``.

    >>> m = Mean()
    >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    >>> m.result()
    2.0
    """

    def __init__(self, name: str = "mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self._add_state((), "total")
        self.count = self._add_state((), "count")

    def update_state(self, values, sample_weight=None) -> None:
        values, sample_weight = reduce_to_samplewise(values, sample_weight, np.mean, self.dtype)
        self.total.data += np.sum(values, dtype=self.dtype)
        if sample_weight is not None:
            num = np.sum(sample_weight, dtype=self.dtype)
        elif values.ndim >= 1:
            num = values.shape[0]
        else:
            num = 1
        self.count.data += np.asarray(num, dtype=self.dtype)

    def result(self) -> float:
        return _scalar(divide_no_nan(self.total.data, self.count.data))


class MeanMetricWrapper(Mean):
    """The running (weighted) mean of a per-sample function ``fn(y_true, y_pred, **kwargs)``.

    Args:
        fn: the function; it returns per-sample values (a NumPy array or chainrule Tensor).
        name: default "mean_metric_wrapper" (uniquified); ``compile`` renames it.
        dtype: default ``floatx()``.
        **kwargs: passed on to ``fn`` on every call.

    Shapes: ``y_true`` and ``y_pred`` as ``fn`` expects; ``sample_weight`` broadcastable to
    ``fn``'s output (e.g. ``(batch,)``).

    Matches Keras 3 ``keras/src/metrics/reduction_metrics.py`` ``MeanMetricWrapper``.
    """

    _direction = "down"  # better when higher ("up") or lower; as Keras 3, for mode="auto"

    def __init__(self, fn: Callable, name: str | None = None, dtype=None, **kwargs: Any):
        if not callable(fn):
            raise TypeError(f"fn must be callable, received fn={fn!r}")
        super().__init__(name=name or auto_name("MeanMetricWrapper"), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def _mask(self, y_true, y_pred):
        """Per-value 0/1 mask of entries to ignore (None: keep all); overridden by subclasses."""
        return None

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        values = to_numpy(self._fn(y_true, y_pred, **self._fn_kwargs), arg="fn output")
        # NOTE: as in Keras 3.15.1, a mask only zeroes sample weights that were given; without
        # sample_weight, masked values count as 0 in the mean (Keras's own tests expect this).
        mask = None if sample_weight is None else self._mask(y_true, y_pred)
        if mask is not None:
            mask, sample_weight = align_ranks(
                mask.astype(self.dtype), to_float(sample_weight, self.dtype)
            )
            sample_weight = sample_weight * mask
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self) -> dict:
        from .registry import serialize  # noqa: PLC0415 - registry imports this module

        return {**super().get_config(), "fn": serialize(self._fn), **self._fn_kwargs}

    @classmethod
    def from_config(cls, config: dict) -> MeanMetricWrapper:
        from .registry import deserialize  # noqa: PLC0415

        config = dict(config)
        if "fn" in config:
            config["fn"] = deserialize(config["fn"])
        return cls(**config)


class BuiltinMetricWrapper(MeanMetricWrapper):
    """The base of Keras's built-in ``MeanMetricWrapper`` classes (``MeanSquaredError``,
    ``BinaryAccuracy``, ...): each keyword argument for ``fn`` is also an attribute, and the
    config is ``name``, ``dtype`` and those arguments (no ``fn``: the class implies it).

    Args:
        fn: the per-sample function. name, dtype: as ``MeanMetricWrapper``.
        **kwargs: passed on to ``fn``; each is also stored as ``self.<key>``.

    Matches the ``get_config`` of the classes in Keras 3 ``keras/src/metrics/``.
    """

    def __init__(self, fn: Callable, name: str | None = None, dtype=None, **kwargs: Any):
        super().__init__(fn, name=name, dtype=dtype, **kwargs)
        for key, value in kwargs.items():
            setattr(self, key, value)

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype,
                **{key: getattr(self, key) for key in self._fn_kwargs}}  # fmt: skip
