"""The get / serialize / deserialize machinery shared by the Keras object families.

Initializers, activations, regularizers and constraints (and, for ``serialize_object``, metrics
and learning-rate schedules) turn names and config dicts into objects the same way; this module
holds that one implementation. Matches Keras 3 ``keras/src/saving/serialization_lib.py``
(``serialize_keras_object``, ``deserialize_keras_object``) and the ``get`` functions of
``keras/src/initializers/__init__.py``, ``regularizers/__init__.py`` and
``constraints/__init__.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["serialize_object", "unknown_identifier", "lookup_table", "deserialize_object",
           "get_object"]  # fmt: skip


def serialize_object(obj: Any, module: str, builtins: Mapping[str, type] | None = None) -> dict:
    """The Keras 3 config dict of ``obj``: ``{"module", "class_name", "config",
    "registered_name"}``.

    Args:
        obj: an object with ``get_config()``.
        module: the ``"module"`` written for built-in classes (e.g. ``"keras.metrics"``).
        builtins: default None (every class is written as built-in). Otherwise the family's
            ``name -> class`` table: a class that is not the table's entry for its name is a
            user class, written with its own ``__module__`` and its name as
            ``registered_name``.
    """
    cls = type(obj)
    builtin = builtins is None or builtins.get(cls.__name__) is cls
    return {
        "module": module if builtin else cls.__module__,
        "class_name": cls.__name__,
        "config": obj.get_config(),
        "registered_name": None if builtin else cls.__name__,
    }


def unknown_identifier(kind: str, identifier: Any, names) -> ValueError:
    """The error for a name or object that ``kind``'s ``get`` cannot interpret, listing
    ``names``."""
    valid = ", ".join(sorted(names))
    return ValueError(
        f"Could not interpret {kind} identifier: {identifier!r}. Expected one of: {valid}"
    )


def lookup_table(table: Mapping[str, Any], custom_objects: Mapping | None = None) -> dict:
    """``table`` overlaid with the objects of any active ``custom_object_scope``, then with
    ``custom_objects`` (the later ones win, as in Keras)."""
    from .saving.object_registration import scoped_objects  # noqa: PLC0415 - import cycle

    return {**table, **scoped_objects(), **(custom_objects or {})}


def deserialize_object(config, table: Mapping[str, type], kind: str,
                       custom_objects: Mapping | None = None):  # fmt: skip
    """Build an object from a name or a config dict, looking ``class_name`` up in ``table``.

    A ``registered_name`` found among the known names takes precedence over ``class_name``.
    The class is built with ``from_config(config)`` when it has one, else ``cls(**config)``.

    Raises:
        ValueError: listing the valid names if the name is unknown or ``config`` is malformed.
    """
    lookup = lookup_table(table, custom_objects)
    if isinstance(config, dict) and config.get("registered_name") in lookup:
        config = {**config, "class_name": config["registered_name"]}
    if isinstance(config, str):
        name, kwargs = config, {}
    elif isinstance(config, dict) and "class_name" in config:
        name, kwargs = config["class_name"], config.get("config") or {}
    else:
        raise ValueError(
            f"{kind} config must be a name or a dict with 'class_name' and 'config', "
            f"received {config!r}"
        )
    cls = lookup.get(name)
    if cls is None:
        raise unknown_identifier(kind, name, table)
    if hasattr(cls, "from_config"):
        return cls.from_config(dict(kwargs))
    return cls(**kwargs)


def get_object(identifier, deserialize: Callable, kind: str, table: Mapping[str, Any],
               instantiate_classes: bool = True):  # fmt: skip
    """The object ``identifier`` stands for, as the families' ``get`` functions resolve it.

    ``None`` -> None; a name or config dict -> ``deserialize(identifier)``; a class -> an
    instance of it (when ``instantiate_classes``, the default); any other callable -> itself.

    Raises:
        ValueError: listing the names in ``table`` for anything else.
    """
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if instantiate_classes and isinstance(identifier, type):
        return identifier()
    if callable(identifier):
        return identifier
    raise unknown_identifier(kind, identifier, table)
