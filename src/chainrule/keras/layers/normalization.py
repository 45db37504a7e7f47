"""Normalization layers: BatchNormalization, LayerNormalization, GroupNormalization
(Keras 3 ``keras/src/layers/normalization/``)."""

from __future__ import annotations

from ... import ops
from ...backend import epsilon as _fuzz
from ...backend import np
from .core import _ser
from .input_spec import InputSpec
from .layer import Layer
from .rnn.masking import as_array, get_mask

__all__ = ["BatchNormalization", "LayerNormalization", "GroupNormalization"]


def _get(kind, value):
    from .. import constraints, initializers, regularizers  # noqa: PLC0415

    return {"init": initializers, "reg": regularizers, "con": constraints}[kind].get(value)


def _check_axes(axes, ndim, name):
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(
                f"{name}: axis {a} is out of bounds for an input of rank {ndim}, received "
                f"axis={a}"
            )
        out.append(a % ndim)
    return sorted(out)


def _moments(x, axes, mask=None):
    """Mean and biased variance over ``axes`` (kept as size-1 axes).

    NOTE: the variance is ``mean((x - mean)^2)`` (two passes), not Keras-torch's
    ``mean(x^2) - mean^2``; the same value but without cancellation when ``|mean| >> std``.
    """
    if mask is None:
        mean = ops.mean(x, axis=axes, keepdims=True)
        d = x - mean
        return mean, ops.mean(d * d, axis=axes, keepdims=True)
    w = np.broadcast_to(np.asarray(mask, dtype=x.dtype)[..., None], x.shape)
    total = np.sum(w, axis=axes, keepdims=True) + np.asarray(_fuzz(), x.dtype)
    mean = ops.sum(x * w, axis=axes, keepdims=True) / total
    d = (x - mean) * w
    return mean, ops.sum(d * d, axis=axes, keepdims=True) / total


class _AffineNorm(Layer):
    """Shared config of the normalization layers: gamma (scale) and beta (center)."""

    # An input's Keras mask reaches the output (Keras: supports_masking, no compute_mask).
    _mask_passthrough = True

    def __init__(self, epsilon, center, scale, beta_initializer, gamma_initializer,
                 beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint,
                 **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or epsilon < 0:
            raise ValueError(f"epsilon must be a float >= 0, received epsilon={epsilon!r}")
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = _get("init", beta_initializer)
        self.gamma_initializer = _get("init", gamma_initializer)
        self.beta_regularizer = _get("reg", beta_regularizer)
        self.gamma_regularizer = _get("reg", gamma_regularizer)
        self.beta_constraint = _get("con", beta_constraint)
        self.gamma_constraint = _get("con", gamma_constraint)
        self.supports_masking = True
        self.gamma = self.beta = None

    def _make_affine(self, shape, with_gamma=True, with_beta=True):
        if self.scale and with_gamma:
            self.gamma = self.add_weight(shape=shape, name="gamma",
                                         initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)  # fmt: skip
        if self.center and with_beta:
            self.beta = self.add_weight(shape=shape, name="beta",
                                        initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)  # fmt: skip

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _affine_config(self):
        return {"epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": _ser("initializers", self.beta_initializer),
                "gamma_initializer": _ser("initializers", self.gamma_initializer),
                "beta_regularizer": _ser("regularizers", self.beta_regularizer),
                "gamma_regularizer": _ser("regularizers", self.gamma_regularizer),
                "beta_constraint": _ser("constraints", self.beta_constraint),
                "gamma_constraint": _ser("constraints", self.gamma_constraint)}  # fmt: skip


class BatchNormalization(_AffineNorm):
    """Normalizes each feature with batch statistics in training and moving statistics at
    inference (Ioffe & Szegedy 2015; matches Keras 3
    ``keras/src/layers/normalization/batch_normalization.py``).

    Training (``training=True`` and the layer trainable)::

        mean, var = mean(x, reduce_axes), mean((x - mean)**2, reduce_axes)   # biased
        out = gamma * (x - mean) / sqrt(var + epsilon) + beta
        moving_mean = moving_mean * momentum + mean * (1 - momentum)
        moving_variance = moving_variance * momentum + var * (1 - momentum)

    Inference: ``out = gamma * (x - moving_mean) / sqrt(moving_variance + epsilon) + beta``.
    The moving statistics are updated in place, outside the gradient.

    Args:
        axis: the feature axis (default -1); statistics reduce over every other axis.
        momentum: default 0.99. epsilon: default 1e-3.
        center: add ``beta`` (default True). scale: multiply by ``gamma`` (default True).
        beta_initializer="zeros", gamma_initializer="ones",
        moving_mean_initializer="zeros", moving_variance_initializer="ones",
        beta/gamma_regularizer, beta/gamma_constraint: optional.

    Weights (Keras order): gamma, beta (trainable), moving_mean, moving_variance.

    Shape: any ``(batch, ...)``, output the same shape. A ``mask`` of shape ``x.shape[:-1]``
    (call argument, or else the Keras mask the input carries) restricts the batch statistics
    to the unmasked positions; the input's mask is passed on to the output.

    Raises:
        ValueError: ``axis`` out of range for the input, an unknown feature size, a bad
            epsilon or a mask of the wrong rank; NotImplementedError for ``renorm`` or
            ``synchronized``.

    >>> import numpy as np
    >>> from chainrule import keras
    >>> bn = keras.layers.BatchNormalization(momentum=0.5)
    >>> x = np.array([[0.0], [2.0]], "float32")
    >>> [round(float(v), 4) for v in bn(x, training=True).numpy()[:, 0]]  # (x - 1) / sqrt(1.001)
    [-0.9995, 0.9995]
    >>> bn.moving_mean.numpy().tolist(), bn.moving_variance.numpy().tolist()
    ([0.5], [1.0])
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, synchronized=False, **kwargs):  # fmt: skip
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, beta_constraint,
                         gamma_constraint, **kwargs)  # fmt: skip
        if renorm or synchronized:
            raise NotImplementedError(
                f"BatchNormalization: renorm and synchronized are not supported, received "
                f"renorm={renorm!r}, synchronized={synchronized!r}"
            )
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.moving_mean_initializer = _get("init", moving_mean_initializer)
        self.moving_variance_initializer = _get("init", moving_variance_initializer)

    def build(self, input_shape):
        axis = _check_axes([self.axis], len(input_shape), "BatchNormalization")[0]
        dim = input_shape[axis]
        if dim is None:
            raise ValueError(
                f"BatchNormalization needs a known size on axis {self.axis}, received input "
                f"shape {tuple(input_shape)}"
            )
        self._make_affine((dim,))
        self.moving_mean = self.add_weight(shape=(dim,), name="moving_mean", trainable=False,
                                           initializer=self.moving_mean_initializer)  # fmt: skip
        self.moving_variance = self.add_weight(
            shape=(dim,), name="moving_variance", trainable=False,
            initializer=self.moving_variance_initializer,
        )
        self.input_spec = InputSpec(ndim=len(input_shape), axes={self.axis: dim})
        self._reduce = tuple(i for i in range(len(input_shape)) if i != axis)
        self._bshape = tuple(dim if i == axis else 1 for i in range(len(input_shape)))
        self.built = True

    def call(self, inputs, training=None, mask=None):
        mask = get_mask(inputs, mask)  # (Keras passes the input's mask when none is given)
        if mask is not None and np.ndim(mask) != inputs.ndim - 1:
            raise ValueError(
                f"BatchNormalization: the mask must have one axis fewer than the inputs, "
                f"received mask shape {np.shape(mask)} and inputs shape {tuple(inputs.shape)}"
            )
        if training and self.trainable:
            mean, var = _moments(inputs, self._reduce, None if mask is None else as_array(mask))
            keep = np.asarray(self.momentum, self.moving_mean.dtype)
            self.moving_mean.data[...] = self.moving_mean.data * keep + mean.data.reshape(-1) * (
                1 - keep)  # fmt: skip
            self.moving_variance.data[...] = self.moving_variance.data * keep + (
                var.data.reshape(-1) * (1 - keep))  # fmt: skip
        else:
            mean = self.moving_mean.data.reshape(self._bshape)
            var = self.moving_variance.data.reshape(self._bshape)
        inv = 1 / ops.sqrt(var + np.asarray(self.epsilon, inputs.dtype))
        if self.gamma is not None:
            inv = inv * ops.reshape(self.gamma, self._bshape)
        out = (inputs - mean) * inv
        if self.beta is not None:
            out = out + ops.reshape(self.beta, self._bshape)
        return out

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                **self._affine_config(),
                "moving_mean_initializer": _ser("initializers", self.moving_mean_initializer),
                "moving_variance_initializer": _ser("initializers",
                                                    self.moving_variance_initializer),
                "synchronized": False, "renorm": False, "renorm_clipping": None,
                "renorm_momentum": 0.99}  # fmt: skip


class LayerNormalization(_AffineNorm):
    """Normalizes each sample over ``axis`` (Ba et al. 2016; matches Keras 3
    ``keras/src/layers/normalization/layer_normalization.py``).

    ``out = gamma * (x - mean(x, axis)) / sqrt(var(x, axis) + epsilon) + beta`` (biased
    variance). With ``rms_scaling=True`` (deprecated in Keras, kept for parity):
    ``out = gamma * x / sqrt(var(x, axis) + epsilon)`` and no beta.

    Args:
        axis: int or list of ints (default -1). epsilon: default 1e-3.
        center: default True. scale: default True. rms_scaling: default False.
        beta_initializer="zeros", gamma_initializer="ones", regularizers, constraints.

    Weights: gamma then beta, each of shape ``[input_shape[a] for a in axis]``.
    Shape: output has the input's shape.

    Raises:
        TypeError: ``axis`` not an int or list of ints. ValueError: an axis out of range.
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, rms_scaling=False,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 **kwargs):  # fmt: skip
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, beta_constraint,
                         gamma_constraint, **kwargs)  # fmt: skip
        if isinstance(axis, (list, tuple)) and all(isinstance(a, int) for a in axis):
            self.axis = list(axis)
        elif isinstance(axis, int) and not isinstance(axis, bool):
            self.axis = axis
        else:
            raise TypeError(f"axis must be an int or a list of ints, received axis={axis!r}")
        self.rms_scaling = bool(rms_scaling)

    def build(self, input_shape):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        self._axes = tuple(_check_axes(axes, len(input_shape), "LayerNormalization"))
        shape = tuple(input_shape[a] for a in self._axes)
        self._make_affine(shape, with_gamma=True, with_beta=not self.rms_scaling)
        if self.rms_scaling and not self.scale:
            self.gamma = self.add_weight(shape=shape, name="gamma",
                                         initializer=self.gamma_initializer)  # fmt: skip
        nd = len(input_shape)
        self._bshape = tuple(input_shape[i] if i in self._axes else 1 for i in range(nd))
        self.built = True

    def call(self, inputs):
        mean, var = _moments(inputs, self._axes)
        inv = 1 / ops.sqrt(var + np.asarray(self.epsilon, inputs.dtype))
        if self.gamma is not None:
            inv = inv * ops.reshape(self.gamma, self._bshape)
        if self.rms_scaling:
            return inputs * inv
        out = (inputs - mean) * inv
        if self.beta is not None:
            out = out + ops.reshape(self.beta, self._bshape)
        return out

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "rms_scaling": self.rms_scaling,
                **self._affine_config()}  # fmt: skip


class GroupNormalization(_AffineNorm):
    """Normalizes each sample over groups of channels (Wu & He 2018; matches Keras 3
    ``keras/src/layers/normalization/group_normalization.py``).

    The channels on ``axis`` are split into ``groups`` groups; each group is normalized over
    its channels and every non-batch axis: ``out = gamma * (x - mean_g) / sqrt(var_g +
    epsilon) + beta`` (gamma, beta per channel).

    Args:
        groups: positive int dividing the channel count, or -1 for one group per channel
            (instance normalization). Default 32.
        axis: the channel axis (default -1). epsilon: default 1e-3. center, scale: default True.

    Shape: output has the input's shape.

    Raises:
        ValueError: ``groups`` not a positive integer or -1, more groups than channels, or
            channels not a multiple of ``groups``.
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 **kwargs):  # fmt: skip
        if isinstance(groups, bool) or not isinstance(groups, int) or (
                groups <= 0 and groups != -1):  # fmt: skip
            raise ValueError(
                f"groups must be a positive integer (or -1 for instance normalization), "
                f"received groups={groups!r}"
            )
        super().__init__(epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, beta_constraint,
                         gamma_constraint, **kwargs)  # fmt: skip
        self.groups = groups
        self.axis = int(axis)

    def build(self, input_shape):
        nd = len(input_shape)
        axis = _check_axes([self.axis], nd, "GroupNormalization")[0]
        dim = input_shape[axis]
        if dim is None:
            raise ValueError(
                f"GroupNormalization needs a known size on axis {self.axis}, received input "
                f"shape {tuple(input_shape)}"
            )
        if self.groups == -1:
            self.groups = dim
        if dim < self.groups:
            raise ValueError(
                f"Number of groups ({self.groups}) cannot be more than the number of "
                f"channels ({dim})."
            )
        if dim % self.groups:
            raise ValueError(
                f"Number of channels ({dim}) must be a multiple of the number of groups "
                f"({self.groups})."
            )
        self.input_spec = InputSpec(ndim=nd, axes={self.axis: dim})
        self._make_affine((dim,))
        self._gaxis = axis
        per = dim // self.groups
        self._bshape = tuple([1] * axis + [self.groups, per] + [1] * (nd - axis - 1))
        self._reduce = tuple(i for i in range(1, nd + 1) if i != axis)
        self.built = True

    def call(self, inputs):
        shape = tuple(inputs.shape)
        a = self._gaxis
        grouped = ops.reshape(inputs, (*shape[:a], self.groups, -1, *shape[a + 1 :]))
        mean, var = _moments(grouped, self._reduce)
        inv = 1 / ops.sqrt(var + np.asarray(self.epsilon, inputs.dtype))
        if self.gamma is not None:
            inv = inv * ops.reshape(self.gamma, self._bshape)
        out = (grouped - mean) * inv
        if self.beta is not None:
            out = out + ops.reshape(self.beta, self._bshape)
        return ops.reshape(out, shape)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "axis": self.axis,
                **self._affine_config()}  # fmt: skip
