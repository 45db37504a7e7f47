"""Looking metrics up by name: ``get``, ``serialize``, ``deserialize`` and compile's ``resolve``.

Matches Keras 3 ``keras/src/metrics/__init__.py`` (the name table and ``get``) and
``keras/src/trainers/compile_utils.py`` (``get_metric``, ``is_binary_or_sparse_categorical``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ...backend import np
from .._serialization import serialize_object
from ..naming import to_snake_case
from . import accuracy_metrics as A
from . import confusion as C
from . import loss_functions as F
from . import probabilistic as P
from . import regression as R
from .auc import AUC
from .base import Mean, MeanMetricWrapper, Metric, Sum

__all__ = ["ALL_OBJECTS_DICT", "FUNCTIONS", "get", "serialize", "deserialize", "resolve"]

_CLASSES = [
    Metric, Mean, Sum, MeanMetricWrapper,
    R.MeanSquaredError, R.RootMeanSquaredError, R.MeanAbsoluteError,
    R.MeanAbsolutePercentageError, R.MeanSquaredLogarithmicError, R.CosineSimilarity,
    R.LogCoshError,
    AUC, C.FalseNegatives, C.FalsePositives, C.Precision, C.Recall, C.TrueNegatives,
    C.TruePositives,
    R.Hinge, R.SquaredHinge, R.CategoricalHinge,
    P.KLDivergence, P.Poisson, P.BinaryCrossentropy, P.CategoricalCrossentropy,
    P.SparseCategoricalCrossentropy,
    A.Accuracy, A.BinaryAccuracy, A.CategoricalAccuracy, A.SparseCategoricalAccuracy,
    A.TopKCategoricalAccuracy, A.SparseTopKCategoricalAccuracy,
]  # fmt: skip

#: Name -> metric class: class names, their snake_case, and Keras's short aliases.
ALL_OBJECTS_DICT: dict[str, type] = {c.__name__: c for c in _CLASSES}
ALL_OBJECTS_DICT.update({to_snake_case(c.__name__): c for c in _CLASSES})
for _alias, _cls in [
    ("bce", P.BinaryCrossentropy),
    ("mse", R.MeanSquaredError),
    ("mae", R.MeanAbsoluteError),
    ("mape", R.MeanAbsolutePercentageError),
    ("msle", R.MeanSquaredLogarithmicError),
]:
    ALL_OBJECTS_DICT[_alias] = _cls
    ALL_OBJECTS_DICT[_alias.upper()] = _cls

#: The metric functions of ``keras.metrics`` (per-sample NumPy arrays), by name.
FUNCTIONS: dict[str, Callable] = {
    f.__name__: f
    for f in [
        A.accuracy, A.binary_accuracy, A.categorical_accuracy, A.sparse_categorical_accuracy,
        A.top_k_categorical_accuracy, A.sparse_top_k_categorical_accuracy,
        *(getattr(F, n) for n in F.__all__),
    ]
}  # fmt: skip

# Keras 3.15.1 metrics that chainrule does not provide yet (named in the error message).
_NOT_YET = [
    "R2Score", "PrecisionAtRecall", "RecallAtPrecision", "SensitivityAtSpecificity",
    "SpecificityAtSensitivity", "ConcordanceCorrelation", "PearsonCorrelation", "F1Score",
    "FBetaScore", "IoU", "BinaryIoU", "MeanIoU", "OneHotIoU", "OneHotMeanIoU",
]  # fmt: skip
_NOT_YET_NAMES = {n: n for n in _NOT_YET} | {to_snake_case(n): n for n in _NOT_YET}


def _unknown(identifier) -> ValueError:
    if identifier in _NOT_YET_NAMES:
        return ValueError(
            f"Metric {identifier!r} ({_NOT_YET_NAMES[identifier]}) exists in Keras 3 but is not "
            "implemented in chainrule yet"
        )
    valid = ", ".join(sorted(ALL_OBJECTS_DICT, key=str.lower))
    return ValueError(
        f"Could not interpret metric identifier: {identifier!r}. Valid names are: {valid} "
        "(and 'accuracy'/'acc', 'crossentropy'/'ce' in compile)"
    )


def get(identifier: Any):
    """Return the metric for ``identifier``.

    Args:
        identifier: None; a name (``"mae"``, ``"binary_accuracy"``, ``"AUC"``, ...) -> a new
            instance of that class with its default name; a config dict -> ``deserialize``; a
            ``Metric`` instance -> itself; a ``Metric`` class -> an instance; a function ->
            itself.

    Raises:
        ValueError: for an unknown name (the message lists the valid ones) or an object
            that is neither of the above.

    Matches Keras 3 ``keras/src/metrics/__init__.py`` ``get``.
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        if identifier not in ALL_OBJECTS_DICT:
            raise _unknown(identifier)
        obj = ALL_OBJECTS_DICT[identifier]
    else:
        obj = identifier
    if inspect.isclass(obj):
        return obj()
    if callable(obj) or isinstance(obj, Metric):
        return obj
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")


def serialize(metric) -> dict:
    """A JSON-able description of a ``Metric`` instance or metric function (Keras format).

    Metric -> ``{"module": "keras.metrics", "class_name": ..., "config": get_config(),
    "registered_name": None}``; function -> ``{"module": "builtins", "class_name":
    "function", "config": name, "registered_name": "function"}``.

    Raises:
        TypeError: for anything else.
    """
    if isinstance(metric, Metric):
        return serialize_object(metric, "keras.metrics", ALL_OBJECTS_DICT)
    if callable(metric) and hasattr(metric, "__name__"):
        return {
            "module": "builtins",
            "class_name": "function",
            "config": metric.__name__,
            "registered_name": "function",
        }
    raise TypeError(f"cannot serialize {metric!r}: expected a Metric or a function")


def deserialize(config, custom_objects: dict | None = None):
    """Rebuild a metric (or metric function) from ``serialize``'s output or a name.

    Args:
        config: a dict as written by :func:`serialize` (or ``{"class_name", "config"}``), or
            a name.
        custom_objects: default None; extra ``name -> class or function``.

    Raises:
        ValueError: for an unknown class or function name (listing the valid ones).
    """
    custom = dict(custom_objects or {})
    if isinstance(config, str):
        if config in custom:
            obj = custom[config]
            return obj() if inspect.isclass(obj) else obj
        if config in FUNCTIONS:
            return FUNCTIONS[config]
        return get(config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"config must be a name or a dict with 'class_name' and 'config', received {config!r}"
        )
    class_name, inner = config["class_name"], config.get("config", {})
    if class_name == "function":
        fn = custom.get(inner) or FUNCTIONS.get(inner)
        if fn is None:
            raise ValueError(
                f"Unknown metric function {inner!r}; known functions: {', '.join(FUNCTIONS)}"
            )
        return fn
    cls = custom.get(class_name) or ALL_OBJECTS_DICT.get(class_name)
    if cls is None:
        raise _unknown(class_name)
    return cls.from_config(dict(inner))


def _shape(x) -> tuple:
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def is_binary_or_sparse_categorical(y_true, y_pred) -> tuple[bool, bool]:
    """Keras's compile-time guess: binary when ``y_pred``'s last dim is 1; sparse categorical
    when ``y_true``'s rank is lower than ``y_pred``'s, or ``y_true``'s last dim is 1 while
    ``y_pred``'s is larger."""
    t, p = _shape(y_true), _shape(y_pred)
    t_last = t[-1] if t else None
    p_last = p[-1] if p else None
    is_binary = p_last == 1
    is_sparse = len(t) < len(p) or (t_last == 1 and p_last is not None and p_last > 1)
    return is_binary, is_sparse


def _object_name(obj) -> str:
    if hasattr(obj, "name"):
        return obj.name
    if hasattr(obj, "__name__"):
        return to_snake_case(obj.__name__)
    return to_snake_case(type(obj).__name__)


def resolve(identifier, y_true, y_pred, loss=None) -> Metric:
    """The ``Metric`` that ``compile(metrics=[identifier])`` builds for these targets.

    ``"accuracy"``/``"acc"`` (any case) become ``BinaryAccuracy`` when ``y_pred``'s last
    dim is 1, else ``SparseCategoricalAccuracy`` when ``y_true``'s rank is lower than
    ``y_pred``'s (or its last dim is 1 while ``y_pred``'s is larger), else
    ``CategoricalAccuracy``. ``"crossentropy"``/``"ce"`` pick ``BinaryCrossentropy``,
    ``SparseCategoricalCrossentropy`` or ``CategoricalCrossentropy`` by the same rule
    (a chainrule extension: Keras 3.15.1 accepts these names only as losses). Anything else
    goes through :func:`get`; a plain function is wrapped in ``MeanMetricWrapper``.

    The metric's name is the string as written (``"acc"``, ``"mae"``, ``"AUC"``); for
    objects it is ``obj.name`` or the function's snake_case ``__name__``. This is the key
    in ``History.history`` and the logs.

    Args:
        identifier: a name, function, ``Metric``, class or config dict.
        y_true, y_pred: arrays (or anything with ``.shape``) of one batch's targets and
            predictions; only their shapes are read.
        loss: default None. Accepted so the trainer can pass its loss, but not consulted:
            Keras 3.15.1 decides by shapes alone (tf.keras 2 also chose binary accuracy for a
            binary cross-entropy loss; Keras 3 does not).

    Raises:
        ValueError: for None or an unknown name (listing the valid ones).

    Matches Keras 3 ``keras/src/trainers/compile_utils.py`` ``get_metric``.
    """
    del loss  # see the docstring: Keras 3 does not consult it
    if identifier is None:
        raise ValueError("Expected metric, received None")
    key = str(identifier).lower() if isinstance(identifier, str) else None
    if key in ("accuracy", "acc", "crossentropy", "ce"):
        is_binary, is_sparse = is_binary_or_sparse_categorical(y_true, y_pred)
        if key in ("accuracy", "acc"):
            choices = (A.BinaryAccuracy, A.SparseCategoricalAccuracy, A.CategoricalAccuracy)
        else:
            choices = (
                P.BinaryCrossentropy,
                P.SparseCategoricalCrossentropy,
                P.CategoricalCrossentropy,
            )
        cls = choices[0] if is_binary else choices[1] if is_sparse else choices[2]
        metric = cls(name=identifier)
    else:
        metric = get(identifier)
    name = identifier if isinstance(identifier, str) else _object_name(metric)
    if not isinstance(metric, Metric):
        metric = MeanMetricWrapper(metric)
    metric.name = name
    return metric
