"""Regularization layers: SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout and
ActivityRegularization (Keras 3 ``keras/src/layers/regularization/``). ``Dropout`` lives in
``core.py``. Every one of them is the identity at inference."""

from __future__ import annotations

import math

from ... import ops
from ...backend import np, rng, seeded_rng
from .core import Dropout
from .input_spec import InputSpec
from .layer import Layer

__all__ = ["SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
           "GaussianDropout", "ActivityRegularization"]  # fmt: skip


def _unit_float(name, value, hi_open=False):
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and (
        0 <= value < 1 if hi_open else 0 <= value <= 1)  # fmt: skip
    if not ok:
        rng_txt = "[0, 1)" if hi_open else "[0, 1]"
        raise ValueError(f"{name} must be a float in {rng_txt}, received {name}={value!r}")
    return float(value)


class _SpatialDropout(Dropout):
    """Dropout of whole feature maps: the mask has size 1 on the spatial axes."""

    _rank = 3

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(
                f"data_format must be 'channels_last' or 'channels_first', received "
                f"data_format={data_format!r}"
            )
        self.data_format = data_format or "channels_last"
        self.input_spec = InputSpec(ndim=self._rank)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        shape = list(inputs.shape)
        spatial = range(2, self._rank) if self.data_format == "channels_first" else range(
            1, self._rank - 1)  # fmt: skip
        for i in spatial:
            shape[i] = 1
        keep = (self._rng or rng()).random(tuple(shape)) >= self.rate
        return ops.multiply(inputs, keep.astype(inputs.dtype) / np.asarray(1 - self.rate,
                                                                              inputs.dtype))

    def get_config(self):
        cfg = {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype}
        if self._rank > 3:
            cfg["data_format"] = self.data_format
        return cfg


class SpatialDropout1D(_SpatialDropout):
    """Drops whole channels of a sequence (Tompson et al. 2014; matches Keras 3
    ``keras/src/layers/regularization/spatial_dropout.py``).

    In training each ``(sample, channel)`` pair is zeroed with probability ``rate`` on every
    time step, and the rest scaled by ``1 / (1 - rate)``; identity at inference.

    Args:
        rate: float in [0, 1). seed: optional int.

    Shape: ``(batch, steps, channels)``, output the same.

    Raises:
        ValueError: ``rate`` outside [0, 1); input of rank other than 3.
    """

    def __init__(self, rate, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, None, seed=seed, name=name, dtype=dtype, **kwargs)


class SpatialDropout2D(_SpatialDropout):
    """Drops whole 2-D feature maps: as :class:`SpatialDropout1D` over ``(rows, cols)``.

    Args:
        rate: float in [0, 1). data_format: "channels_last" (default) or "channels_first".
        seed: optional int.

    Shape: 4-D input, output the same.
    """

    _rank = 4


class SpatialDropout3D(_SpatialDropout):
    """Drops whole 3-D feature maps: as :class:`SpatialDropout1D` over three spatial axes.

    Shape: 5-D input, output the same.
    """

    _rank = 5


class GaussianNoise(Layer):
    """Adds zero-mean Gaussian noise in training: ``out = x + N(0, stddev^2)``; identity at
    inference (matches Keras 3 ``keras/src/layers/regularization/gaussian_noise.py``).

    Args:
        stddev: float in [0, 1], the noise's standard deviation. seed: optional int.

    Shape: any; output the same.

    Raises:
        ValueError: ``stddev`` outside [0, 1].
    """

    _mask_passthrough = True  # an input's Keras mask reaches the output
    _built_at_init = True  # no build_config in its saved config, as Keras (see Layer)

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = _unit_float("stddev", stddev)
        self.seed = seed
        self._rng = seeded_rng(seed)
        self.supports_masking = True

    def call(self, inputs, training=None):
        if not training or self.stddev == 0:
            return inputs
        noise = (self._rng or rng()).normal(0.0, self.stddev, tuple(inputs.shape))
        return ops.add(inputs, noise.astype(inputs.dtype))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(Layer):
    """Multiplies by 1-centred Gaussian noise in training: ``out = x * N(1, rate / (1 -
    rate))``; identity at inference (Srivastava et al. 2014; matches Keras 3
    ``keras/src/layers/regularization/gaussian_dropout.py``).

    Args:
        rate: float in [0, 1); the noise's standard deviation is ``sqrt(rate / (1 - rate))``.
        seed: optional int.

    Shape: any; output the same.

    Raises:
        ValueError: ``rate`` outside [0, 1) (Keras accepts 1, which divides by zero).
    """

    _mask_passthrough = True  # an input's Keras mask reaches the output
    _built_at_init = True  # no build_config in its saved config, as Keras (see Layer)

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _unit_float("rate", rate, hi_open=True)
        self.seed = seed
        self._rng = seeded_rng(seed)
        self.supports_masking = True

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        std = math.sqrt(self.rate / (1.0 - self.rate))
        noise = (self._rng or rng()).normal(1.0, std, tuple(inputs.shape))
        return ops.multiply(inputs, noise.astype(inputs.dtype))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class ActivityRegularization(Layer):
    """Identity that adds ``l1 * sum(|x|) + l2 * sum(x^2)`` (divided by the batch size, as
    Keras's activity regularizers) to ``layer.losses`` (matches Keras 3
    ``keras/src/layers/regularization/activity_regularization.py``).

    Args:
        l1: float >= 0 (default 0.0). l2: float >= 0 (default 0.0).

    Raises:
        ValueError: a negative or non-numeric factor.
    """

    _mask_passthrough = True  # an input's Keras mask reaches the output
    _built_at_init = True  # no build_config in its saved config, as Keras (see Layer)

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        from ..regularizers import L1L2  # noqa: PLC0415

        for name, v in (("l1", l1), ("l2", l2)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise ValueError(f"{name} must be a float >= 0, received {name}={v!r}")
        kwargs.pop("activity_regularizer", None)
        super().__init__(activity_regularizer=L1L2(l1=l1, l2=l2), **kwargs)
        self.l1 = float(l1)
        self.l2 = float(l2)
        self.supports_masking = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}
