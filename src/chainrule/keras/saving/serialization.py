"""Turning Keras objects into JSON-ready dicts and back, in Keras 3's format
(``{"module", "class_name", "config", "registered_name"}``; matches Keras 3
``keras/src/saving/serialization_lib.py``).

Safe by construction: a class or function named in a config is looked up only in chainrule's
own tables (layers, models, optimizers, schedules, losses, metrics, initializers, regularizers,
constraints, activations) and in the user's registered or passed custom objects. No module named
in a file is ever imported and no code from a file is run.
"""

from __future__ import annotations

import inspect
import types

from ...backend import np
from . import object_registration as reg

__all__ = [
    "dtype_policy_config", "serialize_keras_object", "deserialize_keras_object",
    "SafeModeScope", "builtin_tables", "resolve_class", "construct", "function_config",
    "function_from_config",
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


# -- chainrule's own tables ---------------------------------------------------------------------
_TABLES: dict = {}


def builtin_tables() -> dict:
    """``{category: {class_name: class}}`` for every built-in serialisable class."""
    if _TABLES:
        return _TABLES
    from .. import constraints, initializers, layers, losses, metrics, models, optimizers  # noqa
    from .. import regularizers  # noqa: PLC0415
    from ..layers.layer import Layer  # noqa: PLC0415
    from ..losses import Loss  # noqa: PLC0415
    from ..optimizers import schedules  # noqa: PLC0415

    def classes(table):
        return {k: v for k, v in table.items() if inspect.isclass(v) and k == v.__name__}

    layer_table = {n: getattr(layers, n) for n in layers.__all__
                   if inspect.isclass(getattr(layers, n)) and issubclass(getattr(layers, n), Layer)
                   and n not in ("KerasTensor",)}  # fmt: skip
    model_table = {"Sequential": models.Sequential, "Functional": models.Functional,
                   "Model": models.Model}  # fmt: skip
    _TABLES.update({
        "layers": {**layer_table, **model_table},
        "models": model_table,
        "optimizers": {c.__name__: c for c in optimizers.ALL_OBJECTS_DICT.values()},
        "schedules": {n: c for n, c in vars(schedules).items() if inspect.isclass(c)
                      and issubclass(c, schedules.LearningRateSchedule)},
        "losses": {k: v for k, v in classes(losses.ALL_OBJECTS_DICT).items()
                   if issubclass(v, Loss)},
        "metrics": classes(metrics.registry.ALL_OBJECTS_DICT),
        "initializers": classes(initializers.ALL_OBJECTS_DICT),
        "regularizers": classes(regularizers.ALL_OBJECTS_DICT),
        "constraints": classes(constraints.ALL_OBJECTS_DICT),
    })  # fmt: skip
    return _TABLES


def _functions() -> dict:
    from .. import activations, losses, metrics  # noqa: PLC0415

    out = {k: v for k, v in metrics.registry.FUNCTIONS.items()}
    out.update({k: v for k, v in losses.ALL_OBJECTS_DICT.items() if not inspect.isclass(v)})
    out.update(activations.ALL_OBJECTS_DICT)
    return out


def _category(module: str | None) -> str | None:
    """The table a Keras module path points to (``keras.layers``, ``keras.src.backend.torch.
    optimizers.torch_adam``, ``keras.src.models.functional``, ...)."""
    if not module or not (module == "keras" or module.startswith(("keras.", "chainrule."))):
        return None
    for part in ("schedules", "layers", "models", "optimizers", "losses", "metrics",
                 "initializers", "regularizers", "constraints"):  # fmt: skip
        if f".{part}" in module:
            return part
    return "models" if module == "keras" else None


def _supported_names() -> list:
    return sorted({n for t in builtin_tables().values() for n in t})


def resolve_class(config: dict, custom_objects: dict | None = None):
    """The class a serialised dict names, from the user's objects or chainrule's tables.

    Raises:
        ValueError: naming the class (and its module) and listing the supported names.
    """
    class_name = config.get("class_name")
    registered = config.get("registered_name")
    custom = custom_objects or {}
    for key in (registered, class_name):
        if isinstance(key, str):
            obj = reg.get_registered_object(key, custom)
            if obj is not None:
                return obj
    category = _category(config.get("module"))
    tables = builtin_tables()
    found = None
    if category is not None:
        found = tables[category].get(class_name)
        if found is None and category == "layers":
            found = tables["models"].get(class_name)
        if found is None and category == "optimizers":
            found = next((c for n, c in tables["optimizers"].items()
                          if n.lower() == str(class_name).lower()), None)  # fmt: skip
    elif config.get("module") is None:
        # A bare {"class_name": ...} (no module): accept an unambiguous built-in name.
        hits = {id(t[class_name]): t[class_name] for t in tables.values() if class_name in t}
        found = next(iter(hits.values())) if len(hits) == 1 else None
    if found is None:
        raise ValueError(
            f"Unknown class {class_name!r} (module {config.get('module')!r}, registered_name "
            f"{registered!r}): it is neither a chainrule/Keras built-in nor a registered custom "
            "object. Register it with keras.saving.register_keras_serializable() or pass it in "
            f"custom_objects. Supported built-in classes: {', '.join(_supported_names())}"
        )
    return found


def _resolve_function(config, custom_objects):
    name = config.get("config") if isinstance(config, dict) else config
    registered = config.get("registered_name") if isinstance(config, dict) else None
    # Keras 3 writes every function as {"config": "package>name" or its name,
    # "registered_name": "function"}; older chainrule files put the name in registered_name
    for key in (name, registered):
        if isinstance(key, str) and key != "function":
            obj = reg.get_registered_object(key, custom_objects)
            if obj is not None:
                return obj
    fns = _functions()
    if isinstance(name, str) and name in fns:
        return fns[name]
    if isinstance(name, str) and ">" not in name:
        # a bare name written before the registered name was kept (chainrule's Lambda did
        # so, as Keras <= 3.6 did): the one object registered as "package>name"
        visible = {**reg.scoped_objects(), **(custom_objects or {})}
        hits = sorted(k for k in visible if k.endswith(">" + name))
        if len(hits) == 1:
            return visible[hits[0]]
        if hits:
            raise ValueError(
                f"Function {name!r} is ambiguous: it could be any of the registered {hits}; "
                "pass the one meant in custom_objects under the name " + repr(name)
            )
    raise ValueError(
        f"Unknown function {name!r}: it is neither a built-in activation, loss or metric nor a "
        "registered custom object. Register it with keras.saving.register_keras_serializable() "
        f"or pass it in custom_objects. Built-in functions: {', '.join(sorted(fns))}"
    )


def _accepted_args(cls) -> tuple[set, bool]:
    """The keyword arguments any ``__init__`` along the MRO names, and whether the chain ends
    in an open ``**kwargs`` (then nothing can be judged unsupported)."""
    from ..layers.layer import Layer  # noqa: PLC0415

    names, var_kw = set(), False
    for klass in cls.__mro__:
        if klass is object or "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        names.update(p.name for p in params if p.kind is not p.VAR_KEYWORD)
        var_kw = any(p.kind is p.VAR_KEYWORD for p in params)
        if not var_kw:
            break
    return names, var_kw and not issubclass(cls, Layer)


def _is_builtin(cls) -> bool:
    return any(cls is c for t in builtin_tables().values() for c in t.values())


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
def _builtin_module(obj) -> str | None:
    from ..layers.layer import Layer  # noqa: PLC0415

    cls = type(obj)
    tables = builtin_tables()
    for cat, module in (("layers", "keras.layers"), ("optimizers", "keras.optimizers"),
                        ("schedules", "keras.optimizers.schedules"), ("losses", "keras.losses"),
                        ("metrics", "keras.metrics"), ("initializers", "keras.initializers"),
                        ("regularizers", "keras.regularizers"),
                        ("constraints", "keras.constraints")):  # fmt: skip
        if tables[cat].get(cls.__name__) is cls:
            if isinstance(obj, Layer) and cls.__name__ in ("Sequential", "Model"):
                return "keras"
            if cls.__name__ == "Functional":
                return "keras.src.models.functional"
            return module
    return None


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


def _serialize_function(fn) -> dict:
    fns = _functions()
    name = reg.get_registered_name(fn)
    if ">" in name:
        return {"module": fn.__module__, "class_name": "function", "config": name,
                "registered_name": name}  # fmt: skip
    if fns.get(fn.__name__) is fn:
        return {"module": "builtins", "class_name": "function", "config": fn.__name__,
                "registered_name": "function"}  # fmt: skip
    raise ValueError(
        f"Cannot serialize function {getattr(fn, '__qualname__', fn)!r}: it is not a built-in "
        "activation, loss or metric and is not registered. Decorate it with "
        "keras.saving.register_keras_serializable() (lambdas cannot be saved)."
    )


# -- deserialize --------------------------------------------------------------------------------
def _is_lambda_layer(cls) -> bool:
    from ..layers import Lambda  # noqa: PLC0415

    return isinstance(cls, type) and issubclass(cls, Lambda)


def _lambda_config(inner: dict, safe_mode: bool) -> dict:
    """A ``Lambda`` layer's config, checked before ``Lambda.from_config`` resolves its
    functions by name (never from bytecode).

    Raises:
        ValueError: in safe mode (always: chainrule asks the user to opt in to Lambda layers,
            where Keras refuses only bytecode), or for a function stored as bytecode.
    """
    if safe_mode:
        raise ValueError(
            "Requested the deserialization of a `Lambda` layer, whose function is Python code. "
            "This carries a risk of arbitrary code execution and is disallowed by default. If "
            "you trust the source of the saved model, pass `safe_mode=False` to the loading "
            "function (and the function itself in custom_objects or by registering it)."
        )
    for key in ("function", "output_shape"):
        entry = inner.get(key)
        if isinstance(entry, dict) and entry.get("class_name") == "__lambda__":
            deserialize_keras_object(entry, safe_mode=False)  # raises: bytecode
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
