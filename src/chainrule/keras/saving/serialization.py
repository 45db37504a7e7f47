"""Turning Keras objects into JSON-ready dicts and back, in Keras 3's format
(``{"module", "class_name", "config", "registered_name"}``; matches Keras 3
``keras/src/saving/serialization_lib.py``).

Safe by construction: a class or function named in a config is looked up only in chainrule's
own tables (layers, models, optimizers, schedules, losses, metrics, initializers, regularizers,
constraints, activations) and in the user's registered or passed custom objects (the lookups
are in :mod:`.object_lookup`). No module named in a file is ever imported and no code from a
file is run.
"""

from __future__ import annotations

import inspect
import types

from ...backend import np
from . import object_registration as reg
from .object_lookup import (
    _accepted_args,
    _builtin_module,
    _category,
    _is_builtin,
    _resolve_function,
    _serialize_function,
    resolve_class,
)

__all__ = [
    "dtype_policy_config", "serialize_keras_object", "deserialize_keras_object",
    "SafeModeScope", "construct", "function_config", "function_from_config",
]  # fmt: skip


def dtype_policy_config(dtype: str) -> dict:
    """The ``DTypePolicy`` dict Keras 3 writes for a layer's dtype."""
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": str(dtype)},
            "registered_name": None}  # fmt: skip


# -- safe mode ------------------------------------------------------------------------------
_SAFE_MODE: list = []


class SafeModeScope:
    """Within the block, ``deserialize_keras_object`` uses ``safe_mode`` unless told otherwise
    (as Keras's ``SafeModeScope``)."""

    def __init__(self, safe_mode: bool = True) -> None:
        self.safe_mode = bool(safe_mode)

    def __enter__(self):
        _SAFE_MODE.append(self.safe_mode)
        return self

    def __exit__(self, *exc) -> None:
        _SAFE_MODE.pop()


def in_safe_mode() -> bool | None:
    return _SAFE_MODE[-1] if _SAFE_MODE else None


def construct(cls, inner: dict, custom_objects: dict | None = None):
    """``cls.from_config(inner)``, after dropping keys that Keras 3.15 writes for features we
    do not have *and* that are switched off (None/False/empty, e.g. ``quantization_config``,
    ``optional``, ``input_axes``) from built-in classes.

    Raises:
        ValueError: for such a key with a value that would change behaviour, naming it.
    """
    inner = {k: v for k, v in dict(inner or {}).items() if k != "shared_object_id"}
    from ..layers.layer import Layer  # noqa: PLC0415

    own_reader = issubclass(cls, Layer) and cls.from_config.__func__ is not (
        Layer.from_config.__func__)  # models read their own configs  # fmt: skip
    if _is_builtin(cls) and not own_reader:
        accepted, open_kwargs = _accepted_args(cls)
        if not open_kwargs:
            for key in [k for k in inner if k not in accepted]:
                if inner[key] in (None, False, [], {}):
                    del inner[key]
                else:
                    raise ValueError(
                        f"{cls.__name__} config has {key}={inner[key]!r}, which chainrule does "
                        "not support; refusing to build a layer that would compute differently"
                    )
        if issubclass(cls, Layer):
            inner = {k: _nested_layers(v, custom_objects) for k, v in inner.items()}
    if "custom_objects" in inspect.signature(cls.from_config).parameters:
        return cls.from_config(inner, custom_objects=custom_objects)
    return cls.from_config(inner)


def _nested_layers(value, custom_objects):
    """Wrapped layers inside a built-in layer's config (``Bidirectional.layer``,
    ``RNN.cell``, ``TimeDistributed.layer``), deserialised as Keras's wrappers do in their
    ``from_config``; other nested objects are left to the layer's own ``get`` calls."""
    if isinstance(value, list):
        return [_nested_layers(v, custom_objects) for v in value]
    if isinstance(value, dict) and "class_name" in value and _category(
            value.get("module")) in ("layers", "models"):  # fmt: skip
        return deserialize_keras_object(value, custom_objects=custom_objects)
    return value


def _sanitize_nested(value):
    """Recursively drop Keras-only switched-off keys inside nested built-in object configs
    (an initializer inside a layer config, ...), and resolve DTypePolicy dicts to names."""
    if isinstance(value, list):
        return [_sanitize_nested(v) for v in value]
    if not isinstance(value, dict):
        return value
    if value.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
        return (value.get("config") or {}).get("name")
    out = {k: _sanitize_nested(v) for k, v in value.items() if k != "shared_object_id"}
    if isinstance(out.get("config"), dict) and "class_name" in out and out["class_name"] not in (
            "function", "__keras_tensor__", "__numpy__"):  # fmt: skip
        try:
            cls = resolve_class(out)
        except ValueError:
            return out
        if _is_builtin(cls) and _category(out.get("module")) not in ("layers", "models"):
            accepted, open_kwargs = _accepted_args(cls)
            if not open_kwargs:
                out["config"] = {k: v for k, v in out["config"].items()
                                 if k in accepted or v not in (None, False, [], {})}  # fmt: skip
    return out


# -- serialize ----------------------------------------------------------------------------------


def serialize_keras_object(obj):
    """The Keras 3 JSON-ready form of ``obj``: plain values as they are, containers element by
    element, NumPy arrays as ``__numpy__``, built-in and registered objects as
    ``{"module", "class_name", "config", "registered_name"}`` (plus ``build_config`` and
    ``compile_config`` when the object has them), functions by name.

    Raises:
        ValueError: for an unregistered custom class or function (name it in the message) or
            an object without ``get_config``.
    """
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (list, tuple)):
        out = [serialize_keras_object(v) for v in obj]
        return tuple(out) if isinstance(obj, tuple) else out
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray) and obj.ndim > 0:
        return {"class_name": "__numpy__",
                "config": {"value": obj.tolist(), "dtype": obj.dtype.name}}  # fmt: skip
    if isinstance(obj, (np.generic, np.ndarray)):
        return obj.item()
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        return _serialize_function(obj)
    if not hasattr(obj, "get_config"):
        raise ValueError(
            f"Cannot serialize {obj!r} of type {type(obj).__name__}: it has no get_config()"
        )
    inner = serialize_keras_object(obj.get_config())
    module = _builtin_module(obj)
    if module is not None:
        registered = "Functional" if type(obj).__name__ == "Functional" else None
        out = {"module": module, "class_name": type(obj).__name__, "config": inner,
               "registered_name": registered}  # fmt: skip
    else:
        out = {"module": type(obj).__module__, "class_name": type(obj).__name__,
               "config": inner, "registered_name": reg.get_registered_name(type(obj))}  # fmt: skip
    if isinstance(inner, dict) and isinstance(inner.get("build_input_shape"), list):
        inner["build_input_shape"] = _unbatched(inner["build_input_shape"])
    if hasattr(obj, "get_build_config"):
        build = obj.get_build_config()
        if build is not None:
            build = serialize_keras_object(build)
            if isinstance(build, dict) and isinstance(build.get("input_shape"), list):
                build["input_shape"] = _unbatched(build["input_shape"])
            out["build_config"] = build
    if hasattr(obj, "get_compile_config"):
        comp = obj.get_compile_config()
        if comp is not None:
            out["compile_config"] = comp
    return out


def _unbatched(shape):
    """A build shape with the batch axis unknown (None), as Keras writes it.

    NOTE: a layer first called symbolically is built on placeholder arrays whose batch size
    is a stand-in; the batch size never shapes a weight, so it is not saved."""
    if shape and all(isinstance(s, list) for s in shape):
        return [_unbatched(s) for s in shape]
    return [None, *shape[1:]] if shape else shape


def function_config(fn, what: str = "function") -> dict:
    """The Keras 3 entry for a function held in a config (a ``Lambda`` layer's ``function``
    or ``output_shape``): ``{"module": "builtins", "class_name": "function", "config":
    "package>name" for a registered function else its name, "registered_name": "function"}``,
    as Keras 3 ``serialize_keras_object`` writes any named function; an object with
    ``get_config`` as ``serialize_keras_object`` writes it.

    Raises:
        ValueError: for a Python lambda (Keras writes its bytecode, which chainrule never
            stores) or a callable without a name (``functools.partial``, ...), naming ``what``.
    """
    if isinstance(fn, types.FunctionType) and fn.__name__ == "<lambda>":
        raise ValueError(
            f"Cannot serialize the {what} of a Lambda layer: it is a Python lambda, which Keras "
            "saves as bytecode and chainrule never stores (nor runs code read from a file). "
            "Define it with `def` and register it with "
            "@keras.saving.register_keras_serializable() so that it loads again."
        )
    if not isinstance(fn, types.FunctionType) and hasattr(fn, "get_config"):
        return serialize_keras_object(fn)
    if not isinstance(getattr(fn, "__name__", None), str):
        raise ValueError(
            f"Cannot serialize the {what} of a Lambda layer: expected a named function or an "
            f"object with get_config(), received {fn!r} of type {type(fn).__name__}"
        )
    return {"module": "builtins", "class_name": "function",
            "config": reg.get_registered_name(fn), "registered_name": "function"}  # fmt: skip


def function_from_config(entry, custom_objects: dict | None = None):
    """The callable a config entry names (the inverse of :func:`function_config`): a function
    looked up by name among the registered and custom objects and chainrule's built-in
    activations, losses and metrics; a bare name (older chainrule files) the same way; an
    object config rebuilt. A callable is returned as it is.

    Raises:
        ValueError: for a Python lambda stored as bytecode (never run), an unknown name
            (naming it), or an entry of another kind.
    """
    if callable(entry):
        return entry
    if isinstance(entry, str):
        return _resolve_function({"config": entry}, custom_objects)
    if isinstance(entry, dict) and entry.get("class_name") == "__lambda__":
        deserialize_keras_object(entry, custom_objects, safe_mode=False)  # raises: bytecode
    if isinstance(entry, dict) and entry.get("class_name") == "function":
        return _resolve_function(entry, custom_objects)
    if isinstance(entry, dict) and "class_name" in entry:
        return deserialize_keras_object(entry, custom_objects)
    raise ValueError(
        f"Cannot read a function from {entry!r}: expected a name or a Keras function config "
        '({"class_name": "function", "config": name, ...})'
    )


# -- deserialize --------------------------------------------------------------------------------
def _is_lambda_layer(cls) -> bool:
    from ..layers import Lambda  # noqa: PLC0415

    return isinstance(cls, type) and issubclass(cls, Lambda)


def _lambda_config(inner: dict, safe_mode: bool) -> dict:
    """A ``Lambda`` layer's config, refused in safe mode before ``Lambda.from_config``
    resolves its functions by name (``function_from_config`` refuses bytecode there).

    Raises:
        ValueError: in safe mode (always: chainrule asks the user to opt in to Lambda layers,
            where Keras refuses only bytecode).
    """
    if safe_mode:
        raise ValueError(
            "Requested the deserialization of a `Lambda` layer, whose function is Python code. "
            "This carries a risk of arbitrary code execution and is disallowed by default. If "
            "you trust the source of the saved model, pass `safe_mode=False` to the loading "
            "function (and the function itself in custom_objects or by registering it)."
        )
    return inner


def deserialize_keras_object(config, custom_objects: dict | None = None, safe_mode: bool = True,
                             **kwargs):  # fmt: skip
    """Rebuild what :func:`serialize_keras_object` wrote (Keras's inverse).

    Args:
        config: a serialised dict, a list/plain value, or a name.
        custom_objects: default None; ``{name: class_or_function}`` searched before the
            built-ins (with the global registry and any ``custom_object_scope``).
        safe_mode: default True: ``__lambda__`` (bytecode) entries are refused.

    Raises:
        ValueError: an unknown class or function (naming it and listing the supported ones), a
            lambda in safe mode, or a malformed entry.
    """
    scoped = in_safe_mode()
    safe_mode = scoped if scoped is not None else safe_mode
    if config is None or isinstance(config, (bool, int, float)):
        return config
    if isinstance(config, str):
        return config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(v, custom_objects, safe_mode) for v in config]
    if not isinstance(config, dict):
        raise ValueError(f"Could not deserialize {config!r} of type {type(config).__name__}")
    if "class_name" not in config:
        return {k: deserialize_keras_object(v, custom_objects, safe_mode)
                for k, v in config.items()}  # fmt: skip
    class_name = config["class_name"]
    inner = config.get("config")
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name in ("__tensor__",):
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__lambda__":
        raise ValueError(
            "Requested the deserialization of a Python lambda (bytecode stored in the file). "
            "chainrule never runs code from a file; define the function in your code, register "
            "it with keras.saving.register_keras_serializable() or pass it in custom_objects."
        )
    if class_name in ("DTypePolicy", "FloatDTypePolicy"):
        return (inner or {}).get("name")
    if class_name == "function":
        return _resolve_function(config, custom_objects)
    cls = resolve_class(config, custom_objects)
    inner = _sanitize_nested(inner or {})
    if _is_lambda_layer(cls):
        inner = _lambda_config(inner, safe_mode)
    with SafeModeScope(safe_mode), reg.CustomObjectScope(custom_objects or {}):
        obj = construct(cls, inner, custom_objects)
        build = config.get("build_config")
        if build and hasattr(obj, "build_from_config") and not getattr(obj, "built", True):
            obj.build_from_config(build)
        comp = config.get("compile_config")
        if comp and kwargs.get("compile", True) and hasattr(obj, "compile_from_config"):
            obj.compile_from_config(comp)
    return obj
