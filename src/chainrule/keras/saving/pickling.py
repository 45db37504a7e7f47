"""``pickle``, ``copy.copy`` and ``copy.deepcopy`` of layers, models and metrics: the object
goes out as a ``.keras`` archive in memory (config, weights, compile config and optimizer
state) and comes back through the same checked archive reader and ``deserialize_keras_object``
that ``load_model`` uses, with ``compile=True`` and ``safe_mode=False``; problems a rebuild
would hit (a ``get_config()`` missing a required ``__init__`` argument, a Lambda on a Python
lambda) are raised while pickling. Matches Keras 3 ``keras/src/saving/keras_saveable.py``
(``KerasSaveable.__reduce__``, ``_unpickle_model``).
"""

from __future__ import annotations

import io
import re

from .saving_lib import _archive_bytes, _load_weights_bytes, _read_members
from .serialization import SafeModeScope, deserialize_keras_object

__all__ = ["UnpicklingClassError", "reduce_keras_object"]


class UnpicklingClassError(TypeError, ValueError):
    """A pickled Keras object names a class or function that is not registered here.

    A TypeError as in Keras ("Could not locate class"), and a ValueError as ``load_model``'s
    unknown-class error, so either ``except`` clause catches it."""


def _pickle_problem(layer) -> Exception | None:
    """The error that keeps ``layer`` from being rebuilt from its config, found while pickling
    rather than at ``pickle.loads``, far from its cause: required ``__init__`` arguments that
    ``get_config()`` lacks (NotImplementedError, as Keras), or a Lambda on a Python lambda."""
    import inspect  # noqa: PLC0415

    from ..layers import Lambda  # noqa: PLC0415
    from ..layers.layer import Layer  # noqa: PLC0415
    from ..models.model import Model  # noqa: PLC0415

    cls = type(layer)
    if isinstance(layer, Lambda) and getattr(layer.function, "__name__", "") == "<lambda>":
        return ValueError(
            "a Lambda layer on a Python lambda cannot be pickled or copied: chainrule stores "
            "functions by name, never as bytecode (Keras stores bytecode). Define a named "
            "function and register it with @keras.saving.register_keras_serializable()."
        )
    owner = next(k for k in cls.__mro__ if "from_config" in vars(k))
    if cls.__module__.startswith("chainrule.") or owner not in (Layer, Model):
        return None  # built-in, or a class that reads its own config
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    config = layer.get_config()
    missing = [p.name for p in params if p.default is p.empty and p.name not in config
               and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]  # fmt: skip
    if not missing:
        return None
    return NotImplementedError(
        f"{cls.__name__} cannot be pickled or copied: its __init__ requires {missing}, which "
        f"its get_config() does not return (it returned the keys {sorted(config)}). Override "
        "get_config() to return every __init__ argument: "
        "`return {**super().get_config(), 'units': self.units}`."
    )


def reduce_keras_object(obj) -> tuple:
    """``obj.__reduce__()`` for layers, models and metrics: ``(_unpickle_model, (bytes,))``,
    the bytes being a ``.keras`` archive of ``obj`` (config, weights, compile config and
    optimizer state), as Keras 3 ``keras/src/saving/keras_saveable.py``
    (``KerasSaveable.__reduce__``). ``pickle``, ``copy.copy`` and ``copy.deepcopy`` all go
    through it, so a copy shares nothing with ``obj``.

    Raises:
        NotImplementedError: a custom layer or model whose ``get_config()`` lacks a required
            ``__init__`` argument (naming the class and the arguments), as Keras.
        ValueError: a Lambda layer on a Python lambda (Keras stores its bytecode; chainrule
            never does).
    """
    from ..layers.layer import Layer  # noqa: PLC0415

    pending, seen = [obj], set()
    while pending:
        layer = pending.pop()
        if not isinstance(layer, Layer) or id(layer) in seen:
            continue
        seen.add(id(layer))
        problem = _pickle_problem(layer)
        if problem is not None:
            raise problem
        pending.extend(layer._sublayers())
    return _unpickle_model, (_archive_bytes(obj),)


def _unpickle_model(data: bytes):
    """Rebuild what :func:`reduce_keras_object` pickled: ``load_model`` on the archive in
    memory with ``compile=True`` and ``safe_mode=False`` (Keras's ``_unpickle_model``;
    unpickling runs code anyway). The name is part of every pickle: keep it.

    Raises:
        UnpicklingClassError: an unregistered class or function; register it with
            ``keras.saving.register_keras_serializable()`` (or unpickle inside
            ``keras.saving.custom_object_scope``).
        KerasFileError: corrupt bytes.
    """
    from ..layers.layer import Layer  # noqa: PLC0415

    where = "<pickled Keras object>"
    parts = _read_members(io.BytesIO(bytes(data)), len(data), where)
    try:
        with SafeModeScope(False):
            obj = deserialize_keras_object(parts["config"], safe_mode=False, compile=True)
    except ValueError as e:
        unknown = re.match(r"Unknown (class|function) ('[^']*')", str(e))
        if unknown is None:
            raise
        raise UnpicklingClassError(
            f"Could not locate {unknown[1]} {unknown[2]} while unpickling a "
            f"{parts['config'].get('class_name')!r}. Make sure custom classes and functions "
            "are decorated with @keras.saving.register_keras_serializable() and imported "
            "before pickle.loads (pickle cannot pass custom_objects; unpickling inside "
            "keras.saving.custom_object_scope({...}) works too)."
        ) from e
    if isinstance(obj, Layer):
        _load_weights_bytes(obj, parts["weights"], where)
    return obj
