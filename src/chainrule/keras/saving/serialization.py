"""Turning Keras objects into JSON-ready dicts and back, in Keras 3's format
(``{"module", "class_name", "config", "registered_name"}``;
``keras/src/saving/serialization_lib.py``).
"""

from __future__ import annotations

__all__ = ["dtype_policy_config", "serialize_keras_object"]


def dtype_policy_config(dtype: str) -> dict:
    """The ``DTypePolicy`` dict Keras 3 writes for a layer's dtype."""
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": str(dtype)},
            "registered_name": None}  # fmt: skip


def serialize_keras_object(obj, module: str):
    """``{"module": module, "class_name": ..., "config": obj.get_config(), ...}``."""
    if obj is None:
        return None
    return {"module": module, "class_name": type(obj).__name__, "config": obj.get_config(),
            "registered_name": None}  # fmt: skip
