"""Chainrule's tables of built-in serialisable classes and functions, and the lookups between
the names a config holds and the objects they stand for: ``resolve_class`` (a config's
``module``/``class_name``/``registered_name`` to a class), the function lookup (a name to a
built-in activation, loss or metric, or a registered or custom function), and the reverse
(the ``module`` and function entry an object is written under). Only these tables and the
user's registered or passed custom objects are searched; no module named in a file is ever
imported. Mirrors Keras 3 ``keras/src/saving/serialization_lib.py``
(``_retrieve_class_or_fn``, ``serialize_with_public_class``, ``serialize_with_public_fn``).
"""

from __future__ import annotations

import inspect

from . import object_registration as reg

__all__ = ["builtin_tables", "resolve_class"]


# -- names in a config to objects -------------------------------------------------------------
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


# -- objects to the names they are written under -----------------------------------------------
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
