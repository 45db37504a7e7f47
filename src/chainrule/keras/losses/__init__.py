"""``keras.losses``: loss functions, ``Loss`` classes, and ``get``/``serialize``/``deserialize``.

Every function takes ``y_true`` (array, list or Tensor) and ``y_pred`` (Tensor or array) and
returns per-sample values as a chainrule Tensor differentiable with respect to ``y_pred``;
every class reduces them to a scalar (``reduction="sum_over_batch_size"`` by default) and
accepts ``sample_weight``. Names, defaults and numbers match Keras 3.15.1
(``keras/src/losses/``); ``half_mean_squared_error`` (``"half_mse"``) is our addition.

>>> from chainrule.keras import losses
>>> loss = losses.get("mse")
>>> loss.name, float(loss([1.0, 2.0], [[1.5], [2.5]]))
('mean_squared_error', 0.25)
"""

from __future__ import annotations

import inspect

from .categorical import (
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    categorical_crossentropy,
    sparse_categorical_crossentropy,
)
from .crossentropy import (
    BinaryCrossentropy,
    BinaryFocalCrossentropy,
    binary_crossentropy,
    binary_focal_crossentropy,
)
from .ctc import CTC, ctc
from .focal import CategoricalFocalCrossentropy, categorical_focal_crossentropy
from .hinge import (
    CategoricalHinge,
    Hinge,
    SquaredHinge,
    categorical_hinge,
    hinge,
    squared_hinge,
)
from .loss import (
    Loss,
    LossFunctionWrapper,
    reduce_values,
    reduce_weighted_values,
    squeeze_or_expand_to_same_rank,
    standardize_reduction,
)
from .metric_learning import Circle, circle
from .probabilistic import KLD, KLDivergence, Poisson, kl_divergence, kld, poisson
from .regression import (
    MAE,
    MAPE,
    MSE,
    MSLE,
    CosineSimilarity,
    HalfMeanSquaredError,
    Huber,
    LogCosh,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    cosine_similarity,
    half_mean_squared_error,
    half_mse,
    huber,
    log_cosh,
    mae,
    mape,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    mse,
    msle,
)
from .segmentation import Dice, Tversky, dice, tversky

__all__ = [
    "Loss", "LossFunctionWrapper", "squeeze_or_expand_to_same_rank", "standardize_reduction",
    "reduce_values", "reduce_weighted_values", "get", "serialize", "deserialize",
    "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError", "Huber", "LogCosh", "CosineSimilarity",
    "HalfMeanSquaredError", "BinaryCrossentropy", "BinaryFocalCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "KLDivergence", "Poisson",
    "Hinge", "SquaredHinge", "CategoricalHinge", "CategoricalFocalCrossentropy", "Dice",
    "Tversky", "Circle", "CTC",
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "huber", "log_cosh", "cosine_similarity",
    "half_mean_squared_error", "binary_crossentropy", "binary_focal_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "kl_divergence", "poisson",
    "hinge", "squared_hinge", "categorical_hinge", "categorical_focal_crossentropy", "dice",
    "tversky", "circle", "ctc",
    "mse", "MSE", "mae", "MAE", "mape", "MAPE", "msle", "MSLE", "kld", "KLD", "half_mse",
]  # fmt: skip

_CLASSES = (
    Loss, LossFunctionWrapper, MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, Huber, LogCosh, CosineSimilarity, HalfMeanSquaredError,
    BinaryCrossentropy, BinaryFocalCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy, KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge,
    CategoricalFocalCrossentropy, Dice, Tversky, Circle, CTC,
)  # fmt: skip
_FUNCTIONS = (
    mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
    mean_squared_logarithmic_error, huber, log_cosh, cosine_similarity, half_mean_squared_error,
    binary_crossentropy, binary_focal_crossentropy, categorical_crossentropy,
    sparse_categorical_crossentropy, kl_divergence, poisson, hinge, squared_hinge,
    categorical_hinge, categorical_focal_crossentropy, dice, tversky, circle, ctc,
)  # fmt: skip

# The names Keras's `losses.get` accepts (ALL_OBJECTS_DICT in keras/src/losses/__init__.py),
# plus our half-MSE names.
ALL_OBJECTS_DICT = {obj.__name__: obj for obj in (*_CLASSES, *_FUNCTIONS)}
ALL_OBJECTS_DICT.update(
    {
        "bce": binary_crossentropy, "BCE": binary_crossentropy,
        "kld": kl_divergence, "KLD": kl_divergence,
        "mae": mean_absolute_error, "MAE": mean_absolute_error,
        "mse": mean_squared_error, "MSE": mean_squared_error,
        "mape": mean_absolute_percentage_error, "MAPE": mean_absolute_percentage_error,
        "msle": mean_squared_logarithmic_error, "MSLE": mean_squared_logarithmic_error,
        "half_mse": half_mean_squared_error,
    }
)  # fmt: skip
_FUNCTION_NAMES = {fn: fn.__name__ for fn in _FUNCTIONS}


def _lookup(name: str, custom_objects=None):
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    obj = ALL_OBJECTS_DICT.get(name)
    if obj is None:
        raise ValueError(
            f"Could not interpret loss identifier: {name!r}. Valid names: "
            f"{sorted(k for k in ALL_OBJECTS_DICT if k not in ('Loss', 'LossFunctionWrapper'))}"
        )
    return obj


def serialize(loss) -> dict:
    """The Keras config dict of a ``Loss`` or a built-in loss function.

    A ``Loss`` gives ``{"module": "keras.losses", "class_name": ..., "config":
    loss.get_config(), "registered_name": None}``; a function gives ``{"module": "builtins",
    "class_name": "function", "config": <name>, "registered_name": "function"}``.

    Raises:
        ValueError: for anything else (a custom function cannot be serialized by name).

    Matches Keras 3 ``keras/src/losses/__init__.py:serialize`` (``serialize_keras_object``).
    """
    if isinstance(loss, Loss):
        return {
            "module": "keras.losses",
            "class_name": type(loss).__name__,
            "config": loss.get_config(),
            "registered_name": None,
        }
    if callable(loss) and getattr(loss, "__name__", None):
        return {
            "module": "builtins",
            "class_name": "function",
            "config": _FUNCTION_NAMES.get(loss, loss.__name__),
            "registered_name": "function",
        }
    raise ValueError(f"Could not serialize loss {loss!r}: expected a Loss or a loss function")


def deserialize(config, custom_objects: dict | None = None):
    """Rebuild a loss from :func:`serialize`'s output or a name.

    Args:
        config: a config dict (``class_name`` and ``config``) or a name string.
        custom_objects: optional ``{name: class_or_function}`` searched first.

    Returns:
        A ``Loss`` instance for a class config or class name, the function for a function
        config or function name.

    Raises:
        ValueError: for an unknown name (listing the valid ones) or a malformed config.

    Matches Keras 3 ``keras/src/losses/__init__.py:deserialize``.
    """
    if isinstance(config, str):
        obj = _lookup(config, custom_objects)
        return obj() if inspect.isclass(obj) else obj
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"Could not deserialize loss: expected a dict with 'class_name' and 'config', or "
            f"a name; received {config!r}"
        )
    inner = config.get("config", {})
    if config["class_name"] == "function":
        return _lookup(inner, custom_objects)
    cls = _lookup(config["class_name"], custom_objects)
    if not (inspect.isclass(cls) and issubclass(cls, Loss)):
        raise ValueError(f"{config['class_name']!r} is not a Loss class")
    return cls.from_config(dict(inner or {}))


def get(identifier):
    """Resolve a loss identifier to a ``Loss`` object (or None for None).

    Args:
        identifier: a name (``"mse"``, ``"mean_squared_error"``, ``"MeanSquaredError"``,
            ``"binary_crossentropy"``, ``"half_mse"``, ...), a config dict, a ``Loss``
            instance or class, or a callable ``fn(y_true, y_pred)``.

    Returns:
        A ``Loss``: a class name gives that class with defaults; a function name (or alias)
        gives ``LossFunctionWrapper(fn, name=<Keras function name>)``, so ``get("mse").name``
        is ``"mean_squared_error"``; a plain callable is wrapped the same way; a ``Loss`` is
        returned as is.

    Raises:
        ValueError: for an unknown name (the message lists the valid names) or an identifier
            of another type.

    Matches Keras 3 ``keras/src/losses/__init__.py:get`` followed by the wrapping of
    ``keras/src/trainers/compile_utils.py:get_loss`` (Keras names the wrapper after the
    string given, e.g. "mse"; we use the function's Keras name). The ``"crossentropy"``
    shortcut needs the data's shapes, so the trainer resolves it.
    """
    if identifier is None:
        return None
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        obj = deserialize(identifier)
    elif isinstance(identifier, str):
        obj = _lookup(identifier)
    elif callable(identifier):
        obj = identifier
    else:
        raise ValueError(
            f"Could not interpret loss identifier: {identifier!r} (expected a name, a config "
            f"dict, a Loss or a callable)"
        )
    if inspect.isclass(obj):
        if not issubclass(obj, Loss):
            raise ValueError(f"Could not interpret loss identifier: {identifier!r}")
        return obj()
    if isinstance(obj, Loss):
        return obj
    name = _FUNCTION_NAMES.get(obj) or getattr(obj, "__name__", None) or "loss"
    return LossFunctionWrapper(obj, name=name)
