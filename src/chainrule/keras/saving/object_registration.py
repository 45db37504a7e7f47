"""The user's registry of serialisable classes and functions (matches Keras 3
``keras/src/saving/object_registration.py``), and the automatic config of a layer class that
defines no ``get_config`` (Keras 3 ``keras/src/ops/operation.py``, ``Operation.__new__``).

Loading looks class names up here and in chainrule's own tables only; nothing is ever imported
by a module name read from a file.
"""

from __future__ import annotations

import collections
import inspect
import textwrap
import weakref
from collections.abc import Callable

__all__ = [
    "CustomObjectScope", "custom_object_scope", "get_custom_objects", "get_registered_name",
    "get_registered_object", "register_keras_serializable", "init_arguments", "keeps_name",
    "automatic_config_error",
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


# -- automatic config ----------------------------------------------------------------------------
# Keras records the __init__ arguments of every layer as it is made (Operation.__new__); when
# all are plain values, a class without a get_config of its own still has a config.
_PLAIN = (str, int, float, bool, type(None))
# the containers Keras's tree.flatten opens (namedtuples too); any other value is a leaf
_OPEN = (list, tuple, dict, collections.OrderedDict, collections.defaultdict, collections.deque)
_INIT_SPECS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _all_plain(value) -> bool:
    kind = type(value)
    if kind in _OPEN or (isinstance(value, tuple) and hasattr(kind, "_fields")):
        return all(_all_plain(v) for v in (value.values() if isinstance(value, dict) else value))
    return isinstance(value, _PLAIN)


def _init_spec(cls) -> tuple:
    """``(signature, **kwargs name, *args name, takes positional-only, keeps name)`` of
    ``cls.__init__``, worked out once per class."""
    spec = _INIT_SPECS.get(cls)
    if spec is None:
        sig = inspect.signature(cls.__init__)
        params = list(sig.parameters.values())
        var_kw = next((p.name for p in params if p.kind is p.VAR_KEYWORD), None)
        var_pos = next((p.name for p in params if p.kind is p.VAR_POSITIONAL), None)
        pos_only = any(p.kind is p.POSITIONAL_ONLY for p in params[1:])
        # Keras keeps "name" in the config only when __init__ can take it back: a `name`
        # parameter, or a `**kwargs` spelled exactly so (Keras tests that word)
        keeps = "name" in sig.parameters or var_kw == "kwargs"
        spec = _INIT_SPECS[cls] = (sig, var_kw, var_pos, pos_only, keeps)
    return spec


def keeps_name(cls) -> bool:
    """Whether the automatic config of ``cls`` keeps ``name`` (``__init__`` takes ``name``
    or ``**kwargs``), as Keras 3 ``Operation.get_config``."""
    return _init_spec(cls)[4]


def init_arguments(cls, args: tuple, kwargs: dict) -> tuple[dict | None, str | None]:
    """``(arguments, problem)`` for ``cls(*args, **kwargs)``, as Keras 3 records them.

    ``arguments`` is ``{name: value}`` with the defaults filled in, ``**kwargs`` spread and
    ``name`` left out, when every value is plain (str, int, float, bool, None, or lists,
    tuples, dicts, deques and namedtuples of them, to any depth); otherwise it is None and
    ``problem`` says why: ``"variadic"`` (positional-only parameters, or values given to
    ``*args``) or ``"values"`` (arguments that do not fit the signature) or ``"values: units
    received a ndarray"`` (the first argument with a value that is not plain).
    Never raises: a layer that cannot be recorded is still made.
    """
    try:
        sig, var_kw, var_pos, pos_only, _ = _init_spec(cls)
        bound = sig.bind(None, *args, **kwargs)
    except (TypeError, ValueError):
        return None, "values"
    if pos_only:  # cls(**config) could not give them back
        return None, "variadic"
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    arguments.pop(next(iter(sig.parameters)))  # self
    arguments.update(arguments.pop(var_kw, None) or {})
    arguments.pop("name", None)
    if var_pos is not None and arguments.pop(var_pos):
        return None, "variadic"
    for key, value in arguments.items():
        try:
            plain = _all_plain(value)
        except RecursionError:  # a list that holds itself
            plain = False
        if not plain:
            return None, f"values: {key} received a {type(value).__name__}"
    return arguments, None


_EXAMPLE = """
    class CustomLayer(keras.layers.Layer):
        def __init__(self, arg1, arg2, **kwargs):
            super().__init__(**kwargs)
            self.arg1 = arg1
            self.arg2 = arg2

        def get_config(self):
            config = super().get_config()
            config.update({"arg1": self.arg1, "arg2": self.arg2})
            return config"""


def automatic_config_error(cls, problem: str | None) -> NotImplementedError:
    """The error ``get_config`` raises for a ``cls`` with no config of its own whose
    arguments could not be recorded (Keras 3's two messages, in substance)."""
    name = cls.__name__
    if problem == "variadic":
        why = (f"Object {name} was created by passing positional only or variadic positional "
               "arguments (e.g., `*args`) to `__init__()`, which is not supported by the "
               "automatic config generation. Please remove all positional only and variadic "
               "arguments from `__init__()` or override `get_config()` and `from_config()` to "
               "make the object serializable.")  # fmt: skip
    else:
        detail = problem.partition(": ")[2] if problem else ""
        why = (f"Object {name} was created by passing non-serializable argument values in "
               f"`__init__()` ({detail + '; ' if detail else ''}only str, int, float, bool, "
               "None and lists, tuples and dicts of them are recorded), and therefore the "
               "object must override `get_config()` in order to be serializable. Please "
               "implement `get_config()`.")  # fmt: skip
    return NotImplementedError(textwrap.fill(why, 88) + "\n\nExample:\n" + _EXAMPLE)
