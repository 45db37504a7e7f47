"""The metric base class and the reduction metrics ``Sum``, ``Mean`` and ``MeanMetricWrapper``.

Metrics are plain NumPy: the trainer hands them ``y_true`` / ``y_pred`` arrays once per batch,
and nothing here records a graph. State lives in NumPy arrays updated in place, listed by
``Metric.variables`` in Keras's order (for saving).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...backend import floatx, np
from ..naming import auto_name
from ._utils import align_ranks, divide_no_nan, to_float, to_numpy

__all__ = ["Metric", "Sum", "Mean", "MeanMetricWrapper"]


class Metric:
    """Base class of stateful metrics: ``update_state`` per batch, ``result`` at any time.

    Subclasses create their state in ``__init__`` with :meth:`add_variable` and update it in
    place in ``update_state``. ``reset_state`` zeroes every state array.

    Args:
        name: the metric's name (default: the snake_case class name, made unique with ``_1``,
            ``_2``, ... as Keras does).
        dtype: the dtype of the state and result (default ``floatx()``, float32).

    Matches Keras 3 ``keras/src/metrics/metric.py``.
    """

    def __init__(self, name: str | None = None, dtype=None):
        self.name = name or auto_name(type(self).__name__)
        self._dtype = np.dtype(dtype or floatx()).name
        self._variables: list = []
        self._variable_names: list[str] = []

    @property
    def dtype(self) -> str:
        return self._dtype

    def add_variable(self, shape=(), initializer="zeros", dtype=None, name: str | None = None):
        """Create a zero- or one-filled state array of ``shape`` and register it."""
        if initializer not in ("zeros", "ones"):
            raise ValueError(
                f"initializer must be 'zeros' or 'ones', received initializer={initializer!r}"
            )
        fill = np.zeros if initializer == "zeros" else np.ones
        arr = fill(tuple(shape), dtype=dtype or self.dtype)
        self._variables.append(arr)
        self._variable_names.append(name or f"variable_{len(self._variables) - 1}")
        return arr

    @property
    def variables(self) -> list:
        """The state arrays, in Keras's order (e.g. ``[total, count]`` for ``Mean``)."""
        return list(self._variables)

    @property
    def variable_paths(self) -> list[str]:
        """Keras-style paths of :attr:`variables`, e.g. ``["mean/total", "mean/count"]``."""
        return [f"{self.name}/{n}" for n in self._variable_names]

    def reset_state(self) -> None:
        """Zero every state array in place."""
        for v in self._variables:
            v[...] = 0

    def update_state(self, *args, **kwargs) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement update_state")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement result")

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict) -> Metric:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


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
        self.total = self.add_variable((), name="total")

    def update_state(self, values, sample_weight=None) -> None:
        values, _ = reduce_to_samplewise(values, sample_weight, np.sum, self.dtype)
        self.total += np.sum(values, dtype=self.dtype)

    def result(self) -> float:
        return _scalar(self.total)


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
        self.total = self.add_variable((), name="total")
        self.count = self.add_variable((), name="count")

    def update_state(self, values, sample_weight=None) -> None:
        values, sample_weight = reduce_to_samplewise(values, sample_weight, np.mean, self.dtype)
        self.total += np.sum(values, dtype=self.dtype)
        if sample_weight is not None:
            num = np.sum(sample_weight, dtype=self.dtype)
        elif values.ndim >= 1:
            num = values.shape[0]
        else:
            num = 1
        self.count += np.asarray(num, dtype=self.dtype)

    def result(self) -> float:
        return _scalar(divide_no_nan(self.total, self.count))


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
