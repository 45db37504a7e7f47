"""Activation layers: ReLU, LeakyReLU, PReLU, ELU, Softmax (Keras 3
``keras/src/layers/activations/``).

Each layer applies one function of ``keras.activations`` (or, for PReLU, two relus and a
learned slope), so its gradient comes from chainrule's autodiff and its subgradients at the
kinks are those of Keras on the torch backend. Output shape = input shape for all five.
"""

from __future__ import annotations

import numbers
import warnings

from ... import ops
from ...backend import np
from .. import activations
from .input_spec import InputSpec
from .layer import Layer
from .rnn.masking import as_array, get_mask

__all__ = ["ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax"]


def _number(name: str, value, owner: str, allow_none: bool = False, minimum=None):
    """``value`` as a plain Python number after Keras's checks, else a ValueError that names
    the argument, what was expected and what was received."""
    if value is None and allow_none:
        return None
    ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
          and not np.isnan(value) and (minimum is None or value >= minimum))  # fmt: skip
    if not ok:
        want = "a number" if minimum is None else f"a number >= {minimum}"
        want += " or None" if allow_none else ""
        raise ValueError(f"{name} of {owner} layer must be {want}, received {name}={value!r}")
    # NumPy scalars become Python numbers so that get_config stays JSON-serializable.
    return value.item() if isinstance(value, np.generic) else value


class _Elementwise(Layer):
    """A weightless layer that maps each input entry on its own: built at construction (as
    Keras's ``_build_at_init``), any input rank, output shape = input shape, and the input's
    Keras mask handed on to the output."""

    _built_at_init = True  # no build_config in its saved config, as Keras (see Layer)

    _mask_passthrough = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class ReLU(_Elementwise):
    """Rectified linear unit layer with optional ceiling, leak and threshold.

    ``f(x) = min(x, max_value)`` for ``x > threshold``, else ``negative_slope * (x - threshold)``;
    the defaults give ``max(x, 0)``. The gradient is 0 at ``x == threshold``; at
    ``x == max_value`` it is 1, except 0 for ``max_value=6`` with ``threshold=0`` (relu6), as
    Keras on torch.

    Args:
        max_value: ceiling, a number >= 0, or None (default) for none.
        negative_slope: slope below the threshold, a number >= 0 (default 0.0).
        threshold: the input value below which the unit leaks, a number >= 0 (default 0.0).
        **kwargs: base layer arguments (``name``, ``dtype``, ``trainable``).

    Shape: any input shape; the output has the same shape.

    Raises:
        ValueError: naming the argument when one is negative, NaN, None (except
            ``max_value``) or not a number.

    Matches Keras 3 ``keras/src/layers/activations/relu.py``.

    >>> ReLU(max_value=6.0)(np.array([-1.0, 0.0, 3.0, 8.0], "float32")).numpy()
    array([0., 0., 3., 6.], dtype=float32)
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _number("max_value", max_value, "a ReLU", allow_none=True, minimum=0)
        self.negative_slope = _number("negative_slope", negative_slope, "a ReLU", minimum=0)
        self.threshold = _number("threshold", threshold, "a ReLU", minimum=0)

    def call(self, inputs):
        # An infinite ceiling clips nothing (Keras accepts it); activations.relu wants None.
        top = self.max_value
        top = None if top is not None and np.isinf(top) else top
        return activations.relu(inputs, negative_slope=self.negative_slope, max_value=top,
                                threshold=self.threshold)  # fmt: skip

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}  # fmt: skip


class LeakyReLU(_Elementwise):
    """Leaky rectified linear unit layer: ``f(x) = x if x > 0 else negative_slope * x``.

    The gradient at 0 is ``negative_slope`` (as torch ``leaky_relu``).

    Args:
        negative_slope: a number >= 0 (default 0.3; ``keras.activations.leaky_relu``'s default
            is 0.2). The deprecated keyword ``alpha`` is accepted in its place, with a
            UserWarning, and wins when both are given (as Keras).
        **kwargs: base layer arguments.

    Shape: any input shape; the output has the same shape.

    Raises:
        ValueError: naming ``negative_slope`` when it is None, negative, NaN or not a number.

    Matches Keras 3 ``keras/src/layers/activations/leaky_relu.py``.

    >>> LeakyReLU(negative_slope=0.5)(np.array([-2.0, 0.0, 3.0], "float32")).numpy()
    array([-1.,  0.,  3.], dtype=float32)
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.",
                          UserWarning, stacklevel=2)  # fmt: skip
        super().__init__(**kwargs)
        self.negative_slope = _number("negative_slope", negative_slope, "a LeakyReLU", minimum=0)

    def call(self, inputs):
        return activations.leaky_relu(inputs, negative_slope=self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(_Elementwise):
    """Exponential linear unit layer: ``f(x) = x if x > 0 else alpha * (exp(x) - 1)``.

    The gradient at 0 is ``alpha`` (as torch ``elu``).

    Args:
        alpha: scale of the negative part, a finite number (default 1.0).
        **kwargs: base layer arguments.

    Shape: any input shape; the output has the same shape.

    Raises:
        ValueError: naming ``alpha`` when it is not a finite number.

    Matches Keras 3 ``keras/src/layers/activations/elu.py`` (Clevert et al. 2015).

    >>> ELU()(np.array([0.0, 2.0], "float32")).numpy()
    array([0., 2.], dtype=float32)
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = _number("alpha", alpha, "an ELU")
        if np.isinf(self.alpha):
            raise ValueError(f"alpha of an ELU layer must be finite, received alpha={alpha!r}")

    def call(self, inputs):
        return activations.elu(inputs, alpha=self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class PReLU(Layer):
    """Parametric ReLU: ``f(x) = relu(x) - alpha * relu(-x)``, with ``alpha`` a learned weight.

    ``alpha`` has the input's shape without the batch axis, with size 1 on each of
    ``shared_axes`` (broadcast there). The gradient at ``x == 0`` is 0 for ``x`` and ``alpha``.

    Args:
        alpha_initializer: initializer of ``alpha`` (default "Zeros").
        alpha_regularizer: optional regularizer of ``alpha`` (default None).
        alpha_constraint: optional constraint on ``alpha`` (default None).
        shared_axes: an int or list of ints, input axes (>= 1; 0 is the batch) along which one
            ``alpha`` is shared (default None), e.g. ``[1, 2]`` after a Conv2D.
        **kwargs: base layer arguments.

    Shape: ``(batch, d1, ..., dn)``, output the same; ``alpha`` is ``(d1, ..., dn)`` with 1 on
    the shared axes. Later inputs must have the same rank and sizes on the unshared axes.

    Raises:
        ValueError: ``shared_axes`` not integers in ``[1, rank)``; an unshared axis of unknown
            size at build; an unknown initializer, regularizer or constraint.

    Matches Keras 3 ``keras/src/layers/activations/prelu.py`` (He et al. 2015).

    >>> PReLU(alpha_initializer="ones")(np.array([[-2.0, 3.0]], "float32")).numpy()
    array([[-2.,  3.]], dtype=float32)
    """

    _mask_passthrough = True

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):  # fmt: skip
        from .. import constraints, initializers, regularizers  # noqa: PLC0415

        super().__init__(**kwargs)
        self.supports_masking = True
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            for a in axes:
                if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or a < 1:
                    raise ValueError(
                        "shared_axes must be an int or a list of ints >= 1 (axis 0 is the "
                        f"batch), received shared_axes={shared_axes!r}"
                    )
            self.shared_axes = [int(a) for a in axes]

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        rank = len(input_shape)
        shared = set(self.shared_axes or ())
        if shared and max(shared) >= rank:
            raise ValueError(
                f"shared_axes must be input axes in [1, {rank}) for an input of shape "
                f"{input_shape}, received shared_axes={self.shared_axes}"
            )
        param_shape = [1 if i in shared else input_shape[i] for i in range(1, rank)]
        if any(s is None for s in param_shape):
            raise ValueError(
                f"PReLU layer {self.name!r} needs known sizes on every axis not in shared_axes, "
                f"received input shape {input_shape} with shared_axes={self.shared_axes}"
            )
        self.alpha = self.add_weight(shape=param_shape, name="alpha",
                                     initializer=self.alpha_initializer,
                                     regularizer=self.alpha_regularizer,
                                     constraint=self.alpha_constraint)  # fmt: skip
        axes = {i: input_shape[i] for i in range(1, rank) if i not in shared} if shared else {}
        self.input_spec = InputSpec(ndim=rank, axes=axes)
        self.built = True

    def call(self, inputs):
        return ops.relu(inputs) - self.alpha * ops.relu(ops.negative(inputs))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        from .. import constraints, initializers, regularizers  # noqa: PLC0415

        def ser(module, obj):
            return None if obj is None else module.serialize(obj)

        return {**super().get_config(),
                "alpha_initializer": ser(initializers, self.alpha_initializer),
                "alpha_regularizer": ser(regularizers, self.alpha_regularizer),
                "alpha_constraint": ser(constraints, self.alpha_constraint),
                "shared_axes": self.shared_axes}  # fmt: skip


def _check_axis(axis):
    ok = axis is None or (isinstance(axis, (int, np.integer)) and not isinstance(axis, bool))
    if isinstance(axis, (list, tuple)):
        ok = bool(axis) and all(
            isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axis
        )
    if not ok:
        raise ValueError(
            f"axis of a Softmax layer must be an int, a non-empty list of ints or None, "
            f"received axis={axis!r}"
        )
    return [int(a) for a in axis] if isinstance(axis, (list, tuple)) else axis


class Softmax(_Elementwise):
    """Softmax layer: ``f(x) = exp(x - max(x)) / sum(exp(x - max(x)))`` over ``axis``.

    With ``mask`` (True or > 0.5 = keep), masked entries enter the softmax as -1e9 (-3e4 in
    float16) and leave it as 0, so a fully masked slice gives zeros, not a uniform row.

    Args:
        axis: an int, a list of ints, or None for all axes (default -1).
        **kwargs: base layer arguments.

    Call arguments:
        inputs: the logits, any shape.
        mask: optional, broadcastable to ``inputs`` with no more axes, each of its axes 1 or the
            input's size (default None: the Keras mask ``inputs`` carries, if any).

    Shape: any input shape; the output has the same shape.

    Raises:
        ValueError: ``axis`` not an int, list of ints or None; ``mask`` with more axes than
            ``inputs`` or an axis that is neither 1 nor the input's size (both shapes named).

    Matches Keras 3 ``keras/src/layers/activations/softmax.py``.

    >>> Softmax()(np.array([[0.0, 0.0]], "float32")).numpy()
    array([[0.5, 0.5]], dtype=float32)
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _check_axis(axis)

    def call(self, inputs, mask=None):
        mask = get_mask(inputs, mask) if mask is None else as_array(mask)
        axis = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        if mask is None:
            return ops.softmax(inputs, axis=axis)
        in_shape, m_shape = tuple(inputs.shape), tuple(mask.shape)
        if len(m_shape) > len(in_shape) or any(
            m != 1 and m != i for m, i in zip(m_shape[::-1], in_shape[::-1])
        ):
            raise ValueError(
                "mask must be broadcastable to inputs: no more axes, and each mask axis 1 or "
                f"the input's size, received inputs.shape={in_shape}, mask.shape={m_shape}"
            )
        keep = mask if mask.dtype == bool else mask > 0.5
        # NOTE: a large finite negative, not -inf, so a fully masked slice stays finite.
        fill = -3e4 if np.dtype(inputs.dtype) == np.float16 else -1e9
        out = ops.softmax(ops.where(keep, inputs, fill), axis=axis)
        return ops.where(keep, out, 0.0)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
