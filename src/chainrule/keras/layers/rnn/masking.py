"""Keras masks for chainrule, and the ``Masking`` layer (Keras 3
``keras/src/layers/core/masking.py``).

How a mask travels (the least invasive design; no change to ``Layer`` or the models): a layer
that makes a mask (``Embedding(mask_zero=True)``, ``Masking``) returns a :class:`MaskedTensor`,
a ``Tensor`` with one extra slot ``_keras_mask`` (a boolean ``(batch, steps)`` array) that
shares the output's data and graph node. Layers that consume masks (the recurrent layers,
``Bidirectional``, ``TimeDistributed``, ``BatchNormalization``, the attention layers) read an
explicit ``mask=`` argument first and otherwise :func:`get_mask` of their input. The mask
therefore reaches the layer called directly on the masking layer's output, in Sequential and
functional models alike; a layer in between that builds a new Tensor (Dense, Dropout) drops it.
"""

from __future__ import annotations

from .... import ops
from ....autodiff.tensor import Tensor
from ....backend import np
from ..layer import Layer

__all__ = ["MaskedTensor", "attach_mask", "get_mask", "as_array", "Masking"]


def as_array(x):
    """The array behind a Tensor, or ``np.asarray(x)``."""
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class MaskedTensor(Tensor):
    """A Tensor carrying a Keras mask in ``_keras_mask`` (True = a step to use)."""

    __slots__ = ("_keras_mask",)


def attach_mask(t, mask):
    """``t`` (a Tensor or array) as a :class:`MaskedTensor` with ``mask``; the same data and
    graph node, so gradients flow through it unchanged. ``mask=None`` returns ``t``."""
    if mask is None:
        return t
    if not isinstance(t, Tensor):
        t = Tensor._wrap(np.asarray(t))
    elif t._node is None and t.requires_grad:
        # A leaf (a user's tensor that requires grad) has no node to share: give the masked
        # output one (an identity reshape), or its gradient would never reach the leaf.
        t = ops.reshape(t, t.shape)
    out = object.__new__(MaskedTensor)
    out.data, out.grad, out.requires_grad, out._node = t.data, None, t.requires_grad, t._node
    out._keras_mask = as_array(mask).astype(bool, copy=False)
    return out


def get_mask(x, mask=None):
    """The explicit ``mask`` as a boolean array if given, else the mask ``x`` carries, else
    None."""
    if mask is not None:
        return as_array(mask).astype(bool, copy=False)
    return getattr(x, "_keras_mask", None)


class Masking(Layer):
    """Masks the time steps whose features all equal ``mask_value``.

    ``mask[b, t] = any(x[b, t, :] != mask_value)``; the output is ``x`` with masked steps set
    to 0, carrying ``mask`` for the next layer (see the module docstring).

    Args:
        mask_value: default 0.0.

    Shape: ``(batch, steps, ...)``, output the same; the mask is ``(batch, steps)``.
    """

    _built_at_init = True  # no build_config in its saved config, as Keras (see Layer)

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True

    def call(self, inputs):
        data = as_array(inputs)
        keep = np.any(data != self.mask_value, axis=-1)
        out = ops.where(keep[..., None], inputs, np.zeros((), dtype=data.dtype))
        return attach_mask(out, keep)

    def compute_mask(self, inputs, mask=None):
        return np.any(as_array(inputs) != self.mask_value, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
