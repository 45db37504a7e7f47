"""Affine image augmentation layers: RandomRotation, RandomZoom and RandomTranslation (Keras 3
``keras/src/layers/preprocessing/image_preprocessing/``), and the resampler they share,
:func:`affine_transform` (Keras's ``keras.ops.image.affine_transform`` for matrices without a
projective part). The base class, the conventions on ``training``, layouts and random draws
are in ``augmentation.py``.
"""

from __future__ import annotations

import math

from ... import ops
from ...backend import np
from .augmentation import ImageAugmentation, _is_number, symmetric_factor

__all__ = ["RandomRotation", "RandomZoom", "RandomTranslation", "affine_transform"]

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("nearest", "bilinear")


def _fix_index(index, size: int, fill_mode: str):
    """Integer sample positions mapped into ``[0, size)`` by ``fill_mode``: "reflect"
    (``d c b a | a b c d | d c b a``, about the outer edge of the last pixel), "wrap" (``a b c
    d | a b c d``), "nearest"/"constant" (clamped; "constant" then masks them)."""
    if fill_mode == "wrap":
        return index % size
    if fill_mode == "reflect":
        m = index % (2 * size)  # the pattern repeats every two mirrored copies
        return np.where(m < size, m, 2 * size - 1 - m)
    return np.clip(index, 0, size - 1)


def _nodes(coord, interpolation):
    """``[(integer position, weight)]`` for each output pixel along one axis."""
    if interpolation == "nearest":
        # NOTE: rounds half to even, as torch.round in Keras's map_coordinates
        return [(np.round(coord).astype(np.int64), None)]
    lower = np.floor(coord)
    upper_w = coord - lower
    idx = lower.astype(np.int64)
    return [(idx, 1 - upper_w), (idx + 1, upper_w)]


def affine_transform(images, transforms, interpolation="bilinear", fill_mode="constant",
                     fill_value=0.0):  # fmt: skip
    """Resamples each image of a batch through its affine map (output pixel -> input point).

    For ``transforms[i] = [a0, a1, a2, b0, b1, b2, c0, c1]`` the output pixel at row ``y``,
    column ``x`` of image ``i`` reads the input at ``x_in = a0 * x + a1 * y + a2``, ``y_in =
    b0 * x + b1 * y + b2`` (``c0 = c1 = 0`` is required: no projective part), by bilinear or
    nearest (round half to even) interpolation; points outside the image follow
    ``fill_mode`` ("constant": ``fill_value``, per corner before weighting). Coordinates are
    float32, as Keras computes them. Matches Keras 3 ``keras.ops.image.affine_transform``
    (torch backend: ``keras/src/backend/torch/image.py``, ``map_coordinates`` order 0/1).

    Args:
        images: ``(N, H, W, C)`` float Tensor or array (gradients reach it).
        transforms: ``(N, 8)`` or ``(8,)`` array.
        interpolation: "bilinear" (default) or "nearest".
        fill_mode: "constant" (default), "reflect", "wrap" or "nearest".
        fill_value: a number, for "constant" (default 0.0).

    Returns:
        ``(N, H, W, C)``, the dtype of ``images``.

    Raises:
        ValueError: a bad ``interpolation``/``fill_mode``, shapes that do not fit, or a
            projective part.
    """
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, received "
                         f"interpolation={interpolation!r}")  # fmt: skip
    if fill_mode not in FILL_MODES:
        raise ValueError(f"fill_mode must be one of {FILL_MODES}, received fill_mode={fill_mode!r}")
    n, h, w, c = images.shape
    t = np.asarray(transforms, dtype=np.float32).reshape(-1, 8)
    if t.shape[0] not in (1, n):
        raise ValueError(f"transforms must hold 1 or {n} (batch size) rows of 8 numbers, "
                         f"received shape {np.shape(transforms)}")  # fmt: skip
    if np.any(t[:, 6:] != 0):
        raise ValueError("transforms with a projective part (c0, c1 != 0) are not supported")
    t = np.broadcast_to(t, (n, 8))
    a0, a1, a2, b0, b1, b2 = (t[:, k, None, None] for k in range(6))
    ys = np.arange(h, dtype=np.float32)[:, None]
    xs = np.arange(w, dtype=np.float32)[None, :]
    # NOTE: the summation order of Keras's einsum over (row, col, channel), then the offset
    y_in = ys * b1 + xs * b0 + b2
    x_in = ys * a1 + xs * a0 + a2
    rows = ops.reshape(images, (n * h * w, c))
    base = np.arange(n, dtype=np.int64)[:, None, None] * (h * w)
    constant = fill_mode == "constant"
    out = None
    for iy, wy in _nodes(y_in, interpolation):
        for ix, wx in _nodes(x_in, interpolation):
            flat = base + _fix_index(iy, h, fill_mode) * w + _fix_index(ix, w, fill_mode)
            vals = ops.getitem(rows, flat)
            if constant:
                inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
                vals = ops.where(inside[..., None], vals, np.asarray(fill_value, vals.dtype))
            if wy is not None:
                vals = ops.multiply(vals, (wy * wx).astype(vals.dtype)[..., None])
            out = vals if out is None else ops.add(out, vals)
    return out


def affine_matrix(angle, height: int, width: int, scale=None):
    """Keras's rotation (about the image centre) matrix rows ``[a0, a1, a2, b0, b1, b2, 0, 0]``
    for angles in degrees, float32 (``BaseImagePreprocessingLayer._compute_affine_matrix``
    with no shear or translation)."""
    angle = np.asarray(angle, np.float32) * np.float32(math.pi / 180.0)
    scale = np.ones_like(angle) if scale is None else np.asarray(scale, np.float32)
    cx = np.float32(0.5) * np.float32(width - 1)
    cy = np.float32(0.5) * np.float32(height - 1)
    cos, sin = np.cos(angle), np.sin(angle)
    a0, a1 = scale * cos, scale * -sin
    b0, b1 = scale * sin, scale * cos
    a2 = cx - cx * a0 - cy * a1
    b2 = cy - cx * b0 - cy * b1
    zero = np.zeros_like(angle)
    return np.stack([a0, a1, a2, b0, b1, b2, zero, zero], axis=1).astype(np.float32)


class _AffineAugmentation(ImageAugmentation):
    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):  # fmt: skip
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        # NotImplementedError for these two, as Keras
        if fill_mode not in FILL_MODES:
            raise NotImplementedError(f"fill_mode must be one of {FILL_MODES}, received "
                                      f"fill_mode={fill_mode!r}")  # fmt: skip
        if interpolation not in INTERPOLATIONS:
            raise NotImplementedError(f"interpolation must be one of {INTERPOLATIONS}, received "
                                      f"interpolation={interpolation!r}")  # fmt: skip
        if not _is_number(fill_value):
            raise ValueError(f"fill_value must be a number, received fill_value={fill_value!r}")
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.fill_value = fill_value

    def _augment(self, x, params):
        return affine_transform(self._float(x), params["transforms"], self.interpolation,
                                self.fill_mode, self.fill_value)  # fmt: skip

    def _inference(self, x):
        return self._float(x)

    def _common_config(self):
        return {"fill_mode": self.fill_mode, "interpolation": self.interpolation,
                "seed": self.seed, "fill_value": self.fill_value,
                "data_format": self.data_format}  # fmt: skip


_ARGS_DOC = """fill_mode: how points outside the input are filled: "reflect" (default,
            ``d c b a | a b c d | d c b a``), "wrap" (``a b c d | a b c d``), "constant"
            (``fill_value``) or "nearest" (``a a | a b c d | d d``).
        interpolation: "bilinear" (default) or "nearest".
        seed: optional int, for a reproducible layer (default: chainrule's generator).
        fill_value: the number "constant" fills with (default 0.0).
        data_format: "channels_last" (default) or "channels_first"."""


class RandomRotation(_AffineAugmentation):
    """Rotates each image by its own random angle about its centre, in training.

    ``angle ~ U(360 * lower, 360 * upper)`` degrees (positive: counter-clockwise), then the
    output pixel ``(x, y)`` reads the input at ``R(angle) @ ((x, y) - c) + c``, ``c = ((W -
    1) / 2, (H - 1) / 2)`` (see :func:`affine_transform`). Inference: the input as floats.
    Matches Keras 3 ``.../image_preprocessing/random_rotation.py``.

    Args:
        factor: a fraction of a full turn: a number ``f`` in [-1, 1] (angles in ``[-|f|,
            |f|] * 360``) or a pair ``(lower, upper)`` (required).
        {args}

    Shape: ``(H, W, C)`` or ``(N, H, W, C)``; output the same, float.

    Raises:
        ValueError: ``factor`` out of range or not numeric; bad ``fill_value``, rank.
        NotImplementedError: an unknown ``fill_mode`` or ``interpolation`` (as Keras).

    >>> import numpy as np
    >>> from chainrule.keras.layers.augmentation_geometric import RandomRotation
    >>> x = np.arange(9.0).reshape(3, 3, 1)
    >>> RandomRotation((0.25, 0.25))(x)[..., 0].numpy().round(4)
    array([[2., 5., 8.],
           [1., 4., 7.],
           [0., 3., 6.]], dtype=float32)
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):  # fmt: skip
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = symmetric_factor(factor, "factor", -1, 1)

    def _parameters(self, shape, gen):
        angle = gen.uniform(self.factor[0] * 360.0, self.factor[1] * 360.0, shape[0])
        return {"angle": angle, "transforms": affine_matrix(angle, shape[1], shape[2])}

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "interpolation": self.interpolation,
                "seed": self.seed}  # fmt: skip


def _range_factor(factor, name, lo_open: bool):
    """``(lower, upper)`` of a zoom or translation factor: a number ``f`` gives ``(-|f|,
    |f|)``, a pair is sorted; each number in ``(-1, 1]`` (zoom) or ``[-1, 1]``."""
    rng_txt = "(-1, 1]" if lo_open else "[-1, 1]"

    def ok(v):
        return _is_number(v) and (-1 < v if lo_open else -1 <= v) and v <= 1

    msg = f"{name} must be a number or a list of two numbers in {rng_txt}, received {name}="
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(ok(v) for v in factor):
            raise ValueError(msg + repr(factor))
        return tuple(sorted(factor))
    if not ok(factor):
        raise ValueError(msg + repr(factor))
    return -abs(factor), abs(factor)


class RandomZoom(_AffineAugmentation):
    """Zooms each image in or out about its centre by a random amount, in training.

    ``zy ~ U(1 + lower_h, 1 + upper_h)`` per image (and ``zx`` likewise from
    ``width_factor``, or ``zx = zy`` when it is None); the output pixel ``(x, y)`` reads the
    input at ``(zx * x + (W - 1) / 2 * (1 - zx), zy * y + (H - 1) / 2 * (1 - zy))``: a
    positive factor zooms out (the image shrinks), a negative one zooms in. Inference: the
    input as floats. Matches Keras 3 ``.../image_preprocessing/random_zoom.py``.

    Args:
        height_factor: a number ``f`` (``[-|f|, |f|]``) or a pair, each in (-1, 1] (required).
        width_factor: the same for the width, or None (default: keep the aspect ratio).
        {args}

    Shape: ``(H, W, C)`` or ``(N, H, W, C)``; output the same, float.

    Raises:
        ValueError: a factor out of range or not numeric; bad ``fill_value``, rank.
        NotImplementedError: an unknown ``fill_mode`` or ``interpolation`` (as Keras).
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):  # fmt: skip
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self._h = _range_factor(height_factor, "height_factor", True)
        self._w = None if width_factor is None else _range_factor(width_factor,
                                                                 "width_factor", True)  # fmt: skip
        self.height_factor = height_factor
        self.width_factor = width_factor

    def _parameters(self, shape, gen):
        n, h, w = shape[:3]
        zy = gen.uniform(1.0 + self._h[0], 1.0 + self._h[1], n).astype(np.float32)
        zx = zy if self._w is None else gen.uniform(1.0 + self._w[0], 1.0 + self._w[1],
                                                    n).astype(np.float32)  # fmt: skip
        x_off = (np.float32(w) - 1) / 2 * (1 - zx)
        y_off = (np.float32(h) - 1) / 2 * (1 - zy)
        zero = np.zeros_like(zx)
        mats = np.stack([zx, zero, x_off, zero, zy, y_off, zero, zero], axis=1)
        return {"height_zoom": zy, "width_zoom": zx, "transforms": mats.astype(np.float32)}

    def get_config(self) -> dict:
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor, **self._common_config()}  # fmt: skip


class RandomTranslation(_AffineAugmentation):
    """Shifts each image by a random offset, in training.

    ``dy = U(lower_h, upper_h) * H`` and ``dx = U(lower_w, upper_w) * W`` pixels per image
    (positive: down and right); the output pixel ``(x, y)`` reads the input at ``(x - dx, y -
    dy)``. Inference: the input as floats.
    Matches Keras 3 ``.../image_preprocessing/random_translation.py``.

    Args:
        height_factor: a fraction of the height: a number ``f`` (``[-|f|, |f|]``) or a pair,
            each in [-1, 1] (required).
        width_factor: the same for the width (required).
        {args}

    Shape: ``(H, W, C)`` or ``(N, H, W, C)``; output the same, float.

    Raises:
        ValueError: a factor out of range or not numeric; bad ``fill_value``, rank.
        NotImplementedError: an unknown ``fill_mode`` or ``interpolation`` (as Keras).
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):  # fmt: skip
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self._h = _range_factor(height_factor, "height_factor", False)
        self._w = _range_factor(width_factor, "width_factor", False)
        self.height_factor = height_factor
        self.width_factor = width_factor

    def _parameters(self, shape, gen):
        n, h, w = shape[:3]
        dy = gen.uniform(self._h[0], self._h[1], n).astype(np.float32) * np.float32(h)
        dx = gen.uniform(self._w[0], self._w[1], n).astype(np.float32) * np.float32(w)
        one, zero = np.ones_like(dx), np.zeros_like(dx)
        mats = np.stack([one, zero, -dx, zero, one, -dy, zero, zero], axis=1)
        return {"translations": np.stack([dx, dy], axis=1), "transforms": mats}

    def get_config(self) -> dict:
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor, **self._common_config()}  # fmt: skip


for _cls in (RandomRotation, RandomZoom, RandomTranslation):
    _cls.__doc__ = _cls.__doc__.replace("{args}", _ARGS_DOC)
