"""Transposed convolution layers: Conv1DTranspose, Conv2DTranspose, Conv3DTranspose
(Keras 3 ``keras/src/layers/convolutional/base_conv_transpose.py``)."""

from __future__ import annotations

from ... import ops
from .convolutional import BaseConv, standardize_tuple

__all__ = ["Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "conv_transpose_length"]


def conv_transpose_length(size, k, stride, padding, output_padding, dilation):
    """One axis of a transposed convolution's output, as Keras: with ``k' = (k - 1) d + 1``,
    "valid" gives ``(n - 1) s + k' + output_padding`` (default ``max(k', s) - k'``) and "same"
    gives ``n s`` (or ``(n - 1) s + k' % 2 + output_padding`` when it is set)."""
    if size is None:
        return None
    eff = (k - 1) * dilation + 1
    if padding == "valid":
        extra = max(eff, stride) - eff if output_padding is None else output_padding
        return (size - 1) * stride + eff + extra
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + eff % 2 + output_padding


class BaseConvTranspose(BaseConv):
    """Transposed convolution ("deconvolution") of any rank: the gradient of a convolution
    with respect to its input, used as a layer: ``activation(conv_transpose(x, kernel) + b)``.

    Args:
        rank, filters, kernel_size, strides, padding ("valid" or "same"), data_format,
        dilation_rate, activation, use_bias, initializers, regularizers, constraints: as
            ``BaseConv`` (no ``groups``).
        output_padding: None (default) or int/tuple of extra rows added on the right of each
            spatial axis; each must be < the stride on that axis.

    Shapes:
        ``(batch, *spatial, channels) -> (batch, *new_spatial, filters)``; kernel
        ``(*kernel_size, filters, channels)`` (note: filters before channels, as Keras).

    Raises:
        ValueError: as ``BaseConv``, and ``output_padding >= strides``.

    Matches Keras 3 ``keras/src/layers/convolutional/base_conv_transpose.py``.
    """

    _allow_causal = False

    def __init__(self, rank, filters, kernel_size, strides=1, padding="valid",
                 output_padding=None, data_format=None, dilation_rate=1, **kwargs):  # fmt: skip
        super().__init__(rank, filters, kernel_size, strides, padding, data_format,
                         dilation_rate, 1, **kwargs)  # fmt: skip
        self.output_padding = None
        if output_padding is not None:
            self.output_padding = standardize_tuple(output_padding, rank, "output_padding",
                                                    allow_zero=True)  # fmt: skip
            for i, (op, s) in enumerate(zip(self.output_padding, self.strides, strict=True)):
                if op >= s:
                    raise ValueError(
                        f"output_padding must be smaller than strides on every axis; on axis "
                        f"{i} received output_padding={self.output_padding}, "
                        f"strides={self.strides}"
                    )

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.kernel = self._add_kernel((*self.kernel_size, self.filters, channels))
        self._finish_build(channels)

    def call(self, inputs):
        out = ops.conv_transpose(inputs, self.kernel, self.bias, self.strides, self.padding,
                                 self.output_padding, self.data_format,
                                 self.dilation_rate)  # fmt: skip
        return self._activate(out)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        last = self.data_format == "channels_last"
        spatial = input_shape[1:-1] if last else input_shape[2:]
        ops_ = self.output_padding or (None,) * self.rank
        out = [conv_transpose_length(n, k, s, self.padding, op, d) for n, k, s, op, d in zip(
            spatial, self.kernel_size, self.strides, ops_, self.dilation_rate, strict=True)]
        return (input_shape[0], *out, self.filters) if last else (input_shape[0], self.filters,
                                                                  *out)  # fmt: skip

    def get_config(self):
        config = super().get_config()
        del config["groups"]
        config["output_padding"] = self.output_padding
        return config


class Conv1DTranspose(BaseConvTranspose):
    """1-D transposed convolution; arguments as ``BaseConvTranspose``.

    Matches Keras 3 ``keras/src/layers/convolutional/conv1d_transpose.py``.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, **kwargs):  # fmt: skip
        super().__init__(1, filters, kernel_size, strides, padding, output_padding, data_format,
                         dilation_rate, **kwargs)  # fmt: skip


class Conv2DTranspose(BaseConvTranspose):
    """2-D transposed convolution; kernel ``(kh, kw, filters, channels)``. Arguments as
    ``BaseConvTranspose``.

    >>> from chainrule import keras
    >>> keras.layers.Conv2DTranspose(2, 3, strides=2).compute_output_shape((None, 4, 4, 1))
    (None, 9, 9, 2)

    Matches Keras 3 ``keras/src/layers/convolutional/conv2d_transpose.py``.
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 output_padding=None, data_format=None, dilation_rate=(1, 1),
                 **kwargs):  # fmt: skip
        super().__init__(2, filters, kernel_size, strides, padding, output_padding, data_format,
                         dilation_rate, **kwargs)  # fmt: skip


class Conv3DTranspose(BaseConvTranspose):
    """3-D transposed convolution; arguments as ``BaseConvTranspose``.

    Matches Keras 3 ``keras/src/layers/convolutional/conv3d_transpose.py``.
    """

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid",
                 output_padding=None, data_format=None, dilation_rate=(1, 1, 1),
                 **kwargs):  # fmt: skip
        super().__init__(3, filters, kernel_size, strides, padding, output_padding, data_format,
                         dilation_rate, **kwargs)  # fmt: skip

