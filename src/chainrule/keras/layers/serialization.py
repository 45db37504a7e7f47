"""Layer configs in Keras 3's JSON layout (``{"module", "class_name", "config",
"registered_name", "build_config"}``)."""

from __future__ import annotations

__all__ = ["serialize_layer"]


def serialize_layer(layer) -> dict:
    """The dict Keras 3 writes for a layer inside a model's config (built-in layers under
    ``keras.layers``, registered custom layers under their registered name)."""
    from ..saving.serialization import serialize_keras_object  # noqa: PLC0415

    return serialize_keras_object(layer)
