"""Image augmentation layers: RandomFlip, RandomContrast, RandomBrightness and RandomCrop
(Keras 3 ``keras/src/layers/preprocessing/image_preprocessing/``). The affine ones
(RandomRotation, RandomZoom, RandomTranslation) are in ``augmentation_geometric.py``.

They take one image ``(height, width, channels)`` or a batch ``(batch, height, width,
channels)`` (``data_format="channels_first"`` puts channels before the rows). As in Keras their
``call`` defaults to ``training=True``: a bare ``layer(images)`` or ``model(images)``
augments, ``fit`` augments, ``predict`` and ``evaluate`` do not. Every draw comes from the
layer's own generator when it has a ``seed``, else from chainrule's seeded generator
(``chainrule.backend.rng()``); Keras's draws cannot be reproduced, the transforms can.
Gradients reach the input (as in Keras with the torch backend); there are no weights.
"""

from __future__ import annotations

import math
import numbers

from ... import ops
from ...autodiff.tensor import Tensor
from ...backend import np, rng, seeded_rng
from .convolutional import standardize_data_format
from .input_spec import PLACEHOLDER_SHAPES
from .layer import Layer
from .preprocessing import _as_float
from .resizing import centre_window, resize_axis

__all__ = ["RandomFlip", "RandomContrast", "RandomBrightness", "RandomCrop"]

_FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) and math.isfinite(v)


def _check_seed(seed):
    if seed is not None and (not isinstance(seed, numbers.Integral) or isinstance(seed, bool)):
        raise ValueError(f"seed must be an integer or None, received seed={seed!r}")
    return None if seed is None else int(seed)


def symmetric_factor(factor, name: str, lo, hi) -> tuple:
    """``(lower, upper)`` from a number ``f`` (``(max(-|f|, lo), |f|)``) or a pair (sorted), as
    Keras's ``BaseImagePreprocessingLayer._set_factor``: a number must lie in ``[lo, hi]``; a
    pair is refused only when it misses the range entirely (``pair[0] > hi or pair[1] < lo``)."""
    msg = (f"{name} must be a number or a list of two numbers in [{lo}, {hi}], received "
           f"{name}={factor!r}")  # fmt: skip
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or not all(_is_number(f) for f in factor):
            raise ValueError(msg)
        if factor[0] > hi or factor[1] < lo:
            raise ValueError(msg)
        return tuple(sorted(factor))
    if not _is_number(factor) or not lo <= factor <= hi:
        raise ValueError(msg)
    factor = abs(factor)
    return max(-factor, lo), factor


def _value_range(value_range, name="value_range"):
    if (not isinstance(value_range, (tuple, list)) or len(value_range) != 2
            or not all(_is_number(v) for v in value_range)):  # fmt: skip
        raise ValueError(f"{name} must be a list of two numbers, received "
                         f"{name}={value_range!r}")  # fmt: skip
    return value_range


class ImageAugmentation(Layer):
    """Base of the augmentation layers: input checks, layout, ``training``, the generator.

    A subclass gives ``_parameters(shape, gen)`` (the random draws for a channels-last batch
    shape), ``_augment(images, params)`` (the transform on a channels-last 4-D batch) and
    ``_inference(images)`` (what ``training=False`` returns).
    """

    def __init__(self, seed=None, data_format=None, **kwargs):
        if kwargs.get("bounding_box_format") is not None:
            raise NotImplementedError(
                f"{type(self).__name__}: bounding boxes are not supported by chainrule; "
                f"received bounding_box_format={kwargs['bounding_box_format']!r}"
            )
        kwargs.pop("bounding_box_format", None)
        super().__init__(**kwargs)
        self.seed = _check_seed(seed)
        # (a negative seed, which Keras takes, is folded into NumPy's non-negative range)
        self._rng = seeded_rng(self.seed)
        self.data_format = standardize_data_format(data_format)

    def _generator(self, inputs):
        # NOTE: a functional model's symbolic call runs the layer on placeholder arrays to
        # find its output shape; it draws from a throwaway generator so that building a model
        # leaves the layer's and chainrule's random streams where they were.
        if id(inputs) in PLACEHOLDER_SHAPES:
            return np.random.default_rng(0)
        return self._rng or rng()

    def _images(self, inputs):
        if isinstance(inputs, dict):
            raise NotImplementedError(
                f"{type(self).__name__} takes an image array; dict inputs (images, labels, "
                f"bounding_boxes, segmentation_masks) are not supported, received keys "
                f"{sorted(inputs)}"
            )
        x = inputs if isinstance(inputs, (Tensor, np.ndarray)) else np.asarray(inputs)
        if x.ndim not in (3, 4):
            raise ValueError(
                f"{type(self).__name__} expects images of rank 3 (height, width, channels) or "
                f"4 (batch, height, width, channels) in {self.data_format}; received inputs "
                f"of shape {tuple(x.shape)}"
            )
        return x

    def call(self, inputs, training=None):
        x = self._images(inputs)
        # Keras's call has training=True as its default: None (not given) augments
        if training is not None and not bool(training):
            return self._inference(x)
        gen = self._generator(inputs)
        single = x.ndim == 3
        if single:
            x = ops.expand_dims(x, 0)
        first = self.data_format == "channels_first"
        if first:
            x = ops.transpose(x, (0, 2, 3, 1))
        out = self._augment(x, self._parameters(tuple(x.shape), gen))
        if first:
            out = ops.transpose(out, (0, 3, 1, 2))
        return ops.squeeze(out, 0) if single else out

    def _float(self, x):
        return _as_float(x, np.dtype(self.dtype))

    def _inference(self, x):
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def build_from_config(self, config):
        # Keras writes {"input_shape": None} for some of these layers; they have no weights
        if config and config.get("input_shape") is None:
            self.built = True
            return
        super().build_from_config(config)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format}


class RandomFlip(ImageAugmentation):
    """Randomly flips each image left-right and/or top-bottom in training.

    ``out[i] = flip(x[i]) if u[i] <= 0.5 else x[i]`` with one ``u[i] ~ U(0, 1)`` per image;
    in "horizontal_and_vertical" mode the same draw decides both flips (an image is either
    turned by 180 degrees or left as it is, as in Keras). Inference: the input as floats.
    Matches Keras 3 ``keras/src/layers/preprocessing/image_preprocessing/random_flip.py``.

    Args:
        mode: "horizontal" (left-right), "vertical" (top-bottom) or
            "horizontal_and_vertical" (default).
        seed: optional int, for a reproducible layer (default: chainrule's generator).
        data_format: "channels_last" (default) or "channels_first".

    Shape: ``(H, W, C)`` or ``(N, H, W, C)`` (channels first: ``(C, H, W)``, ``(N, C, H,
    W)``); output the same, in the layer's float dtype.

    Raises:
        ValueError: an unknown ``mode`` (Keras silently never flips), ``seed`` or
            ``data_format``; input of rank other than 3 or 4.

    >>> import numpy as np
    >>> from chainrule.keras.layers.augmentation import RandomFlip
    >>> RandomFlip()(np.arange(4).reshape(2, 2, 1), training=False).shape
    (2, 2, 1)
    """

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if mode not in _FLIP_MODES:
            raise ValueError(f"mode must be one of {_FLIP_MODES}, received mode={mode!r}")
        self.mode = mode

    def _parameters(self, shape, gen):
        return {"flips": gen.random(shape[0]).astype(np.float32) <= 0.5}

    def _augment(self, x, params):
        x = self._float(x)
        flipped = x
        if self.mode != "vertical":
            flipped = ops.getitem(flipped, (slice(None), slice(None), slice(None, None, -1)))
        if self.mode != "horizontal":
            flipped = ops.getitem(flipped, (slice(None), slice(None, None, -1)))
        return ops.where(params["flips"][:, None, None, None], flipped, x)

    def _inference(self, x):
        return self._float(x)

    def get_config(self) -> dict:
        return {**super().get_config(), "seed": self.seed, "mode": self.mode}


class RandomContrast(ImageAugmentation):
    """Randomly scales each image's contrast in training, one factor per image.

    ``mean = x.mean(axes=(rows, cols))`` per image and channel; ``out = clip((x - mean) * c +
    mean, *value_range)`` with ``c ~ U(1 - lower, 1 + upper)``, where ``(lower, upper)`` comes
    from ``factor``. Inference: the input unchanged (integers stay integers, as in Keras).
    Matches Keras 3 ``.../image_preprocessing/random_contrast.py``.

    NOTE: as in Keras 3.15.1, a single number ``f`` gives ``(lower, upper) = (0, f)``, so the
    contrast only grows (``c`` in ``[1, 1 + f]``); a pair ``(a, b)`` gives ``c`` in ``[1 - a,
    1 + b]`` (``(-t, t)`` fixes ``c = 1 + t``).

    Args:
        factor: a number in [0, 1] or a pair of numbers (required).
        value_range: the pixel range to clip to (default ``(0, 255)``).
        seed: optional int. data_format: as :class:`RandomFlip`.

    Shape: rank 3 or 4; output the same; float (integer input is cast first).

    Raises:
        ValueError: ``factor`` out of range or not numeric; ``value_range`` not two numbers;
            input of rank other than 3 or 4.
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = symmetric_factor(factor, "factor", 0, 1)
        self.value_range = _value_range(value_range)

    def _parameters(self, shape, gen):
        lo, hi = 1.0 - self.factor[0], 1.0 + self.factor[1]
        return {"contrast_factor": gen.uniform(lo, hi, (shape[0], 1, 1, 1))}

    def _augment(self, x, params):
        x = self._float(x)
        mean = ops.mean(ops.mean(x, axis=1, keepdims=True), axis=2, keepdims=True)
        factor = params["contrast_factor"].astype(x.dtype)
        out = ops.add(ops.multiply(ops.subtract(x, mean), factor), mean)
        return ops.clip(out, self.value_range[0], self.value_range[1])

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range,
                "seed": self.seed}  # fmt: skip


class RandomBrightness(ImageAugmentation):
    """Randomly shifts each image's brightness in training, one shift per image.

    ``out = clip(x + d * (value_range[1] - value_range[0]), *value_range)`` with ``d ~
    U(lower, upper)`` from ``factor``. Inference: the input unchanged.
    Matches Keras 3 ``.../image_preprocessing/random_brightness.py``, except that integer
    images are brightened as floats (Keras 3.15.1 keeps the integer dtype and casts the shift
    to it, so a negative shift wraps around on uint8 images).

    Args:
        factor: a number in [-1, 1] (``f`` gives ``d`` in ``[-|f|, |f|]``) or a pair (required).
        value_range: the pixel range (default ``(0, 255)``), stored sorted.
        seed: optional int. data_format: as :class:`RandomFlip`.

    Shape: rank 3 or 4; output the same; float.

    Raises:
        ValueError: ``factor`` out of range; ``value_range`` not two numbers; bad rank.
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = symmetric_factor(factor, "factor", -1, 1)
        self.value_range = sorted(_value_range(value_range))

    def _parameters(self, shape, gen):
        span = self.value_range[1] - self.value_range[0]
        d = gen.uniform(self.factor[0], self.factor[1], (shape[0], 1, 1, 1)).astype(np.float32)
        return {"rgb_delta": d * np.float32(span)}

    def _augment(self, x, params):
        x = self._float(x)
        out = ops.add(x, params["rgb_delta"].astype(x.dtype))
        return ops.clip(out, self.value_range[0], self.value_range[1])

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self.factor, "value_range": self.value_range,
                "seed": self.seed}  # fmt: skip


class RandomCrop(ImageAugmentation):
    """Crops images to ``(height, width)``: at a random place in training, centred otherwise.

    Training, input larger than the target on both axes: one offset ``(i, j)`` per call,
    uniform over the valid ones, shared by the whole batch; ``out = x[..., i:i+height,
    j:j+width, :]``. Training, other inputs: Keras's box, ``ch = clip(int(W * height /
    width), 1, H)``, ``cw = clip(int(H * width / height), 1, W)``, ``i = int((H - ch) / 2)``,
    ``j = int((W - cw) / 2)``, then ``x[..., i:i+height, j:j+width, :]`` resized (bilinear) to
    ``(height, width)`` when the image was too small for it. Inference: the centred
    ``(ch, cw)`` window (the largest with the target's aspect ratio) resized to ``(height,
    width)``, as ``keras.ops.image.resize(x, (height, width), crop_to_aspect_ratio=True)``.
    Matches Keras 3 ``.../image_preprocessing/random_crop.py`` in training. At inference
    Keras 3.15.1 returns the input uncropped (keras-team/keras#21868), contrary to its own
    docstring and ``compute_output_shape``; chainrule does what that docstring describes (and
    tf.keras 2 did), so ``predict`` sees the shape the model was built for.

    Args:
        height, width: positive ints, the output size (required).
        seed: optional int; as in Keras, None is replaced by a random int drawn at
            construction (from chainrule's generator), which ``get_config`` writes.
        data_format: as :class:`RandomFlip`.

    Shape: ``(..., H, W, C)`` -> ``(..., height, width, C)``; float output.

    Raises:
        ValueError: ``height`` or ``width`` not a positive int; bad rank.
    """

    def __init__(self, height, width, seed=None, data_format=None, name=None, **kwargs):
        for arg, v in (("height", height), ("width", width)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{arg} must be a positive integer, received {arg}={v!r}")
        super().__init__(seed=seed, data_format=data_format, name=name, **kwargs)
        if seed is None:
            # Keras writes a random seed (make_default_seed) in the config of a layer made
            # without one, while its draws still come from an unseeded generator: so here
            self.seed = int(rng().integers(1, 10**9, endpoint=True))
        self.height = int(height)
        self.width = int(width)

    def _parameters(self, shape, gen):
        h, w = shape[1], shape[2]
        if h > self.height and w > self.width:
            return {"box": (int(gen.integers(0, h - self.height + 1)),
                            int(gen.integers(0, w - self.width + 1)))}  # fmt: skip
        return {"box": centre_window(h, w, self.height, self.width)[:2]}

    def _augment(self, x, params, size=None):
        i, j = params["box"]
        rows, cols = size or (self.height, self.width)
        x = self._float(x)
        out = ops.getitem(x, (slice(None), slice(i, i + rows), slice(j, j + cols)))
        out = resize_axis(out, 1, self.height)
        return resize_axis(out, 2, self.width)

    def _inference(self, x):
        single = x.ndim == 3
        if single:
            x = ops.expand_dims(x, 0)
        if self.data_format == "channels_first":
            x = ops.transpose(x, (0, 2, 3, 1))
        i, j, ch, cw = centre_window(x.shape[1], x.shape[2], self.height, self.width)
        out = self._augment(x, {"box": (i, j)}, size=(ch, cw))
        if self.data_format == "channels_first":
            out = ops.transpose(out, (0, 3, 1, 2))
        return ops.squeeze(out, 0) if single else out

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        axes = (-2, -1) if self.data_format == "channels_first" else (-3, -2)
        shape[axes[0]], shape[axes[1]] = self.height, self.width
        return tuple(shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "height": self.height, "width": self.width,
                "seed": self.seed}  # fmt: skip
