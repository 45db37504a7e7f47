"""The metric base class ``Metric`` and its state, ``MetricVariable``.

A metric's state is a list of non-trainable Variables made by ``add_variable``: custom metrics
update them with ``assign``/``assign_add`` and ``keras.ops`` as in Keras's guides, the
built-ins in place on their NumPy ``.data`` (cheap per batch). ``Metric.variables`` lists them
in Keras's order.

Matches Keras 3 ``keras/src/metrics/metric.py``.
"""

from __future__ import annotations

from ...backend import floatx, np
from ..naming import auto_name
from ..variables import Variable

__all__ = ["Metric", "MetricVariable"]


_AGGREGATIONS = (None, "none", "mean", "sum", "only_first_replica")


class MetricVariable(Variable):
    """A metric's state: a non-trainable :class:`~chainrule.keras.variables.Variable` that
    also carries Keras's ``aggregation`` and ``synchronization`` ("on_read") labels.

    On one device they change nothing; they are kept so that code reading them works.
    """

    __slots__ = ("aggregation", "synchronization")


class Metric:
    """Base class of stateful metrics: ``update_state`` per batch, ``result`` at any time.

    Subclasses create their state in ``__init__`` with :meth:`add_variable` (non-trainable
    Variables, updated with ``assign``/``assign_add`` or, in the built-ins, in place on their
    NumPy ``.data``) and compute ``result()`` from it. ``reset_state`` sets every variable to
    zeros. A Variable or Metric assigned to an attribute is tracked, so ``variables`` lists
    this metric's own variables, then those of its sub-metrics, as Keras does.

    A subclass's ``result`` may return one of its Variables (``return self.true_positives``),
    live, as in Keras; ``fit`` reads the results as values (``get_metrics_result``), so an
    epoch's logs keep the training value when validation refills the metric (Keras 3.15.1's
    fit on torch logs the validation value under the training key there).

    Args:
        dtype: the dtype of the metric's computations (default ``floatx()``, float32).
        name: the metric's name (default: the snake_case class name, made unique with ``_1``,
            ``_2``, ... as Keras does).

    Matches Keras 3 ``keras/src/metrics/metric.py``.

    >>> class Total(Metric):
    ...     def __init__(self, name="total", **kwargs):
    ...         super().__init__(name=name, **kwargs)
    ...         self.total = self.add_variable(shape=(), initializer="zeros", name="total")
    ...     def update_state(self, values):
    ...         self.total.assign_add(np.sum(values))
    ...     def result(self):
    ...         return self.total
    >>> m = Total()
    >>> m.update_state([1.0, 2.5])
    >>> float(m.result())
    3.5
    """

    def __init__(self, dtype=None, name: str | None = None):
        # set first, bypassing __setattr__, which tracks into them
        object.__setattr__(self, "_variables", [])
        object.__setattr__(self, "_metrics", [])
        self.name = name or auto_name(type(self).__name__)
        self._dtype = np.dtype(dtype or floatx()).name

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, (Variable, Metric)) and "_variables" in self.__dict__:
            store = self._variables if isinstance(value, Variable) else self._metrics
            if value is not self and not any(v is value for v in store):
                store.append(value)
        object.__setattr__(self, name, value)

    @property
    def dtype(self) -> str:
        return self._dtype

    def _check_super_called(self) -> None:
        if "_variables" not in self.__dict__:
            raise RuntimeError(
                f"{type(self).__name__}.__init__ must call super().__init__() before "
                "creating state with add_variable"
            )

    def add_variable(self, shape, initializer, dtype=None, aggregation="sum",
                     name: str | None = None) -> MetricVariable:  # fmt: skip
        """Create a non-trainable state Variable, track it, and return it.

        ``value = initializer(shape, dtype)``; its path is ``"<metric name>/<name>"``.

        Args:
            shape: a tuple (or list) of non-negative integers; ``()`` for a scalar.
            initializer: anything ``keras.initializers.get`` takes: a name ("zeros",
                "ones", ...), a config dict, an Initializer, or a callable
                ``(shape, dtype) -> array``.
            dtype: the variable's dtype (default ``floatx()``, float32, as Keras: not the
                metric's dtype).
            aggregation: Keras's cross-replica label, one of None, "none", "mean", "sum"
                (default) or "only_first_replica"; stored as ``variable.aggregation``.
            name: the variable's name (default "variable", made unique as Keras does).

        Returns:
            the :class:`MetricVariable`, of ``shape`` and ``dtype``.

        Raises:
            ValueError: for a shape that is not a sequence of non-negative integers, an
                initializer that cannot be interpreted (or None), an unknown aggregation,
                a name that is not a string or contains "/", or an initializer whose value
                has another shape.
            RuntimeError: if ``super().__init__()`` was not called first.

        Matches Keras 3 ``keras/src/metrics/metric.py`` ``Metric.add_variable``.
        """
        self._check_super_called()
        from .. import initializers  # noqa: PLC0415 - the initializers are imported lazily

        shape = _standardize_shape(shape)
        if initializer is None:
            raise ValueError(
                "initializer must be an initializer name, config, Initializer or callable, "
                "received initializer=None"
            )
        init = initializers.get(initializer)
        if aggregation not in _AGGREGATIONS:
            raise ValueError(
                "aggregation must be one of None, 'none', 'mean', 'sum', 'only_first_replica',"
                f" received aggregation={aggregation!r}"
            )
        if name is not None and (not isinstance(name, str) or "/" in name):
            raise ValueError(f"name must be a string without '/', received name={name!r}")
        var = MetricVariable(init, shape=shape, dtype=np.dtype(dtype or floatx()).name,
                             trainable=False, name=name or auto_name("Variable"))  # fmt: skip
        var.aggregation = aggregation
        var.synchronization = "on_read"
        var.path = f"{self.name.replace('/', '>')}/{var.name}"
        self._variables.append(var)
        return var

    def add_weight(self, shape=(), initializer=None, dtype=None,
                   name: str | None = None) -> MetricVariable:  # fmt: skip
        """Keras's backward-compatible alias of :meth:`add_variable` (aggregation "sum").

        Note that ``initializer`` has no default that works: as in Keras, None raises.
        """
        return self.add_variable(shape=shape, initializer=initializer, dtype=dtype, name=name)

    def _add_state(self, shape, name: str) -> MetricVariable:
        """A zero state Variable of the metric's dtype (the built-ins' shortcut)."""
        return self.add_variable(shape, "zeros", dtype=self.dtype, name=name)

    @property
    def variables(self) -> list:
        """This metric's state Variables, then its sub-metrics' (Keras's order, e.g.
        ``[total, count]`` for ``Mean``)."""
        out = list(self._variables)
        for m in self._metrics:
            out.extend(m.variables)
        return out

    @property
    def variable_paths(self) -> list[str]:
        """Keras-style paths of :attr:`variables`, e.g. ``["mean/total", "mean/count"]``."""
        return [v.path for v in self.variables]

    def reset_state(self) -> None:
        """Set every variable (sub-metrics' included) to zeros, in place, as Keras does,
        whatever its initializer was."""
        for v in self.variables:
            v.data[...] = 0

    def update_state(self, *args, **kwargs) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement update_state")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement result")

    def __call__(self, *args, **kwargs):
        self._check_super_called()
        self.update_state(*args, **kwargs)
        return self.result()

    def __reduce__(self):
        """``pickle`` and ``copy`` as Keras 3's: a fresh metric of the same config, its
        state not carried (``KerasSaveable.__reduce__`` through a .keras archive)."""
        from ..saving.pickling import reduce_keras_object  # noqa: PLC0415

        return reduce_keras_object(self)

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict) -> Metric:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def _standardize_shape(shape) -> tuple:
    """``shape`` as a tuple of ints; Keras's rules: a sequence, not a bare int or None."""
    ok = shape is not None and hasattr(shape, "__iter__") and not isinstance(shape, str)
    dims = tuple(shape) if ok else ()
    ok = ok and all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in dims
    )
    if not ok:
        raise ValueError(
            f"shape must be a tuple of non-negative integers, received shape={shape!r}"
        )
    return tuple(int(d) for d in dims)
