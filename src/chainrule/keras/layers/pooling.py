"""Pooling layers: Max/AveragePooling1D/2D/3D and Global{Average,Max}Pooling1D/2D/3D
(Keras 3 ``keras/src/layers/pooling/``)."""

from __future__ import annotations

from ... import ops
from .convolutional import standardize_data_format, standardize_padding, standardize_tuple
from .direct_calls import fused_role
from .input_spec import InputSpec
from .layer import Layer

__all__ = [
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
    "AveragePooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalAveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
]  # fmt: skip


class BasePooling(Layer):
    """Max or average pooling over windows of ``pool_size``.

    ``max``: ``out[n, o, c] = max_k x[n, o * strides + k, c]`` (the gradient goes to each
    window's first maximum). ``average``: the mean over each window; with ``padding="same"``
    the padded positions are left out of the count.

    Args:
        pool_size: int or tuple of ``pool_dimensions`` positive ints.
        strides: int or tuple, default None (= ``pool_size``).
        pool_dimensions: 1, 2 or 3. pool_mode: "max" or "average".
        padding: "valid" (default) or "same" (output size ``ceil(n / strides)``).
        data_format: "channels_last" (default) or "channels_first".

    Shapes:
        ``(batch, *spatial, channels) -> (batch, *pooled, channels)``, with pooled sizes
        ``(n - pool_size) // strides + 1`` for "valid".

    Raises:
        ValueError: non-positive pool_size/strides, unknown padding or data_format, input of
            the wrong rank ("expected ndim=4, found ndim=3"), or a window larger than a
            "valid"-padded input.

    Matches Keras 3 ``keras/src/layers/pooling/base_pooling.py``.
    """

    _built_at_init = True  # no build_config in its saved config, as Keras (see Layer)

    def __init__(self, pool_size, strides, pool_dimensions, pool_mode="max", padding="valid",
                 data_format=None, name=None, **kwargs):  # fmt: skip
        super().__init__(name=name, **kwargs)
        self.pool_size = standardize_tuple(pool_size, pool_dimensions, "pool_size")
        self.strides = standardize_tuple(pool_size if strides is None else strides,
                                         pool_dimensions, "strides")  # fmt: skip
        if pool_mode not in ("max", "average"):
            raise ValueError(f"pool_mode must be 'max' or 'average', received {pool_mode!r}")
        self.pool_mode = pool_mode
        self.padding = standardize_padding(padding)
        self.data_format = standardize_data_format(data_format)
        self.input_spec = InputSpec(ndim=pool_dimensions + 2)

    @fused_role("pool")
    def call(self, inputs):
        fn = ops.max_pool if self.pool_mode == "max" else ops.average_pool
        return fn(inputs, self.pool_size, self.strides, self.padding, self.data_format)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        last = self.data_format == "channels_last"
        spatial = input_shape[1:-1] if last else input_shape[2:]
        out = []
        for n, k, s in zip(spatial, self.pool_size, self.strides, strict=True):
            o = ops.conv_output_size(n, k, s, self.padding)
            if o is not None and o <= 0:
                raise ValueError(
                    f"layer {self.name!r}: the output size would be {o} (zero or negative): "
                    f"pool_size={self.pool_size} is larger than the input (shape {input_shape}) "
                    f"with padding={self.padding!r}, strides={self.strides}"
                )
            out.append(o)
        if last:
            return (input_shape[0], *out, input_shape[-1])
        return (input_shape[0], input_shape[1], *out)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}  # fmt: skip


class MaxPooling1D(BasePooling):
    """Max pooling over steps: ``(batch, steps, channels) -> (batch, pooled, channels)``.

    Args: pool_size=2, strides=None (= pool_size), padding="valid", data_format=None.
    Matches Keras 3 ``keras/src/layers/pooling/max_pooling1d.py``.
    """

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):  # fmt: skip
        super().__init__(pool_size, strides, 1, "max", padding, data_format, name, **kwargs)


class MaxPooling2D(BasePooling):
    """Max pooling over rows and columns.

    Args: pool_size=(2, 2), strides=None (= pool_size), padding="valid", data_format=None.

    >>> from chainrule import keras
    >>> keras.layers.MaxPooling2D().compute_output_shape((None, 7, 7, 3))
    (None, 3, 3, 3)

    Matches Keras 3 ``keras/src/layers/pooling/max_pooling2d.py``.
    """

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):  # fmt: skip
        super().__init__(pool_size, strides, 2, "max", padding, data_format, name, **kwargs)


class MaxPooling3D(BasePooling):
    """Max pooling over three spatial axes; pool_size=(2, 2, 2).

    Matches Keras 3 ``keras/src/layers/pooling/max_pooling3d.py``.
    """

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):  # fmt: skip
        super().__init__(pool_size, strides, 3, "max", padding, data_format, name, **kwargs)


class AveragePooling1D(BasePooling):
    """Average pooling over steps; ``pool_size`` is required (as Keras).

    Matches Keras 3 ``keras/src/layers/pooling/average_pooling1d.py``.
    """

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):  # fmt: skip
        super().__init__(pool_size, strides, 1, "average", padding, data_format, name, **kwargs)


class AveragePooling2D(BasePooling):
    """Average pooling over rows and columns; ``pool_size`` is required (as Keras). With
    ``padding="same"`` each window is divided by its number of input elements.

    Matches Keras 3 ``keras/src/layers/pooling/average_pooling2d.py``.
    """

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):  # fmt: skip
        super().__init__(pool_size, strides, 2, "average", padding, data_format, name, **kwargs)


class AveragePooling3D(BasePooling):
    """Average pooling over three spatial axes; ``pool_size`` is required.

    Matches Keras 3 ``keras/src/layers/pooling/average_pooling3d.py``.
    """

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):  # fmt: skip
        super().__init__(pool_size, strides, 3, "average", padding, data_format, name, **kwargs)


class BaseGlobalPooling(Layer):
    """The mean or maximum over every spatial axis.

    Args:
        data_format: "channels_last" (default) or "channels_first".
        keepdims: keep the spatial axes with size 1 (default False).

    Shapes:
        ``(batch, *spatial, channels) -> (batch, channels)`` (or ``(batch, 1, ..., 1,
        channels)`` with keepdims).

    Matches Keras 3 ``keras/src/layers/pooling/base_global_pooling.py``.
    """

    _built_at_init = True  # no build_config in its saved config, as Keras (see Layer)

    _mode = "average"

    def __init__(self, pool_dimensions, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.keepdims = bool(keepdims)
        self.pool_dimensions = pool_dimensions
        self.input_spec = InputSpec(ndim=pool_dimensions + 2)

    def _axes(self):
        start = 1 if self.data_format == "channels_last" else 2
        return tuple(range(start, start + self.pool_dimensions))

    def call(self, inputs):
        fn = ops.mean if self._mode == "average" else ops.max
        return fn(inputs, axis=self._axes(), keepdims=self.keepdims)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        ch = input_shape[-1] if self.data_format == "channels_last" else input_shape[1]
        if not self.keepdims:
            return (input_shape[0], ch)
        ones = (1,) * self.pool_dimensions
        if self.data_format == "channels_last":
            return (input_shape[0], *ones, ch)
        return (input_shape[0], ch, *ones)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}  # fmt: skip


class GlobalAveragePooling1D(BaseGlobalPooling):
    """Mean over steps; with a ``mask`` (batch, steps), the mean over unmasked steps only.

    Matches Keras 3 ``keras/src/layers/pooling/global_average_pooling1d.py``.
    """

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(1, data_format, keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        axis = self._axes()[0]
        m = ops.astype(ops.expand_dims(mask, 2 if axis == 1 else 1), inputs.dtype)
        total = ops.sum(ops.multiply(inputs, m), axis=axis, keepdims=self.keepdims)
        return ops.divide(total, ops.sum(m, axis=axis, keepdims=self.keepdims))


def _global(name, rank, mode, base=BaseGlobalPooling):
    def __init__(self, data_format=None, keepdims=False, **kwargs):
        BaseGlobalPooling.__init__(self, rank, data_format, keepdims, **kwargs)

    word = "Mean" if mode == "average" else "Maximum"
    doc = (f"{word} over the {rank} spatial axes; arguments as ``BaseGlobalPooling``.\n\n"
           f"    Matches Keras 3 ``keras/src/layers/pooling/global_{mode}_pooling{rank}d.py``.\n"
           "    ")  # fmt: skip
    return type(name, (base,), {"__init__": __init__, "__doc__": doc, "_mode": mode,
                                "__module__": __name__})  # fmt: skip


GlobalAveragePooling2D = _global("GlobalAveragePooling2D", 2, "average")
GlobalAveragePooling3D = _global("GlobalAveragePooling3D", 3, "average")
GlobalMaxPooling1D = _global("GlobalMaxPooling1D", 1, "max")
GlobalMaxPooling2D = _global("GlobalMaxPooling2D", 2, "max")
GlobalMaxPooling3D = _global("GlobalMaxPooling3D", 3, "max")
