"""``keras.optimizers``: SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam, Lion,
the ``Optimizer`` base, ``schedules``, and ``get`` / ``serialize`` / ``deserialize``.

Every optimizer updates ``variable.data`` in place and matches Keras 3.15.1 numerically
(float32). Matches Keras 3 ``keras/src/optimizers/__init__.py``.
"""

from __future__ import annotations

from typing import Any

from . import schedules
from .adagrad import Adadelta, Adagrad
from .adam import Adam, Adamax, AdamW, Nadam
from .base_optimizer import BaseOptimizer, Optimizer
from .lion import Lion
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "Optimizer", "BaseOptimizer", "SGD", "Adam", "AdamW", "Adamax", "Nadam", "RMSprop",
    "Adagrad", "Adadelta", "Lion", "schedules", "get", "serialize", "deserialize",
]  # fmt: skip

_ALL = (SGD, Adam, AdamW, Adamax, Nadam, RMSprop, Adagrad, Adadelta, Lion)
ALL_OBJECTS_DICT = {cls.__name__.lower(): cls for cls in _ALL}


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """The Keras serialised form ``{"module", "class_name", "config", "registered_name"}``.

    Raises:
        TypeError: if ``optimizer`` is not an ``Optimizer``.
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"serialize expects an Optimizer, received {type(optimizer).__name__}")
    cls = type(optimizer)
    builtin = ALL_OBJECTS_DICT.get(cls.__name__.lower()) is cls
    return {
        "module": "keras.optimizers" if builtin else cls.__module__,
        "class_name": cls.__name__,
        "config": optimizer.get_config(),
        "registered_name": None if builtin else cls.__name__,
    }


def deserialize(config: dict, custom_objects: dict | None = None) -> Optimizer:
    """Rebuild an optimizer from ``serialize``'s output; built-in class names are matched
    case-insensitively, as Keras.

    Raises:
        ValueError: for an unknown class name (the message lists the valid ones).
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"deserialize expects a dict with 'class_name' and 'config', received {config!r}"
        )
    name = config["class_name"]
    custom = custom_objects or {}
    cls = custom.get(name) or custom.get(config.get("registered_name"))
    if cls is None:
        cls = ALL_OBJECTS_DICT.get(str(name).lower())
    if cls is None:
        raise ValueError(
            f"Could not interpret optimizer identifier: {name!r}. Valid names are "
            f"{sorted(ALL_OBJECTS_DICT)} (or pass the class in `custom_objects`)."
        )
    return cls.from_config(dict(config.get("config") or {}), custom_objects=custom_objects)


def get(identifier) -> Optimizer | None:
    """An optimizer from a name ("adam", "sgd", "rmsprop", ...; default arguments), a config
    dict, or an instance (returned unchanged); None gives None.

    Raises:
        ValueError: for an unknown name or any other identifier (lists the valid names).

    >>> get("adam").get_config()["learning_rate"]
    0.0010000000474974513
    """
    if identifier is None:
        return None
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return deserialize({"class_name": identifier, "config": {}})
    raise ValueError(
        f"Could not interpret optimizer identifier: {identifier!r}. Pass an Optimizer, a config "
        f"dict, or one of {sorted(ALL_OBJECTS_DICT)}."
    )
