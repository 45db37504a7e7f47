"""Depthwise and separable convolutions: DepthwiseConv1D/2D, SeparableConv1D/2D (Keras 3
``keras/src/layers/convolutional/base_depthwise_conv.py`` and ``base_separable_conv.py``)."""

from __future__ import annotations

from ... import ops
from .convolutional import BaseConv, _positive, conv_output_shape
from .core import _ser

__all__ = ["DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D"]


class BaseDepthwiseConv(BaseConv):
    """Depthwise convolution: each input channel ``c`` gets its own ``depth_multiplier``
    filters; output channel ``c * depth_multiplier + j`` is
    ``activation(conv(x[..., c], kernel[..., c, j]) + bias[c * depth_multiplier + j])``.

    Args:
        rank: number of spatial axes. kernel_size, strides, padding ("valid"/"same"),
            data_format, dilation_rate, activation, use_bias, bias_*: as ``BaseConv``.
        depth_multiplier: positive int, filters per input channel (default 1).
        depthwise_initializer: default "glorot_uniform"; depthwise_regularizer,
            depthwise_constraint: optional.

    Shapes:
        ``(batch, *spatial, channels) -> (batch, *new_spatial, channels * depth_multiplier)``;
        kernel ``(*kernel_size, channels, depth_multiplier)``, bias
        ``(channels * depth_multiplier,)``.

    Matches Keras 3 ``keras/src/layers/convolutional/base_depthwise_conv.py``.
    """

    _refuse_strided_dilation = False
    _allow_causal = False

    def __init__(self, rank, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):  # fmt: skip
        self.depth_multiplier = _positive("depth_multiplier", depth_multiplier)
        super().__init__(rank, 1, kernel_size, strides, padding, data_format, dilation_rate, 1,
                         activation, use_bias, depthwise_initializer, bias_initializer,
                         depthwise_regularizer, bias_regularizer, activity_regularizer,
                         depthwise_constraint, bias_constraint, **kwargs)  # fmt: skip

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.filters = channels * self.depth_multiplier
        self.compute_output_shape(input_shape)
        self.kernel = self._add_kernel((*self.kernel_size, channels, self.depth_multiplier))
        self._finish_build(channels)

    def call(self, inputs):
        out = ops.depthwise_conv(inputs, self.kernel, self.bias, self.strides, self.padding,
                                 self.data_format, self.dilation_rate)  # fmt: skip
        return self._activate(out)

    def compute_output_shape(self, input_shape):
        channels = self._input_channels(input_shape)
        return conv_output_shape(input_shape, channels * self.depth_multiplier,
                                 self.kernel_size, self.strides, self.padding, self.data_format,
                                 self.dilation_rate, self.name)  # fmt: skip

    def get_config(self):
        return {**self._base_config(), "depth_multiplier": self.depth_multiplier,
                "depthwise_initializer": _ser("initializers", self.kernel_initializer),
                "depthwise_regularizer": _ser("regularizers", self.kernel_regularizer),
                "depthwise_constraint": _ser("constraints", self.kernel_constraint)}  # fmt: skip


class BaseSeparableConv(BaseConv):
    """Depthwise convolution then a pointwise (1x1) convolution to ``filters`` channels:
    ``activation(pointwise(depthwise(x)) + bias)`` (Chollet 2017, Xception).

    Args:
        rank, filters, kernel_size, strides, padding ("valid"/"same"), data_format,
            dilation_rate, activation, use_bias, bias_*: as ``BaseConv``.
        depth_multiplier: default 1.
        depthwise_initializer, pointwise_initializer: default "glorot_uniform";
            depthwise_/pointwise_ regularizer and constraint: optional.

    Shapes:
        ``(batch, *spatial, channels) -> (batch, *new_spatial, filters)``; depthwise kernel
        ``(*kernel_size, channels, depth_multiplier)``, pointwise kernel ``(1, ..., 1,
        channels * depth_multiplier, filters)``, bias ``(filters,)``.

    Matches Keras 3 ``keras/src/layers/convolutional/base_separable_conv.py``.
    """

    _refuse_strided_dilation = False
    _allow_causal = False

    def __init__(self, rank, depth_multiplier, filters, kernel_size, strides=1,
                 padding="valid", data_format=None, dilation_rate=1, activation=None,
                 use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, pointwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None, pointwise_constraint=None,
                 bias_constraint=None, **kwargs):  # fmt: skip
        from .. import constraints, initializers, regularizers  # noqa: PLC0415

        self.depth_multiplier = _positive("depth_multiplier", depth_multiplier)
        super().__init__(rank, filters, kernel_size, strides, padding, data_format,
                         dilation_rate, 1, activation, use_bias, depthwise_initializer,
                         bias_initializer, depthwise_regularizer, bias_regularizer,
                         activity_regularizer, depthwise_constraint, bias_constraint,
                         **kwargs)  # fmt: skip
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.pointwise_constraint = constraints.get(pointwise_constraint)

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.compute_output_shape(input_shape)
        self.depthwise_kernel = self._add_kernel(
            (*self.kernel_size, channels, self.depth_multiplier), name="depthwise_kernel")
        self.pointwise_kernel = self.add_weight(
            shape=(*(1,) * self.rank, channels * self.depth_multiplier, self.filters),
            name="pointwise_kernel", initializer=self.pointwise_initializer,
            regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint)  # fmt: skip
        self._finish_build(channels)

    def call(self, inputs):
        out = ops.separable_conv(inputs, self.depthwise_kernel, self.pointwise_kernel,
                                 self.bias, self.strides, self.padding, self.data_format,
                                 self.dilation_rate)  # fmt: skip
        return self._activate(out)

    def get_config(self):
        return {**self._base_config(), "depth_multiplier": self.depth_multiplier,
                "filters": self.filters,
                "depthwise_initializer": _ser("initializers", self.kernel_initializer),
                "pointwise_initializer": _ser("initializers", self.pointwise_initializer),
                "depthwise_regularizer": _ser("regularizers", self.kernel_regularizer),
                "pointwise_regularizer": _ser("regularizers", self.pointwise_regularizer),
                "depthwise_constraint": _ser("constraints", self.kernel_constraint),
                "pointwise_constraint": _ser("constraints", self.pointwise_constraint)}  # fmt: skip


class DepthwiseConv1D(BaseDepthwiseConv):
    """1-D depthwise convolution; arguments as ``BaseDepthwiseConv``.

    Matches Keras 3 ``keras/src/layers/convolutional/depthwise_conv1d.py``.
    """

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, **kwargs):  # fmt: skip
        super().__init__(1, kernel_size, strides, padding, depth_multiplier, data_format,
                         dilation_rate, **kwargs)  # fmt: skip


class DepthwiseConv2D(BaseDepthwiseConv):
    """2-D depthwise convolution; kernel ``(kh, kw, channels, depth_multiplier)``.

    Matches Keras 3 ``keras/src/layers/convolutional/depthwise_conv2d.py``.
    """

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), **kwargs):  # fmt: skip
        super().__init__(2, kernel_size, strides, padding, depth_multiplier, data_format,
                         dilation_rate, **kwargs)  # fmt: skip


class SeparableConv1D(BaseSeparableConv):
    """1-D separable convolution; arguments as ``BaseSeparableConv``.

    Matches Keras 3 ``keras/src/layers/convolutional/separable_conv1d.py``.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, **kwargs):  # fmt: skip
        super().__init__(1, depth_multiplier, filters, kernel_size, strides, padding,
                         data_format, dilation_rate, **kwargs)  # fmt: skip


class SeparableConv2D(BaseSeparableConv):
    """2-D separable convolution; arguments as ``BaseSeparableConv``.

    Matches Keras 3 ``keras/src/layers/convolutional/separable_conv2d.py``.
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, **kwargs):  # fmt: skip
        super().__init__(2, depth_multiplier, filters, kernel_size, strides, padding,
                         data_format, dilation_rate, **kwargs)  # fmt: skip
