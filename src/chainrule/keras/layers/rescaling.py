"""The preprocessing layer ``Rescaling`` (Keras 3
``keras/src/layers/preprocessing/rescaling.py``)."""

from __future__ import annotations

from ... import ops
from ...backend import np
from .layer import Layer
from .preprocessing import _as_float, _numeric

__all__ = ["Rescaling"]


class Rescaling(Layer):
    """Multiplies inputs by ``scale`` and adds ``offset``: ``inputs * scale + offset``.

    Matches Keras 3 ``keras/src/layers/preprocessing/rescaling.py``. The inputs (integer or
    float, e.g. uint8 images) are cast to the layer's dtype (float32) first; ``scale`` and
    ``offset`` are numbers or per-channel lists, broadcast against the last axes of the input
    as NumPy broadcasts (``[s0, s1, s2]`` scales the channels of ``(batch, h, w, 3)`` images).
    Applied in training and inference alike.

    Args:
        scale: a number or list/array of numbers (required), e.g. ``1./255``.
        offset: a number or list/array of numbers (default 0.0), e.g. ``-1`` with
            ``scale=1./127.5`` maps [0, 255] to [-1, 1].
        **kwargs: base layer arguments (``name``, ``dtype``, ...).

    Shape: any ``(batch, ...)``; output the same shape, in the layer's float dtype.

    Raises:
        ValueError: a ``scale``/``offset`` that is not numeric or not finite, or one whose
            shape does not broadcast against the input's last axes (at build).

    >>> import numpy as np
    >>> from chainrule import keras
    >>> keras.layers.Rescaling(1 / 127.5, offset=-1)(np.array([[0, 255]], "uint8")).numpy()
    array([[-1.,  1.]], dtype=float32)
    """

    _mask_passthrough = True  # an input's Keras mask reaches the output (supports_masking)

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.offset = offset
        self._factors = (_numeric(scale, "scale"), _numeric(offset, "offset"))
        self._cast = None  # (dtype, scale, offset) in the dtype of the last call
        self.supports_masking = True

    def build(self, input_shape):
        shape = tuple(input_shape)
        for what, arr in zip(("scale", "offset"), self._factors):
            tail = shape[len(shape) - arr.ndim:] if arr.ndim <= len(shape) else None
            if tail is None or any(a != 1 and d is not None and a != d
                                   for a, d in zip(arr.shape, tail)):  # fmt: skip
                raise ValueError(
                    f"Rescaling: {what} of shape {arr.shape} does not broadcast against inputs "
                    f"of shape {shape}; a per-channel {what} needs one value per index of the "
                    f"last axis, received {what}={getattr(self, what)!r}"
                )
        self.built = True

    def call(self, inputs):
        dtype = np.dtype(self.dtype)
        cast = self._cast
        if cast is None or cast[0] != dtype:
            cast = self._cast = (dtype, *(a.astype(dtype) for a in self._factors))
        return ops.add(ops.multiply(_as_float(inputs, dtype), cast[1]), cast[2])

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        from ..saving.serialization import serialize_keras_object  # noqa: PLC0415

        # NumPy values are written as Keras writes them ({"class_name": "__numpy__", ...})
        return {**super().get_config(), "scale": serialize_keras_object(self.scale),
                "offset": serialize_keras_object(self.offset)}  # fmt: skip

    @classmethod
    def from_config(cls, config):
        from ..saving.serialization import deserialize_keras_object  # noqa: PLC0415

        config = dict(config)
        for key in ("scale", "offset"):
            if key in config:
                config[key] = deserialize_keras_object(config[key])
        return cls(**config)
