"""The user's registry of serialisable classes and functions (matches Keras 3
``keras/src/saving/object_registration.py``).

Loading looks class names up here and in chainrule's own tables only; nothing is ever imported
by a module name read from a file.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

__all__ = [
    "CustomObjectScope", "custom_object_scope", "get_custom_objects", "get_registered_name",
    "get_registered_object", "register_keras_serializable",
]  # fmt: skip

_GLOBAL_CUSTOM_OBJECTS: dict = {}  # "package>name" -> object
_GLOBAL_CUSTOM_NAMES: dict = {}  # object -> "package>name"
_SCOPE_STACK: list = []  # dicts pushed by custom_object_scope


class CustomObjectScope:
    """Make ``{name: class_or_function}`` visible to deserialisation inside a ``with`` block.

    Args:
        custom_objects: a dict ``{str: object}`` (None is an empty dict).

    >>> with CustomObjectScope({"f": len}):
    ...     get_registered_object("f") is len
    True
    """

    def __init__(self, custom_objects: dict | None) -> None:
        if custom_objects is not None and not isinstance(custom_objects, dict):
            raise TypeError(
                f"custom_objects must be a dict, received {type(custom_objects).__name__}"
            )
        self.custom_objects = dict(custom_objects or {})

    def __enter__(self):
        _SCOPE_STACK.append(self.custom_objects)
        return self

    def __exit__(self, *exc) -> None:
        _SCOPE_STACK.pop()


custom_object_scope = CustomObjectScope


def get_custom_objects() -> dict:
    """The live global dict of registered objects (``"package>name" -> object``)."""
    return _GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package: str = "Custom", name: str | None = None) -> Callable:
    """Decorator registering a class or function under ``"package>name"`` (``name`` defaults
    to the object's ``__name__``), so saved models that use it load again.

    Args:
        package: default "Custom".
        name: default None (the object's name).

    Raises:
        ValueError: for a class without ``get_config``, or a package containing ``>``.
    """
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"package must be a string without '>', received package={package!r}")

    def decorator(obj):
        key = f"{package}>{name if name is not None else obj.__name__}"
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(
                f"Cannot register class {obj.__name__!r}: it has no get_config() method"
            )
        _GLOBAL_CUSTOM_OBJECTS[key] = obj
        _GLOBAL_CUSTOM_NAMES[obj] = key
        return obj

    return decorator


def get_registered_name(obj) -> str:
    """``"package>name"`` for a registered object, else its ``__name__``."""
    try:
        return _GLOBAL_CUSTOM_NAMES[obj]
    except (KeyError, TypeError):
        return getattr(obj, "__name__", type(obj).__name__)


def get_registered_object(name: str, custom_objects: dict | None = None, module_objects=None):
    """The object registered as ``name``: the innermost ``custom_object_scope`` first, then
    the global registry, then ``custom_objects``, then ``module_objects``; None if absent."""
    for scope in reversed(_SCOPE_STACK):
        if name in scope:
            return scope[name]
    if name in _GLOBAL_CUSTOM_OBJECTS:
        return _GLOBAL_CUSTOM_OBJECTS[name]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


def scoped_objects() -> dict:
    """Every object visible now (global registry, then scopes, innermost last)."""
    out = dict(_GLOBAL_CUSTOM_OBJECTS)
    for scope in _SCOPE_STACK:
        out.update(scope)
    return out
