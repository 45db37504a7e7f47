"""Reshaping layers for images and sequences: UpSampling1D/2D/3D, ZeroPadding1D/2D/3D,
Cropping1D/2D/3D, Permute, RepeatVector (Keras 3 ``keras/src/layers/reshaping/``).

Flatten and Reshape live in ``core.py``.
"""

from __future__ import annotations

from ... import ops
from ...backend import np
from .convolutional import _is_int, standardize_data_format, standardize_tuple
from .input_spec import InputSpec
from .layer import Layer

__all__ = ["UpSampling1D", "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D",
           "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D", "Permute",
           "RepeatVector"]  # fmt: skip


def _spatial_axes(rank, data_format):
    start = 1 if data_format == "channels_last" else 2
    return tuple(range(start, start + rank))


def _pairs(value, rank, name):
    """int -> ((v, v),) * rank; tuple of ints -> symmetric pairs; tuple of pairs as given."""
    if _is_int(value):
        value = (value,) * rank
    if not hasattr(value, "__len__") or len(value) != rank:
        raise ValueError(f"{name} must be an int, a tuple of {rank} ints or a tuple of {rank} "
                         f"(before, after) pairs, received {name}={value!r}")  # fmt: skip
    return tuple(standardize_tuple(v, 2, f"{name}[{i}]", allow_zero=True)
                 for i, v in enumerate(value))  # fmt: skip


def _upsample_nearest(x, sizes, axes):
    # NOTE: insert a size-`s` axis after each spatial axis and broadcast into it: the gradient
    # is then a plain sum over that axis (done by the engine), with no scatter.
    shape = tuple(x.shape)
    expanded, target, final = [], [], []
    for ax, n in enumerate(shape):
        expanded.append(n)
        target.append(n)
        if ax in axes:
            s = sizes[axes.index(ax)]
            expanded.append(1)
            target.append(s)
            final.append(n * s)
        else:
            final.append(n)
    y = ops.broadcast_to(ops.reshape(x, tuple(expanded)), tuple(target))
    return ops.reshape(y, tuple(final))


def _bilinear_axis(x, axis, scale):
    """Linear interpolation along one axis with half-pixel centres (``align_corners=False``),
    the rule of Keras's ``ops.image.resize(..., "bilinear")`` without antialiasing."""
    n = x.shape[axis]
    src = (np.arange(n * scale) + 0.5) / scale - 0.5
    src = np.clip(src, 0, n - 1)
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    shape = [1] * x.ndim
    shape[axis] = -1
    w = (src - lo).astype(x.dtype).reshape(shape)
    a, b = ops.take(x, lo, axis=axis), ops.take(x, hi, axis=axis)
    return ops.add(ops.multiply(a, 1 - w), ops.multiply(b, w))


class _UpSampling(Layer):
    def __init__(self, rank, size, data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.rank = rank
        self.data_format = standardize_data_format(data_format)
        self.size = standardize_tuple(size, rank, "size")
        interpolation = str(interpolation).lower()
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError("interpolation must be 'nearest' or 'bilinear', received "
                             f"interpolation={interpolation!r}")  # fmt: skip
        self.interpolation = interpolation
        self.input_spec = InputSpec(ndim=rank + 2)

    def call(self, inputs):
        axes = _spatial_axes(self.rank, self.data_format)
        if self.interpolation == "nearest":
            return _upsample_nearest(inputs, self.size, axes)
        out = inputs
        for ax, s in zip(axes, self.size, strict=True):
            out = _bilinear_axis(out, ax, s)
        return out

    def compute_output_shape(self, input_shape):
        out = list(input_shape)
        for ax, s in zip(_spatial_axes(self.rank, self.data_format), self.size, strict=True):
            out[ax] = None if out[ax] is None else out[ax] * s
        return tuple(out)


class UpSampling1D(_UpSampling):
    """Repeats each step ``size`` times: ``(batch, steps, features) -> (batch, steps * size,
    features)``.

    Args:
        size: positive int (default 2).

    Matches Keras 3 ``keras/src/layers/reshaping/up_sampling1d.py``.
    """

    def __init__(self, size=2, **kwargs):
        if not _is_int(size) or size <= 0:
            raise ValueError(f"size must be a positive integer, received size={size!r}")
        super().__init__(1, int(size), **kwargs)
        self.size = int(size)

    def call(self, inputs):
        return _upsample_nearest(inputs, (self.size,), (1,))

    def compute_output_shape(self, input_shape):
        n = input_shape[1]
        return (input_shape[0], None if n is None else n * self.size, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "size": self.size}


class UpSampling2D(_UpSampling):
    """Scales rows and columns by ``size``: nearest (repeat) or bilinear (half-pixel
    centres, as ``ops.image.resize``).

    Args:
        size: int or (rows, cols), default (2, 2). data_format: default channels_last.
        interpolation: "nearest" (default) or "bilinear".

    Shapes: ``(batch, rows, cols, ch) -> (batch, rows * size[0], cols * size[1], ch)``.

    Matches Keras 3 ``keras/src/layers/reshaping/up_sampling2d.py``.
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(2, size, data_format, interpolation, **kwargs)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format,
                "interpolation": self.interpolation}  # fmt: skip


class UpSampling3D(_UpSampling):
    """Repeats along three spatial axes by ``size`` (default (2, 2, 2)); nearest only.

    Matches Keras 3 ``keras/src/layers/reshaping/up_sampling3d.py``.
    """

    def __init__(self, size=(2, 2, 2), data_format=None, **kwargs):
        super().__init__(3, size, data_format, "nearest", **kwargs)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format}


class _ZeroPadding(Layer):
    def __init__(self, rank, padding, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.rank = rank
        self.data_format = standardize_data_format(data_format)
        self.padding = _pairs(padding, rank, "padding")
        self.input_spec = InputSpec(ndim=rank + 2)

    def call(self, inputs):
        widths = [(0, 0)] * (self.rank + 2)
        for ax, p in zip(_spatial_axes(self.rank, self.data_format), self.padding, strict=True):
            widths[ax] = p
        return ops.pad(inputs, tuple(widths))

    def compute_output_shape(self, input_shape):
        out = list(input_shape)
        for ax, (a, b) in zip(_spatial_axes(self.rank, self.data_format), self.padding,
                              strict=True):  # fmt: skip
            out[ax] = None if out[ax] is None else out[ax] + a + b
        return tuple(out)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class ZeroPadding1D(_ZeroPadding):
    """Pads steps with zeros: ``padding`` int (both sides) or ``(left, right)`` (default 1).

    Matches Keras 3 ``keras/src/layers/reshaping/zero_padding1d.py``.
    """

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(1, (padding,), data_format, **kwargs)
        self.padding = self.padding[0]

    def call(self, inputs):
        widths = [(0, 0)] * 3
        widths[_spatial_axes(1, self.data_format)[0]] = self.padding
        return ops.pad(inputs, tuple(widths))

    def compute_output_shape(self, input_shape):
        out = list(input_shape)
        ax = _spatial_axes(1, self.data_format)[0]
        out[ax] = None if out[ax] is None else out[ax] + sum(self.padding)
        return tuple(out)


class ZeroPadding2D(_ZeroPadding):
    """Pads rows and columns with zeros: ``padding`` int, ``(sym_rows, sym_cols)`` or
    ``((top, bottom), (left, right))`` (default (1, 1)).

    Matches Keras 3 ``keras/src/layers/reshaping/zero_padding2d.py``.
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(2, padding, data_format, **kwargs)


class ZeroPadding3D(_ZeroPadding):
    """Pads three spatial axes with zeros (default ((1, 1), (1, 1), (1, 1))).

    Matches Keras 3 ``keras/src/layers/reshaping/zero_padding3d.py``.
    """

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(3, padding, data_format, **kwargs)


class _Cropping(Layer):
    def __init__(self, rank, cropping, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.rank = rank
        self.data_format = standardize_data_format(data_format)
        self.cropping = _pairs(cropping, rank, "cropping")
        self.input_spec = InputSpec(ndim=rank + 2)

    def _pairs_list(self):
        return self.cropping if self.rank > 1 else (self.cropping,)

    def _check(self, shape):
        for ax, (a, b) in zip(_spatial_axes(self.rank, self.data_format), self._pairs_list(),
                              strict=True):  # fmt: skip
            if shape[ax] is not None and a + b >= shape[ax]:
                raise ValueError(
                    f"cropping {(a, b)} must leave at least one element of axis {ax}, received "
                    f"input shape {tuple(shape)} and cropping={self.cropping}"
                )

    def call(self, inputs):
        self._check(inputs.shape)
        index = [slice(None)] * (self.rank + 2)
        for ax, (a, b) in zip(_spatial_axes(self.rank, self.data_format), self._pairs_list(),
                              strict=True):  # fmt: skip
            index[ax] = slice(a, inputs.shape[ax] - b)
        return ops.getitem(inputs, tuple(index))

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        out = list(input_shape)
        for ax, (a, b) in zip(_spatial_axes(self.rank, self.data_format), self._pairs_list(),
                              strict=True):  # fmt: skip
            out[ax] = None if out[ax] is None else out[ax] - a - b
        return tuple(out)

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping,
                "data_format": self.data_format}  # fmt: skip


class Cropping1D(_Cropping):
    """Crops steps: ``cropping`` int or ``(start, end)`` (default (1, 1)).

    Raises: ValueError if the crop leaves no step.
    Matches Keras 3 ``keras/src/layers/reshaping/cropping1d.py``.
    """

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(1, (cropping,), None, **kwargs)
        self.cropping = self.cropping[0]

    def get_config(self):
        config = super().get_config()
        del config["data_format"]
        return config


class Cropping2D(_Cropping):
    """Crops rows and columns: ``cropping`` int, ``(sym_rows, sym_cols)`` or
    ``((top, bottom), (left, right))`` (default ((0, 0), (0, 0))).

    Raises: ValueError if a crop leaves no row or column.
    Matches Keras 3 ``keras/src/layers/reshaping/cropping2d.py``.
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(2, cropping, data_format, **kwargs)


class Cropping3D(_Cropping):
    """Crops three spatial axes (default ((1, 1), (1, 1), (1, 1))).

    Matches Keras 3 ``keras/src/layers/reshaping/cropping3d.py``.
    """

    def __init__(self, cropping=((1, 1), (1, 1), (1, 1)), data_format=None, **kwargs):
        super().__init__(3, cropping, data_format, **kwargs)


class Permute(Layer):
    """Permutes the non-batch axes: ``dims`` is a permutation of ``1..n`` (``(2, 1)`` swaps
    the two axes of a ``(batch, a, b)`` input).

    Raises:
        ValueError: if ``dims`` is not a permutation of ``1..len(dims)``.

    Matches Keras 3 ``keras/src/layers/reshaping/permute.py``.
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(
                "dims must be a permutation of 1..n (the batch axis 0 stays first), received "
                f"dims={dims!r}"
            )
        self.input_spec = InputSpec(ndim=len(self.dims) + 1)

    def call(self, inputs):
        return ops.transpose(inputs, (0, *self.dims))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}


class RepeatVector(Layer):
    """Repeats a vector ``n`` times: ``(batch, features) -> (batch, n, features)``.

    Raises:
        ValueError: if ``n`` is not a positive integer.

    Matches Keras 3 ``keras/src/layers/reshaping/repeat_vector.py``.
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not _is_int(n) or n <= 0:
            raise ValueError(f"n must be a positive integer, received n={n!r}")
        self.n = int(n)
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs):
        x = ops.expand_dims(inputs, 1)
        return ops.broadcast_to(x, (inputs.shape[0], self.n, inputs.shape[1]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}
