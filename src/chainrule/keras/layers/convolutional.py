"""Convolution layers: Conv1D, Conv2D, Conv3D (Keras 3 ``keras/src/layers/convolutional/``).

Shared argument checks for every convolution and pooling layer live here too.
"""

from __future__ import annotations

from ... import ops
from ...backend import np
from ..config import image_data_format
from .core import _no_lora, _ser
from .direct_calls import fused_role
from .input_spec import InputSpec
from .layer import Layer

__all__ = ["Conv1D", "Conv2D", "Conv3D", "standardize_tuple", "standardize_data_format",
           "standardize_padding", "conv_output_shape"]  # fmt: skip


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def standardize_tuple(value, n: int, name: str, allow_zero: bool = False) -> tuple:
    """An int or a sequence of ``n`` ints as a tuple of ``n`` ints, each > 0 (>= 0 with
    ``allow_zero``).

    Raises:
        ValueError: naming the argument, the expected form and the value received.
    """
    if _is_int(value):
        value_tuple = (int(value),) * n
    else:
        try:
            value_tuple = tuple(value)
        except TypeError:
            value_tuple = None
        if value_tuple is None or len(value_tuple) != n or not all(map(_is_int, value_tuple)):
            raise ValueError(
                f"{name} must be an integer or a tuple of {n} integers, received {name}={value!r}"
            )
    low = 0 if allow_zero else 1
    if any(v < low for v in value_tuple):
        want = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must contain only {want} integers, received {name}={value!r}")
    return tuple(int(v) for v in value_tuple)


def standardize_data_format(data_format) -> str:
    """None -> ``keras.config.image_data_format()``; otherwise "channels_last" or
    "channels_first" (any case), as Keras 3 ``keras/src/backend/config.py``
    ``standardize_data_format``.

    Raises:
        ValueError: any other value, naming it.
    """
    if data_format is None:
        return image_data_format()
    fmt = str(data_format).lower()
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(
            "data_format must be 'channels_last' or 'channels_first', received "
            f"data_format={data_format!r}"
        )
    return fmt


def standardize_padding(padding, allow_causal: bool = False) -> str:
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    fmt = padding.lower() if isinstance(padding, str) else padding
    if fmt not in allowed:
        raise ValueError(f"padding must be one of {allowed}, received padding={padding!r}")
    return fmt


def conv_output_shape(input_shape, filters, kernel_size, strides, padding, data_format,
                      dilation_rate, name="conv"):  # fmt: skip
    """The output shape of a convolution (None sizes stay None), as Keras's
    ``compute_conv_output_shape``.

    Raises:
        ValueError: when a "valid" output size would be zero or negative (naming the input
            shape, kernel size, dilation and strides).
    """
    input_shape = tuple(input_shape)
    spatial = input_shape[1:-1] if data_format == "channels_last" else input_shape[2:]
    out = []
    for n, k, s, d in zip(spatial, kernel_size, strides, dilation_rate, strict=True):
        o = ops.conv_output_size(n, k, s, padding, d)
        if o is not None and o <= 0:
            raise ValueError(
                f"layer {name!r}: the output size would be {o} (zero or negative): the kernel "
                f"(kernel_size={tuple(kernel_size)}, dilation_rate={tuple(dilation_rate)}) is "
                f"larger than the input (shape {input_shape}) with padding={padding!r}, "
                f"strides={tuple(strides)}"
            )
        out.append(o)
    if data_format == "channels_last":
        return (input_shape[0], *out, filters)
    return (input_shape[0], filters, *out)


def _positive(name, value):
    if not _is_int(value) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, received {name}={value!r}")
    return int(value)


class BaseConv(Layer):
    """The convolution layer of any rank: ``activation(conv(inputs, kernel) + bias)``.

    Args:
        rank: number of spatial axes (1, 2 or 3).
        filters: positive int, the number of output channels.
        kernel_size: int or tuple of ``rank`` ints.
        strides: int or tuple, default 1. dilation_rate: int or tuple, default 1 (strides > 1
            and dilation_rate > 1 together are refused, as Keras).
        padding: "valid" (default), "same", or "causal" (Conv1D only).
        data_format: "channels_last" (default) or "channels_first".
        groups: positive int dividing ``filters`` and the input channels (default 1).
        activation: default None (linear). use_bias: default True.
        kernel_initializer: default "glorot_uniform"; bias_initializer: default "zeros".
        kernel_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
            bias_constraint: optional.

    Shapes:
        ``(batch, *spatial, channels) -> (batch, *new_spatial, filters)`` (channels_last);
        kernel ``(*kernel_size, channels // groups, filters)``, bias ``(filters,)``.

    Raises:
        ValueError: non-positive filters/kernel_size/strides/dilation_rate/groups, filters or
            input channels not divisible by groups, strides > 1 with dilation_rate > 1, wrong
            input rank, or a kernel larger than a "valid"-padded input.

    Matches Keras 3 ``keras/src/layers/convolutional/base_conv.py``.
    """

    _refuse_strided_dilation = True  # Keras's depthwise/separable layers accept both
    _allow_causal = True  # only for rank 1; the depthwise, separable and transposed forms refuse it

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None,
                 **kwargs):  # fmt: skip
        from .. import activations, constraints, initializers, regularizers  # noqa: PLC0415

        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        _no_lora(type(self).__name__, lora_rank)
        self.rank = rank
        self.filters = _positive("filters", filters)
        self.groups = _positive("groups", groups)
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        self.padding = standardize_padding(padding, allow_causal=rank == 1)
        self.data_format = standardize_data_format(data_format)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._linear = activations.get(None)
        # NOTE: Keras's relu with its default arguments is exactly ops.relu: a layer holding
        # that very function runs the fused conv + bias + relu primitive (one node).
        self._relu = activations.relu
        if self.filters % self.groups:
            raise ValueError(
                f"filters must be divisible by groups, received filters={self.filters}, "
                f"groups={self.groups}"
            )
        if self._refuse_strided_dilation and max(self.strides) > 1 \
                and max(self.dilation_rate) > 1:  # fmt: skip
            raise ValueError(
                "strides > 1 is not supported together with dilation_rate > 1, received "
                f"strides={self.strides}, dilation_rate={self.dilation_rate}"
            )
        self.input_spec = InputSpec(min_ndim=rank + 2, max_ndim=rank + 2)
        if self.padding == "causal" and not self._allow_causal:
            raise ValueError("padding must be 'valid' or 'same', received padding='causal'")

    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def _input_channels(self, input_shape):
        channels = input_shape[self._channel_axis()]
        if channels is None:
            raise ValueError(
                f"layer {self.name!r} needs a known channel axis, received input shape "
                f"{tuple(input_shape)} (data_format={self.data_format!r})"
            )
        return int(channels)

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        if channels % self.groups:
            raise ValueError(
                f"the input channels must be divisible by groups, received groups={self.groups} "
                f"and an input with {channels} channels (input shape {tuple(input_shape)})"
            )
        self.compute_output_shape(input_shape)  # refuses a kernel larger than the input
        self.kernel = self._add_kernel((*self.kernel_size, channels // self.groups, self.filters))
        self._finish_build(channels)

    def _add_kernel(self, shape, name="kernel"):
        """A kernel weight with the layer's kernel initializer, regularizer and constraint."""
        return self.add_weight(shape=shape, name=name, initializer=self.kernel_initializer,
                               regularizer=self.kernel_regularizer,
                               constraint=self.kernel_constraint)  # fmt: skip

    def _finish_build(self, channels):
        """Add the ``(filters,)`` bias when ``use_bias``, fix the input's channel axis to
        ``channels`` and mark the layer built (the last steps of every convolution's build)."""
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.filters,), name="bias",
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)  # fmt: skip
        self.input_spec = InputSpec(min_ndim=self.rank + 2, max_ndim=self.rank + 2,
                                    axes={self._channel_axis(): channels})  # fmt: skip
        self.built = True

    def _activate(self, out):
        return out if self.activation is self._linear else self.activation(out)

    @fused_role("conv")
    def call(self, inputs):
        fused = self.activation is self._relu
        out = ops.conv(inputs, self.kernel, self.bias, self.strides, self.padding,
                       self.data_format, self.dilation_rate,
                       "relu" if fused else None)  # fmt: skip
        return out if fused else self._activate(out)

    def compute_output_shape(self, input_shape):
        return conv_output_shape(input_shape, self.filters, self.kernel_size, self.strides,
                                 self.padding, self.data_format, self.dilation_rate,
                                 self.name)  # fmt: skip

    def _base_config(self):
        from .. import activations  # noqa: PLC0415

        return {**super().get_config(), "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "bias_initializer": _ser("initializers", self.bias_initializer),
                "bias_regularizer": _ser("regularizers", self.bias_regularizer),
                "activity_regularizer": _ser("regularizers", self.activity_regularizer),
                "bias_constraint": _ser("constraints", self.bias_constraint)}  # fmt: skip

    def get_config(self):
        return {**self._base_config(), "filters": self.filters, "groups": self.groups,
                "kernel_initializer": _ser("initializers", self.kernel_initializer),
                "kernel_regularizer": _ser("regularizers", self.kernel_regularizer),
                "kernel_constraint": _ser("constraints", self.kernel_constraint)}  # fmt: skip

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class Conv1D(BaseConv):
    """1-D convolution over ``(batch, steps, channels)``; ``padding="causal"`` pads
    ``dilation_rate * (kernel_size - 1)`` zeros on the left only, so output step ``t`` sees
    inputs ``<= t`` (WaveNet; van den Oord et al. 2016). Arguments as ``BaseConv``.

    Matches Keras 3 ``keras/src/layers/convolutional/conv1d.py``.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, **kwargs):  # fmt: skip
        super().__init__(1, filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, **kwargs)  # fmt: skip


class Conv2D(BaseConv):
    """2-D convolution over ``(batch, rows, cols, channels)``; kernel ``(kh, kw, channels //
    groups, filters)``. Arguments as ``BaseConv``.

    >>> from chainrule import keras
    >>> keras.layers.Conv2D(4, 3).compute_output_shape((None, 8, 8, 1))
    (None, 6, 6, 4)

    Matches Keras 3 ``keras/src/layers/convolutional/conv2d.py``.
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, **kwargs):  # fmt: skip
        super().__init__(2, filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, **kwargs)  # fmt: skip


class Conv3D(BaseConv):
    """3-D convolution over ``(batch, d1, d2, d3, channels)``. Arguments as ``BaseConv``.

    Matches Keras 3 ``keras/src/layers/convolutional/conv3d.py``.
    """

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid",
                 data_format=None, dilation_rate=(1, 1, 1), groups=1, **kwargs):  # fmt: skip
        super().__init__(3, filters, kernel_size, strides, padding, data_format, dilation_rate,
                         groups, **kwargs)  # fmt: skip
