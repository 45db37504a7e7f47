"""``keras.saving``: save and load models and weights in Keras 3's formats, and the registry
of custom objects (matches Keras 3 ``keras/saving/__init__.py``)."""

from .object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from .saving_lib import load_model, load_weights, save_model, save_weights
from .serialization import deserialize_keras_object, serialize_keras_object

__all__ = [
    "save_model", "load_model", "save_weights", "load_weights", "register_keras_serializable",
    "get_custom_objects", "get_registered_name", "get_registered_object", "CustomObjectScope",
    "custom_object_scope", "serialize_keras_object", "deserialize_keras_object",
]  # fmt: skip
