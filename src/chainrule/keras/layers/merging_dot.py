"""The ``Dot`` merge layer and its functional form ``dot(...)``: the batched dot product of two
tensors along given axes, optionally of L2-normalised inputs (Keras 3
``keras/src/layers/merging/dot.py``). Its output carries no Keras mask, as in Keras.
"""

from __future__ import annotations

from ... import ops
from ...backend import epsilon
from .layer import shape_of
from .merging import Merge, _as_shape_list

__all__ = ["Dot", "dot"]


def _l2_normalize(x, axis):
    # NOTE: x / sqrt(max(sum(x^2), epsilon^2)) equals Keras's x * min(rsqrt(sum(x^2)),
    # 1/epsilon) and never divides by zero: a zero vector stays zero instead of NaN.
    sq = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return ops.divide(x, ops.sqrt(ops.maximum(sq, epsilon() ** 2)))


class Dot(Merge):
    """Dot product of two samples along given axes: for ``(batch, d)`` inputs and
    ``axes=1``, ``output[b] = sum_i x1[b, i] * x2[b, i]``, shape ``(batch, 1)``.

    Args:
        axes: an int, or a pair ``(axis_of_x1, axis_of_x2)``; axis 0 (the batch) is not
            allowed.
        normalize: if True, L2-normalise both inputs along the dot axes first, so the output
            is the cosine similarity (default False).

    Shape: ``(batch, *a)`` and ``(batch, *b)`` -> the remaining axes of x1 then of x2
    (``(batch, 1)`` when nothing remains).

    Raises:
        TypeError/ValueError: for a malformed ``axes``; ValueError unless called on exactly two
            inputs whose dot axes have the same size (naming both shapes). Matches Keras 3
            ``keras/src/layers/merging/dot.py``.
    """

    _exact_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axes, int):
            if not isinstance(axes, (list, tuple)):
                raise TypeError(
                    f"Invalid type for argument `axes`: it should be a list or an int. "
                    f"Received: axes={axes!r}"
                )
            if len(axes) != 2 or not all(isinstance(a, int) for a in axes):
                raise ValueError(
                    f"Invalid format for argument `axes`: it should contain two integers. "
                    f"Received: axes={axes!r}"
                )
        self.axes = axes
        self.normalize = bool(normalize)
        self.supports_masking = False

    def _axes_for(self, r1, r2):
        pair = [self.axes, self.axes] if isinstance(self.axes, int) else list(self.axes)
        return [pair[0] % r1, pair[1] % r2]

    def compute_output_shape(self, input_shape):
        shapes = _as_shape_list(self, input_shape)
        self._check_count(len(shapes), shapes)
        s1, s2 = list(shapes[0]), list(shapes[1])
        a1, a2 = self._axes_for(len(s1), len(s2))
        if a1 == 0 or a2 == 0:
            raise ValueError(
                f"Dot cannot take the product over the batch axis 0. Received: axes={self.axes}"
            )
        if s1[a1] is not None and s2[a2] is not None and s1[a1] != s2[a2]:
            raise ValueError(
                f"Incompatible input shapes: axis values {s1[a1]} (at axis {a1}) != "
                f"{s2[a2]} (at axis {a2}). Full input shapes: {tuple(s1)}, {tuple(s2)}"
            )
        s1.pop(a1)
        s2.pop(a2)
        s2.pop(0)
        out = s1 + s2
        return tuple(out + [1] if len(out) == 1 else out)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(
                f"A `Dot` layer should be called on exactly 2 inputs. Received: "
                f"{shape_of(inputs)}"
            )
        x1, x2 = inputs
        a1, a2 = self._axes_for(x1.ndim, x2.ndim)
        if self.normalize:
            x1, x2 = _l2_normalize(x1, a1), _l2_normalize(x2, a2)
        # Batched tensordot: move the dot axis last in x1 and right after the batch in x2,
        # flatten the rest, then one batched matmul.
        x1 = ops.moveaxis(x1, a1, -1)
        x2 = ops.moveaxis(x2, a2, 1)
        rest1, rest2 = tuple(x1.shape[1:-1]), tuple(x2.shape[2:])
        b, k = x1.shape[0], x1.shape[-1]
        m1 = ops.reshape(x1, (b, -1, k))
        m2 = ops.reshape(x2, (b, k, -1))
        out = ops.matmul(m1, m2)
        shape = (b, *rest1, *rest2)
        return ops.reshape(out, shape if len(shape) > 1 else (b, 1))

    def compute_mask(self, inputs, mask=None):
        """None: the dot product has no steps left to mask (Keras 3 ``Dot.compute_mask``)."""
        return None

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def dot(inputs, axes=-1, **kwargs):
    """``Dot(axes, **kwargs)(inputs)``: the batched dot product of two tensors."""
    return Dot(axes=axes, **kwargs)(inputs)
