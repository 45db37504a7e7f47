"""Fused direct calls: two recorded layer steps a model replays as one op.

NOTE: for speed. A ``Conv2D(activation="relu")`` followed by a 2x2 ``MaxPooling2D`` is the
building block of image models; replayed as one op (``ops.pooling.conv_relu_max_pool``),
the pair pools the convolution's output while it is in cache and applies the relu to a
quarter of the elements, and its backward pass masks and routes the gradient at that size.
The values and gradients are bit for bit those of the two layers' own calls (tested in
``tests/keras/test_fused_calls.py``); the intermediate output is never seen by a replay,
which returns only the model's output.

A pair is fused in a model's recorded steps (``direct_calls.CallRecords``) when both
layers are chainrule's own classes as they are (their ``call`` not replaced on the class or
the instance), channels-last, the pooling 2x2 with stride 2 and no padding; in a functional
model, when also the pooling is the next node and the only reader of the convolution's
output, which is not a model output. On every replay the pair checks again what the layers'
``call`` would read (the activation, the kernel's shape, strides, padding, dilation, pool
size and mode, data formats, and ``ops.conv`` and ``ops.max_pool`` themselves); when
anything changed it runs the two layers' ``__call__`` instead, as any step that misses.
"""

from __future__ import annotations

import sys

from ... import ops as _ops
from .direct_calls import FUSED, MISS, _plain_call

__all__ = ["fuse_steps", "fuse_node_steps", "ConvReluPool"]


def _config(conv, pool):
    """What ``conv.call`` and ``pool.call`` read besides the weights' values and the input
    (the kernel's shape fixes the pooling's input size: a kernel set as a plain Tensor of
    another size does not move ``GENERATION``)."""
    return (conv.activation, conv.strides, conv.padding, conv.dilation_rate, conv.data_format,
            conv.rank, getattr(conv.kernel, "shape", None), pool.pool_mode, pool.pool_size,
            pool.strides, pool.padding, pool.data_format)  # fmt: skip


def _own_calls(conv, pool):
    """Whether both layers call as chainrule's convolution and pooling classes do: their
    class's ``call`` is the marked one (``direct_calls.fused_role``), none set on them."""
    return (getattr(type(conv).call, "fused_role", None) == "conv"
            and getattr(type(pool).call, "fused_role", None) == "pool"
            and "call" not in conv.__dict__ and "call" not in pool.__dict__
            and _plain_call(type(conv)) and _plain_call(type(pool)))  # fmt: skip


def _fusable(conv, pool, pool_input_shape):
    from .convolutional import BaseConv  # noqa: PLC0415 (loaded with the first conv layer)
    from .pooling import BasePooling  # noqa: PLC0415

    if not (isinstance(conv, BaseConv) and isinstance(pool, BasePooling)
            and _own_calls(conv, pool)):  # fmt: skip
        return False
    even = all(n % 2 == 0 for n in pool_input_shape[1:3])  # "same" pads nothing then
    return (conv.rank == 2 and conv.activation is conv._relu
            and conv.data_format == pool.data_format == "channels_last"
            and pool.pool_mode == "max" and pool.pool_size == pool.strides == (2, 2)
            and (pool.padding == "valid" or even))  # fmt: skip


class ConvReluPool:
    """A recorded ``Conv2D(relu) -> MaxPooling2D(2)`` pair, replayed as one op.

    Called (``pair(x, training=...)``), it runs the two layers' ``__call__``, as a step that
    misses does; ``call(x)`` runs the fused op, or returns ``MISS`` when either layer no longer
    calls as it did when the pair was recorded.
    """

    __slots__ = ("conv", "pool", "config", "op", "ops")

    def __init__(self, conv, pool):
        # (ops load lazily; these are the modules' own functions, whatever ``ops.conv`` and
        # ``ops.max_pool`` are set to now)
        from ...ops.conv import conv as conv_op  # noqa: PLC0415
        from ...ops.pooling import conv_relu_max_pool, max_pool  # noqa: PLC0415

        self.conv, self.pool, self.config = conv, pool, _config(conv, pool)
        self.op, self.ops = conv_relu_max_pool, (conv_op, max_pool)

    def __call__(self, x, training=None):
        return self.pool(self.conv(x, training=training), training=training)

    def call(self, x):
        conv, pool = self.conv, self.pool
        # a replaced ``ops.conv`` or ``ops.max_pool`` is what the layers' own calls would run
        if (_config(conv, pool) != self.config or not _own_calls(conv, pool)
                or (_ops.conv, _ops.max_pool) != self.ops):  # fmt: skip
            return MISS
        return self.op(x, conv.kernel, conv.bias, conv.strides, conv.padding, conv.dilation_rate)


FUSED.add(ConvReluPool)


def fuse_steps(steps):
    """``steps`` (``direct_calls.direct_step`` tuples, in order) with each fusable
    convolution-and-pooling pair made one step: ``(ConvReluPool, training, type, shape,
    dtype of the convolution's input)``."""
    if "chainrule.keras.layers.convolutional" not in sys.modules:  # no conv layer made yet
        return tuple(steps)
    out, i = [], 0
    while i < len(steps):
        step = steps[i]
        if i + 1 < len(steps) and _fusable(step[0], steps[i + 1][0], steps[i + 1][3]):
            out.append((ConvReluPool(step[0], steps[i + 1][0]), *step[1:]))
            i += 2
        else:
            out.append(step)
            i += 1
    return tuple(out)


def fuse_node_steps(record, read_once):
    """A functional model's record (per node, ``(step, input id, output id)`` or None) with
    each fusable pair of consecutive nodes, the pooling reading only the convolution's output
    and that output in ``read_once`` (no other reader, not a model output), made one entry
    ``(pair step, input id, pooling output id, True)`` at the convolution's place. The
    pooling's own entry stays: it runs when the pair misses."""
    if "chainrule.keras.layers.convolutional" not in sys.modules:
        return tuple(record)
    out = list(record)
    for i in range(len(record) - 1):
        a, b = record[i], record[i + 1]
        if (a is not None and b is not None and b[1] == a[2] and a[2] in read_once
                and _fusable(a[0][0], b[0][0], b[0][3])):  # fmt: skip
            out[i] = ((ConvReluPool(a[0][0], b[0][0]), *a[0][1:]), a[1], b[2], True)
    return tuple(out)
