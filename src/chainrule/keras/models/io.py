"""``keras.models.load_model``, ``model_from_json`` and ``clone_model`` (matches Keras 3
``keras/src/saving/saving_api.py``, ``keras/src/models/model.py:model_from_json`` and
``keras/src/models/cloning.py``)."""

from __future__ import annotations

import json

from ..saving.saving_lib import load_model
from ..saving.serialization import SafeModeScope, deserialize_keras_object, serialize_keras_object

__all__ = ["load_model", "model_from_json", "clone_model", "model_to_json"]


def model_to_json(model, **kwargs) -> str:
    """``json.dumps(serialize_keras_object(model))`` (what ``model.to_json()`` returns)."""
    return json.dumps(serialize_keras_object(model), **kwargs)


def model_from_json(json_string: str, custom_objects: dict | None = None):
    """A new, freshly initialised model from :func:`model_to_json`'s output (or Keras's).

    Args:
        json_string: the JSON text.
        custom_objects: default None; ``{name: class_or_function}``.

    Raises:
        ValueError: invalid JSON, or an unknown class (naming it).
    """
    try:
        config = json.loads(json_string)
    except (TypeError, json.JSONDecodeError) as e:
        raise ValueError(
            f"model_from_json expects a JSON string, received an invalid one: {e}"
        ) from e
    with SafeModeScope(True):
        return deserialize_keras_object(config, custom_objects=custom_objects, compile=False)


def clone_model(model, input_tensors=None, clone_function=None, call_function=None,
                recursive=False, **kwargs):  # fmt: skip
    """A new model with the same architecture and freshly initialised weights (not compiled).

    Sequential and functional models are rebuilt from their config; with ``clone_function``
    each layer is made by ``clone_function(layer)`` instead (default: a layer of the same class
    from its config). Subclassed models are rebuilt with ``from_config``.

    Args:
        model: the model to clone.
        input_tensors: not supported (must be None).
        clone_function: default None; ``layer -> new layer``.
        call_function, recursive: accepted as in Keras; only the defaults are supported.

    Raises:
        ValueError: for arguments other than the defaults that are not supported.
    """
    if input_tensors is not None or call_function is not None or recursive or kwargs:
        raise ValueError(
            "clone_model supports model and clone_function only; received input_tensors="
            f"{input_tensors!r}, call_function={call_function!r}, recursive={recursive!r}, "
            f"{kwargs}"
        )
    from ..layers.input_layer import InputLayer  # noqa: PLC0415
    from .sequential import Sequential  # noqa: PLC0415

    if clone_function is not None and isinstance(model, Sequential):
        new = Sequential(name=model.name, trainable=model.trainable)
        if model._input_layer is not None:
            new.add(InputLayer(batch_shape=model._input_layer.batch_shape,
                               dtype=model._input_layer.dtype))  # fmt: skip
        for layer in model.layers:
            new.add(clone_function(layer), rebuild=False)
        new._maybe_build_from_input()
        return new
    if clone_function is not None:
        raise ValueError("clone_function is supported for Sequential models only")
    config = serialize_keras_object(model)
    config.pop("compile_config", None)
    return deserialize_keras_object(config, compile=False)
