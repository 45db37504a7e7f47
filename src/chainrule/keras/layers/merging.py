"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot, and their
functional forms ``add(...)``, ``concatenate(...)``, ... (Keras 3 ``keras/src/layers/merging/``).

Every merge layer takes a list of tensors (``Dot`` and ``dot`` are in ``merging_dot.py``).
The elementwise ones broadcast the per-sample shapes (trailing axes aligned, size 1 stretches);
an input of lower rank gets axes inserted after the batch axis first, as Keras does.

Keras masks (``_keras_mask``, a boolean ``(batch, steps)`` array on an input: ``rnn/masking.py``)
go through as in Keras 3 (``base_merge.py:compute_mask``, ``concatenate.py:compute_mask``): the
elementwise layers give the OR of their inputs' masks when every input has one (else no mask),
``Concatenate`` joins the masks (an unmasked input counts as all True) and reduces the last axis
with ``any``, and ``Dot`` gives none. ``Multiply``, ``Maximum`` and ``Minimum`` also use the
masks in their values, as Keras's do.
"""

from __future__ import annotations

import functools

from ... import ops
from ...backend import np
from .layer import Layer, shape_of
from .rnn.masking import attach_mask, get_mask

__all__ = [
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Merge",
    "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate",
]  # fmt: skip


def _fmt(shapes):
    return "[" + ", ".join(str(tuple(s)) for s in shapes) + "]"


def _as_shape_list(layer, input_shape):
    if not isinstance(input_shape, (list, tuple)) or not input_shape or not all(
            isinstance(s, (list, tuple)) for s in input_shape):  # fmt: skip
        raise ValueError(
            f"A merge layer ({type(layer).__name__} {layer.name!r}) should be called on a list "
            f"of inputs. Received: input_shape={input_shape} (not a list of shapes)"
        )
    return [tuple(s) for s in input_shape]


def _broadcast_pair(s1, s2, shapes):
    if len(s1) < len(s2):
        s1, s2 = s2, s1
    out = list(s1[: len(s1) - len(s2)])
    for a, b in zip(s1[len(s1) - len(s2):], s2, strict=True):
        if a is None or b is None:
            out.append(None)
        elif a == 1 or b == 1 or a == b:
            out.append(max(a, b) if 1 in (a, b) else a)
        else:
            raise ValueError(
                f"Inputs have incompatible shapes. Received shapes {tuple(s1)} and {tuple(s2)} "
                f"(all input shapes: {_fmt(shapes)})"
            )
    return tuple(out)


class Merge(Layer):
    """Base class of the elementwise merge layers; subclasses define ``_merge_function``."""

    _min_inputs = 1
    _exact_inputs = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def _check_count(self, n, shapes):
        name = type(self).__name__
        if self._exact_inputs is not None and n != self._exact_inputs:
            raise ValueError(
                f"A `{name}` layer should be called on exactly {self._exact_inputs} inputs. "
                f"Received: input_shape={_fmt(shapes)}"
            )
        if n < self._min_inputs:
            raise ValueError(
                f"A `{name}` layer should be called on a list of at least {self._min_inputs} "
                f"input(s). Received {n}: input_shape={_fmt(shapes)}"
            )

    def compute_output_shape(self, input_shape):
        """The broadcast per-sample shape after the common batch axis.

        Raises:
            ValueError: not a list; wrong input count; different batch sizes; per-sample shapes
                that do not broadcast (naming both).
        """
        shapes = _as_shape_list(self, input_shape)
        self._check_count(len(shapes), shapes)
        batches = {s[0] for s in shapes if s} - {None}
        if len(batches) > 1:
            raise ValueError(
                f"Cannot merge tensors with different batch sizes. Received tensors with "
                f"shapes {_fmt(shapes)}"
            )
        out = shapes[0][1:]
        for s in shapes[1:]:
            out = _broadcast_pair(out, s[1:], shapes)
        return (batches.pop() if batches else None, *out)

    def __call__(self, *args, **kwargs):
        # Validate on the declared shapes (None batch axis included) before any placeholder
        # run, so the error shows the user's shapes rather than the placeholders'.
        inputs = args[0] if args else None
        if isinstance(inputs, (list, tuple)):
            self.compute_output_shape(shape_of(list(inputs)))
        return super().__call__(*args, **kwargs)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        self.built = True

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"A merge layer ({type(self).__name__} {self.name!r}) should be called on a "
                f"list of inputs. Received: inputs of shape {shape_of(inputs)} (not a list)"
            )
        xs = list(inputs)
        self._check_count(len(xs), shape_of(xs))
        in_masks = [get_mask(x) for x in xs]
        rank = max(x.ndim for x in xs)
        # Keras inserts the missing axes right after the batch axis (a reshaped input's mask
        # does not reach the merge function, as in Keras).
        xs = [x if x.ndim == rank else ops.reshape(x, (x.shape[0], *(1,) * (rank - x.ndim),
                                                       *x.shape[1:]))  # fmt: skip
              for x in xs]
        if all(m is None for m in in_masks):
            return self._merge_function(xs)
        out, out_mask = self._merge_masked(xs, [get_mask(x) for x in xs])
        return attach_mask(out, self._output_mask(in_masks) if out_mask is None else out_mask)

    def _merge_masked(self, xs, masks):
        # (output, its mask or None to take _output_mask's) when some input has a mask
        return self._merge_function(xs), None

    def _output_mask(self, masks, xs=None):
        # Keras's base_merge.compute_mask: the OR of the masks, if every input has one
        return None if any(m is None for m in masks) else functools.reduce(np.logical_or, masks)

    def compute_mask(self, inputs, mask=None):
        """The output's Keras mask for the inputs' masks ``mask`` (a list, or None).

        Raises ``ValueError`` if ``mask`` or ``inputs`` is not a list or their lengths
        differ. Matches Keras 3 ``merging/base_merge.py`` and ``concatenate.py``
        ``compute_mask``.
        """
        if mask is None:
            return None
        if not isinstance(mask, (list, tuple)) or not isinstance(inputs, (list, tuple)):
            raise ValueError(f"`inputs` and `mask` should be lists. Received: {type(inputs)} "
                             f"and mask={mask!r}")  # fmt: skip
        if len(mask) != len(inputs):
            raise ValueError(f"The lists `inputs` and `mask` should have the same length. "
                             f"Received: {len(inputs)} inputs and {len(mask)} masks")  # fmt: skip
        return self._output_mask([None if m is None else get_mask(None, m) for m in mask],
                                 inputs)  # fmt: skip

    def _merge_function(self, xs):  # pragma: no cover - abstract
        raise NotImplementedError


def _masked_extremum(op, xs, masks):
    """Keras's ``_apply_merge_op_and_or_mask``: a masked-out input entry takes the running
    result's value (and a masked-out result entry the input's), so masked steps do not
    compete; the output mask is the OR, if every input has one."""
    out = out_mask = None
    for x, m in zip(xs, masks, strict=True):
        m = None if m is None else np.broadcast_to(m[..., None], x.shape)
        if out is None:
            out, out_mask = x, m
            continue
        if m is not None:
            x = ops.where(m, x, out)
        if out_mask is not None:
            out = ops.where(out_mask, out, x)
        out_mask = None if m is None or out_mask is None else np.logical_or(out_mask, m)
        out = op(out, x)
    return out, None if out_mask is None else out_mask.any(axis=-1)


class Add(Merge):
    """Elementwise sum of a list of inputs: ``output = x1 + x2 + ... + xn``.

    Shape: a list of ``(batch, *d)`` tensors (broadcastable) -> ``(batch, *d)``.
    Raises ``ValueError`` for shapes that do not broadcast. Matches Keras 3
    ``keras/src/layers/merging/add.py``.
    """

    def _merge_function(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = ops.add(out, x)
        return out


class Subtract(Merge):
    """Difference of exactly two inputs: ``output = x1 - x2``.

    Raises ``ValueError`` unless called on exactly 2 inputs. Matches Keras 3
    ``keras/src/layers/merging/subtract.py``.
    """

    _exact_inputs = 2

    def _merge_function(self, xs):
        return ops.subtract(xs[0], xs[1])


class Multiply(Merge):
    """Elementwise product: ``output = x1 * x2 * ... * xn`` (Keras 3 ``merging/multiply.py``)."""

    def _merge_function(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = ops.multiply(out, x)
        return out

    def _merge_masked(self, xs, masks):
        # Keras's Multiply: a masked-out entry counts as 1; if every input has a mask, the
        # output is 0 where all of them are masked out and carries their OR.
        every = all(m is not None for m in masks)
        out = out_mask = None
        for x, m in zip(xs, masks, strict=True):
            if m is not None:
                m = np.broadcast_to(m[..., None], x.shape)
                x = ops.where(m, x, np.ones((), x.dtype))
                if every:
                    out_mask = m if out_mask is None else np.logical_or(out_mask, m)
            out = x if out is None else ops.multiply(out, x)
        if not every:
            return out, None
        out = ops.where(out_mask, out, np.zeros((), out.dtype))
        return out, out_mask.any(axis=-1)


class Average(Merge):
    """Elementwise mean: ``output = (x1 + ... + xn) / n`` (Keras 3 ``merging/average.py``)."""

    def _merge_function(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = ops.add(out, x)
        return ops.divide(out, len(xs))


class Maximum(Merge):
    """Elementwise maximum: ``output = max(x1, ..., xn)`` (Keras 3 ``merging/maximum.py``)."""

    def _merge_function(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = ops.maximum(out, x)
        return out

    def _merge_masked(self, xs, masks):
        return _masked_extremum(ops.maximum, xs, masks)


class Minimum(Merge):
    """Elementwise minimum: ``output = min(x1, ..., xn)`` (Keras 3 ``merging/minimum.py``)."""

    def _merge_function(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = ops.minimum(out, x)
        return out

    def _merge_masked(self, xs, masks):
        return _masked_extremum(ops.minimum, xs, masks)


class Concatenate(Merge):
    """Joins a list of inputs along ``axis``: ``output = concatenate([x1, ..., xn], axis)``.

    Args:
        axis: the axis to join along (default -1).

    Shape: inputs that agree on every axis but ``axis``; the output's ``axis`` size is the sum.

    Raises:
        ValueError: not a list, or shapes that differ off the concatenation axis (naming all
            shapes). Matches Keras 3 ``keras/src/layers/merging/concatenate.py``.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"axis must be an integer, received axis={axis!r}")
        self.axis = axis

    def compute_output_shape(self, input_shape):
        shapes = _as_shape_list(self, input_shape)
        rank = len(shapes[0])
        err = ValueError(
            f"A `Concatenate` layer requires inputs with matching shapes except for the "
            f"concatenation axis (axis={self.axis}). Received: input_shape={_fmt(shapes)}"
        )
        if any(len(s) != rank for s in shapes) or not -rank <= self.axis < rank:
            raise err
        axis = self.axis % rank
        out = list(shapes[0])
        for s in shapes[1:]:
            for i, (a, b) in enumerate(zip(out, s, strict=True)):
                if i == axis:
                    out[i] = None if a is None or b is None else a + b
                elif a is None:
                    out[i] = b
                elif b is not None and a != b:
                    raise err
        return tuple(out)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"A `Concatenate` layer should be called on a list of inputs. Received: inputs "
                f"of shape {shape_of(inputs)} (not a list)"
            )
        xs = list(inputs)
        out = ops.concatenate(xs, axis=self.axis)
        return attach_mask(out, self._output_mask([get_mask(x) for x in xs], xs))

    def _output_mask(self, masks, xs=None):
        # Keras's Concatenate.compute_mask: each mask over its input's shape (all True for
        # an unmasked input), joined along `axis`, then `any` over the last axis
        if all(m is None for m in masks):
            return None
        full = [np.ones(tuple(x.shape), bool) if m is None
                else np.logical_or(m[..., None], np.zeros(tuple(x.shape), bool))
                if m.ndim < x.ndim else m for x, m in zip(xs, masks, strict=True)]  # fmt: skip
        return np.concatenate(full, axis=self.axis).any(axis=-1)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def add(inputs, **kwargs):
    """``Add(**kwargs)(inputs)``: the elementwise sum of a list of tensors."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """``Subtract(**kwargs)(inputs)``: ``inputs[0] - inputs[1]``."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """``Multiply(**kwargs)(inputs)``: the elementwise product of a list of tensors."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """``Average(**kwargs)(inputs)``: the elementwise mean of a list of tensors."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """``Maximum(**kwargs)(inputs)``: the elementwise maximum of a list of tensors."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """``Minimum(**kwargs)(inputs)``: the elementwise minimum of a list of tensors."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis, **kwargs)(inputs)``: join a list of tensors along ``axis``."""
    return Concatenate(axis=axis, **kwargs)(inputs)
