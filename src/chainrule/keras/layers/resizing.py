"""The preprocessing layer ``Resizing`` (Keras 3
``keras/src/layers/preprocessing/image_preprocessing/resizing.py``), with the numbers of
Keras's torch backend (``keras/src/backend/torch/image.py``, ``resize``, which calls
``torch.nn.functional.interpolate``).

Each resize is two small matrices, one per spatial axis, applied with ``einsum``: the output
is linear in the image, so gradients reach earlier layers through the same matrices.

NOTE: a NaN or inf pixel therefore spreads to the whole output rows and columns it lies in
(``0 * nan`` is ``nan``), where Keras's torch backend spoils only the pixels whose taps reach
it. Images with non-finite values give other numbers than Keras.
"""

from __future__ import annotations

import numbers

from ... import ops
from ...autodiff.tensor import Tensor
from ...backend import np
from .convolutional import standardize_data_format
from .layer import Layer

__all__ = ["Resizing", "centre_window", "resize_axis"]

_INTERPOLATIONS = ("bilinear", "nearest", "bicubic")


def _cubic(x: np.ndarray, a: float) -> np.ndarray:
    """Keys's cubic convolution kernel with parameter ``a`` (-0.75 in torch's bicubic, -0.5
    in its antialiased bicubic, as PIL)."""
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x < 1, near, np.where(x < 2, far, 0.0))


def _bilinear_taps(n_in: int, n_out: int) -> tuple:
    """Bilinear resampling of an axis of ``n_in`` pixels to ``n_out``, as torch's
    ``interpolate`` with ``align_corners=False``: for each output pixel ``i`` the source
    position ``s = max((i + 0.5) * n_in / n_out - 0.5, 0)``, its left and right neighbours
    (clamped to the axis) and the right one's weight ``s - floor(s)``."""
    # NOTE: float32 positions and weights, as torch computes them for float32 images, so that
    # integer images round the same way at ties (x.5)
    f32 = np.float32
    rows = np.arange(n_out, dtype=f32)
    src = np.maximum((f32(n_in) / f32(n_out)) * (rows + f32(0.5)) - f32(0.5), f32(0))
    left = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    return left, np.minimum(left + 1, n_in - 1), src - left.astype(f32)


def _axis_weights(n_in: int, n_out: int, interpolation: str, antialias: bool) -> np.ndarray:
    """The ``(n_out, n_in)`` float64 matrix that resizes one axis as torch's ``interpolate``
    does with ``align_corners=False`` (half-pixel centres)."""
    w = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    scale = n_in / n_out
    if interpolation == "nearest":  # torch's "nearest-exact"
        # NOTE: torch computes the source index in float32 (floorf); so does this
        src = ((rows + 0.5) * np.float64(np.float32(n_in) / np.float32(n_out))).astype("float32")
        w[rows, np.minimum(np.floor(src).astype(int), n_in - 1)] = 1.0
        return w
    if antialias:  # a filter stretched by the scale when shrinking, weights normalized
        size = 2 if interpolation == "bilinear" else 4
        support = size / 2 * max(scale, 1.0)
        inv = 1.0 / scale if scale >= 1.0 else 1.0
        for i in rows:
            centre = scale * (i + 0.5)
            lo = max(int(centre - support + 0.5), 0)
            hi = min(int(centre + support + 0.5), n_in)
            x = (np.arange(lo, hi) - centre + 0.5) * inv
            k = np.maximum(1 - np.abs(x), 0) if interpolation == "bilinear" else _cubic(x, -0.5)
            total = k.sum()
            w[i, lo:hi] = k / total if total != 0 else k
        return w
    f32 = np.float32
    if interpolation == "bilinear":
        left, right, frac = _bilinear_taps(n_in, n_out)
        np.add.at(w, (rows, left), f32(1) - frac)
        np.add.at(w, (rows, right), frac)
        return w
    # NOTE: float32 positions and weights, as torch's (see _bilinear_taps). Bicubic: the
    # position is not clamped; the taps are, at the borders
    src = (f32(n_in) / f32(n_out)) * (rows.astype(f32) + f32(0.5)) - f32(0.5)
    left = np.floor(src).astype(int)
    frac = src - left.astype(f32)
    for tap in (-1, 0, 1, 2):
        np.add.at(w, (rows, np.clip(left + tap, 0, n_in - 1)), _cubic(frac - f32(tap), -0.75))
    return w


def resize_axis(x, axis: int, size: int):
    """Bilinear resize of one axis of ``x`` (a Tensor or array) to ``size``, with the taps of
    :func:`_bilinear_taps`: ``out[.., i, ..] = x[.., left_i, ..] * (1 - f_i) + x[..,
    right_i, ..] * f_i``, in ``x``'s dtype; ``x`` itself when the size is already right.
    Differentiable; ``RandomCrop``'s resizer (``Resizing`` applies the same taps as a matrix,
    for all its interpolations)."""
    n = x.shape[axis]
    if n == size:
        return x
    left, right, frac = _bilinear_taps(n, size)
    shape = [1] * x.ndim
    shape[axis] = size
    f = frac.astype(x.dtype).reshape(shape)
    return ops.add(ops.multiply(ops.take(x, left, axis=axis), 1 - f),
                   ops.multiply(ops.take(x, right, axis=axis), f))  # fmt: skip


def centre_window(h: int, w: int, height: int, width: int) -> tuple:
    """The largest window of an ``(h, w)`` image with the aspect ratio of ``(height, width)``,
    centred, in Keras's torch backend's integer arithmetic: ``(top, left, rows, cols)`` with
    ``rows = clip(int(w * height / width), 1, h)``, ``cols = clip(int(h * width / height), 1,
    w)``, ``top = int((h - rows) / 2)``, ``left = int((w - cols) / 2)``."""
    rows = max(min(h, int(float(w * height) / width)), 1)
    cols = max(min(w, int(float(h * width) / height)), 1)
    return int(float(h - rows) / 2), int(float(w - cols) / 2), rows, cols


class Resizing(Layer):
    """Resizes a batch of images (or one image) to ``(height, width)``.

    Matches Keras 3 ``keras/src/layers/preprocessing/image_preprocessing/resizing.py`` on the
    torch backend (``torch.nn.functional.interpolate``, ``align_corners=False``)::

        out[i, j] = sum_{p, q} Wh[i, p] * image[p, q] * Ww[j, q]

    where each row of ``Wh``/``Ww`` holds the interpolation weights of one output pixel's
    source position ``(i + 0.5) * in / out - 0.5``: bilinear (2 taps), bicubic (4 taps, Keys
    ``a = -0.75``), nearest (``floor((i + 0.5) * in / out)``). With ``antialias=True``,
    bilinear and bicubic use a filter stretched by the scale when shrinking (torch's
    antialiasing, bicubic ``a = -0.5``); nearest ignores it, as Keras. Float images come out
    in the layer's dtype; integer images are rounded (half to even) and keep their dtype.

    Args:
        height: output height (positive int, required).
        width: output width (positive int, required).
        interpolation: "bilinear" (default), "nearest" or "bicubic".
        crop_to_aspect_ratio: default False. Crop the centre to the target aspect ratio
            before resizing, so nothing is stretched.
        pad_to_aspect_ratio: default False. Pad both sides equally with ``fill_value`` to the
            target aspect ratio before resizing.
        fill_mode: "constant" (default; the only mode Keras's torch backend has).
        fill_value: default 0.0, the padding value.
        antialias: default False.
        data_format: "channels_last" (``(batch, h, w, c)``) or "channels_first" (``(batch, c,
            h, w)``); default None, ``keras.config.image_data_format()``.
        **kwargs: base layer arguments (``name``, ``dtype``, ...).

    Shape: ``(batch, h, w, c)`` -> ``(batch, height, width, c)`` (or one image, rank 3).

    Raises:
        ValueError: a height/width that is not a positive integer; another interpolation
            ("lanczos3"/"lanczos5"/"area": Keras's torch backend has none of them); a
            fill_mode other than "constant"; both crop and pad; a bad data_format; inputs of
            rank other than 3 or 4; dict inputs (bounding boxes are not supported).

    >>> import numpy as np
    >>> from chainrule import keras
    >>> image = np.arange(4.0, dtype="float32").reshape(1, 2, 2, 1)
    >>> keras.layers.Resizing(1, 1)(image).numpy().ravel()
    array([1.5], dtype=float32)
    """

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0,
                 antialias=False, data_format=None, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        for what, v in (("height", height), ("width", width)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{what} must be a positive integer, received {what}={v!r}")
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(
                f"Invalid value for argument `interpolation`: expected one of "
                f"{_INTERPOLATIONS} (Keras's torch backend has no 'lanczos3', 'lanczos5' or "
                f"'area' resize), received interpolation={interpolation!r}"
            )
        if fill_mode != "constant":
            raise ValueError("Invalid value for argument `fill_mode`. Only `'constant'` is "
                             f"supported. Received: fill_mode={fill_mode!r}")  # fmt: skip
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise ValueError("Only one of `pad_to_aspect_ratio` & `crop_to_aspect_ratio` can be "
                             "`True`.")  # fmt: skip
        data_format = standardize_data_format(data_format)
        if not isinstance(fill_value, numbers.Real):
            raise ValueError(f"fill_value must be a number, received fill_value={fill_value!r}")
        self.height, self.width = int(height), int(width)
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_mode = fill_mode
        self.fill_value = fill_value
        self.antialias = bool(antialias)
        self.data_format = data_format
        self._weights_cache = {}  # (in_h, in_w) -> (Wh, Ww)

    def _axes(self, ndim: int) -> tuple:
        h = ndim - 3 if self.data_format == "channels_last" else ndim - 2
        return h, h + 1

    def call(self, inputs):
        if isinstance(inputs, dict):
            raise ValueError("Resizing: dict inputs (images with bounding boxes or masks) are not "
                             "supported by chainrule; pass the images array")  # fmt: skip
        x = inputs if isinstance(inputs, Tensor) else np.asarray(inputs)
        if x.ndim not in (3, 4):
            raise ValueError("Invalid images rank: expected rank 3 (single image) or rank 4 "
                             f"(batch of images). Received input with shape: images.shape="
                             f"{tuple(x.shape)}")  # fmt: skip
        kind = np.dtype(x.dtype).kind
        if kind not in "iuf":
            raise ValueError(f"Resizing expects numeric images, received dtype {x.dtype}")
        if kind != "f":  # integer images are resized in float32 and rounded back (Keras)
            x = np.asarray(x.data if isinstance(x, Tensor) else x, "float32")
        ah, aw = self._axes(x.ndim)
        x = self._crop_or_pad(x, ah, aw)
        wh, ww = self._matrices(x.shape[ah], x.shape[aw], np.dtype(x.dtype))
        letters = "bhwc"[4 - x.ndim :] if self.data_format == "channels_last" else "bchw"[
            4 - x.ndim :]  # fmt: skip
        # width first, then height: torch's order of the sums, for the same rounding
        step1 = letters.replace("w", "p")
        out = ops.einsum(f"pw,{letters}->{step1}", ww, x)
        out = ops.einsum(f"oh,{step1}->{step1.replace('h', 'o')}", wh, out)
        if kind == "f":
            return out
        info = np.iinfo(inputs.dtype)
        return Tensor(np.clip(np.round(out.data), info.min, info.max).astype(inputs.dtype))

    def _matrices(self, n_h: int, n_w: int, dtype) -> tuple:
        key = (n_h, n_w, dtype)
        if key not in self._weights_cache:
            self._weights_cache[key] = tuple(
                _axis_weights(n, m, self.interpolation, self.antialias).astype(dtype)
                for n, m in ((n_h, self.height), (n_w, self.width)))  # fmt: skip
        return self._weights_cache[key]

    def _crop_or_pad(self, x, ah: int, aw: int):
        """The centre crop or the padding to the target aspect ratio (Keras's torch backend's
        integer arithmetic), or ``x`` itself."""
        h, w = x.shape[ah], x.shape[aw]
        if self.crop_to_aspect_ratio:
            top, left, ch, cw = centre_window(h, w, self.height, self.width)
            index = [slice(None)] * x.ndim
            index[ah], index[aw] = slice(top, top + ch), slice(left, left + cw)
            return ops.getitem(x, tuple(index)) if isinstance(x, Tensor) else x[tuple(index)]
        if self.pad_to_aspect_ratio:
            top = int(float(max(h, int(float(w * self.height) / self.width)) - h) / 2)
            left = int(float(max(w, int(float(h * self.width) / self.height)) - w) / 2)
            if top or left:
                widths = [(0, 0)] * x.ndim
                widths[ah], widths[aw] = (top, top), (left, left)
                return ops.pad(x, widths, constant_values=self.fill_value)
        return x

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        ah, aw = self._axes(len(shape))
        shape[ah], shape[aw] = self.height, self.width
        return tuple(shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format, "height": self.height,
                "width": self.width, "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": self.antialias}  # fmt: skip
