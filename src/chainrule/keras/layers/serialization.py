"""Layer configs in Keras 3's JSON layout (``{"module", "class_name", "config",
"registered_name", "build_config"}``)."""

from __future__ import annotations

__all__ = ["serialize_layer"]


def serialize_layer(layer) -> dict:
    """The dict Keras 3 writes for a layer inside a model's config."""
    out = {"module": "keras.layers", "class_name": type(layer).__name__,
           "config": layer.get_config(), "registered_name": None}  # fmt: skip
    build = layer.get_build_config()
    if build is not None:
        out["build_config"] = build
    return out
