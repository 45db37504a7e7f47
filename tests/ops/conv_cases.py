"""Convolution and pooling cases for the device-array checks (``test_array_backend.py`` on the
CPU stand-in, ``benchmarks/device_cupy_check.py`` on CuPy): each calls the public op on its
sampled arrays, every argument differentiable. Shaped like op-table rows (``fn``, ``diff``,
``sample``) so that both drivers run them as they run the op table."""

from __future__ import annotations

from dataclasses import dataclass

import chainrule as cr


@dataclass(frozen=True)
class ConvCase:
    name: str
    fn: object
    shapes: tuple

    @property
    def diff(self):
        return tuple(range(len(self.shapes)))

    def sample(self, rng, shapes, dtype):
        return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _relu_pool(x, k, b):
    return cr.max_pool(cr.conv(x, k, b, activation="relu"), 2)  # the batch-last pool path


CONV_CASES = [
    ConvCase("conv2d_valid_bias", lambda x, k, b: cr.conv(x, k, b),
             ((2, 6, 5, 3), (3, 3, 3, 4), (4,))),
    ConvCase("conv2d_same_strided", lambda x, k: cr.conv(x, k, strides=2, padding="same"),
             ((2, 7, 7, 2), (3, 3, 2, 3))),
    ConvCase("conv1d_causal_dilated", lambda x, k: cr.conv(x, k, padding="causal", dilation_rate=2),
             ((2, 9, 3), (3, 3, 2))),
    ConvCase("conv3d", lambda x, k: cr.conv(x, k), ((1, 4, 4, 4, 2), (2, 2, 2, 2, 3))),
    ConvCase("conv2d_grouped", lambda x, k: cr.conv(x, k), ((2, 5, 5, 4), (3, 3, 2, 6))),
    ConvCase("depthwise_conv", lambda x, k: cr.depthwise_conv(x, k, padding="same"),
             ((2, 5, 5, 3), (3, 3, 3, 2))),
    ConvCase("conv_transpose", lambda x, k, b: cr.conv_transpose(x, k, b, strides=2),
             ((2, 3, 4, 3), (3, 3, 2, 3), (2,))),
    ConvCase("conv_relu_max_pool_2x2", _relu_pool, ((2, 9, 9, 1), (3, 3, 1, 4), (4,))),
    ConvCase("max_pool_2x2", lambda x: cr.max_pool(x, 2), ((2, 6, 7, 3),)),
    ConvCase("max_pool_3x3_same", lambda x: cr.max_pool(x, 3, 2, "same"), ((2, 7, 7, 2),)),
    ConvCase("average_pool_same", lambda x: cr.average_pool(x, 3, 2, "same"), ((2, 7, 6, 2),)),
    ConvCase("conv_then_average_pool", lambda x, k: cr.average_pool(cr.conv(x, k), 2),
             ((2, 6, 6, 2), (3, 3, 2, 3))),
]  # fmt: skip
