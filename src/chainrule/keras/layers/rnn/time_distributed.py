"""``TimeDistributed``: applies a layer to every time step (Keras 3
``keras/src/layers/rnn/time_distributed.py``)."""

from __future__ import annotations

from .... import ops
from ..layer import Layer
from .masking import attach_mask, get_mask

__all__ = ["TimeDistributed"]


class TimeDistributed(Layer):
    """Applies ``layer`` to each slice ``inputs[:, t]`` with shared weights.

    ``out[:, t] = layer(inputs[:, t])``, computed as one call on the ``(batch * steps, ...)``
    reshaped input (the same numbers as Keras's per-step loop for layers without batch
    statistics; a ``BatchNormalization`` inside sees all steps as one batch).

    Args:
        layer: a Layer instance.

    Shape: ``(B, T, *inner) -> (B, T, *layer_output[1:])``. The input mask, if any, is kept.

    Raises:
        ValueError: ``layer`` not a Layer; input of rank < 3 (naming the shape).
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(
                f"TimeDistributed needs a keras.layers.Layer instance, received layer={layer!r}"
            )
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = True

    def _child_shape(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(
                f"TimeDistributed needs an input with at least 3 dimensions (batch, steps, "
                f"...), received shape {tuple(input_shape)}"
            )
        return (input_shape[0], *input_shape[2:])

    def build(self, input_shape):
        child = self._child_shape(input_shape)
        if not self.layer.built:
            self.layer.build(child)
            self.layer.built = True
        self.built = True

    def call(self, inputs, training=None, mask=None):
        shape = tuple(inputs.shape)
        self._child_shape(shape)
        b, t = shape[0], shape[1]
        flat = ops.reshape(inputs, (b * t, *shape[2:]))
        kwargs = {"training": training} if self.layer._call_has_training else {}
        mask = get_mask(inputs, mask)
        if mask is not None and self.layer._call_has_mask:
            if tuple(mask.shape[:2]) != (b, t):
                raise ValueError(
                    f"TimeDistributed {self.name!r}: the mask must start with the input's "
                    f"(batch, steps) = {(b, t)}, received mask shape {tuple(mask.shape)}"
                )
            # Keras gives the inner layer mask[:, i] with step i: here all steps at once
            kwargs["mask"] = mask.reshape((b * t, *mask.shape[2:]))
        out = self.layer(flat, **kwargs)
        out = ops.reshape(out, (b, t, *tuple(out.shape)[1:]))
        return attach_mask(out, mask)

    def compute_mask(self, inputs, mask=None):
        """The input's mask, unchanged (Keras 3's default ``Layer.compute_mask``, which
        ``TimeDistributed`` keeps)."""
        return get_mask(inputs, mask)

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape(self._child_shape(input_shape))
        return (inner[0], input_shape[1], *inner[1:])

    def get_config(self):
        from ..serialization import serialize_layer  # noqa: PLC0415

        return {**super().get_config(), "layer": serialize_layer(self.layer)}
