"""Random initializers: RandomNormal, TruncatedNormal, RandomUniform, VarianceScaling and its
fixed forms (Glorot, He, LeCun), Orthogonal; and ``compute_fans``.

Random draws: with ``seed=None`` every call draws from ``chainrule.backend.rng()``; with an
integer ``seed`` every call uses a fresh generator seeded from it. Matches Keras 3
``keras/src/initializers/random_initializers.py``.
"""

from __future__ import annotations

import math
import numbers

from ... import backend
from ...backend import np
from .initializer import Initializer, _check_number, _standardize_dtype, _standardize_shape

__all__ = [
    "RandomInitializer", "RandomNormal", "TruncatedNormal", "RandomUniform", "compute_fans",
    "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform",
    "LecunNormal", "Orthogonal",
]  # fmt: skip

# NOTE: the stddev of a standard normal truncated to [-2, 2]; dividing by it makes the truncated
# draw have the variance VarianceScaling asks for (Keras `random_initializers.py`).
_TRUNCATED_STDDEV = 0.87962566103423978


class RandomInitializer(Initializer):
    """Base of the random initializers: owns ``seed`` and picks the generator.

    Args:
        seed: None (draw from ``chainrule.backend.rng()``, reproducible through
            ``set_random_seed``) or an integer (the same values on every call).

    Raises:
        ValueError: if ``seed`` is neither None nor an integer (a negative one is accepted,
            as Keras accepts it).
    """

    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"seed must be None or an integer, received seed={seed!r}")
        self.seed = None if seed is None else int(seed)

    def _generator(self) -> np.random.Generator:
        return backend.rng() if self.seed is None else backend.seeded_rng(self.seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


def _truncated_normal(gen, shape, mean, stddev):
    # Redraw every sample outside two standard deviations until none is left.
    out = gen.standard_normal(shape)
    bad = np.abs(out) > 2.0
    while bad.any():
        out[bad] = gen.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2.0
    return mean + stddev * out


class _MeanStddev(RandomInitializer):
    """The ``mean`` (default 0.0) and ``stddev`` (default 0.05, >= 0) arguments, checks and
    config that RandomNormal and TruncatedNormal share."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = _check_number(mean, "mean")
        self.stddev = _check_number(stddev, "stddev", non_negative=True)
        super().__init__(seed)

    def get_config(self) -> dict:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class RandomNormal(_MeanStddev):
    """Normal draws: ``mean + stddev * N(0, 1)``.

    Args:
        mean: default 0.0.
        stddev: default 0.05 (must be >= 0).
        seed: None or a non-negative integer (see ``RandomInitializer``).

    Matches Keras 3 ``keras/src/initializers/random_initializers.py``.
    """

    def __call__(self, shape, dtype=None):
        shape, dtype = _standardize_shape(shape), _standardize_dtype(dtype, float_only=True)
        return self._generator().normal(self.mean, self.stddev, shape).astype(dtype)


class TruncatedNormal(_MeanStddev):
    """Normal draws redrawn until within two standard deviations of the mean.

    ``mean + stddev * z`` with ``z ~ N(0, 1)`` restricted to ``|z| <= 2``.

    Args:
        mean: default 0.0.
        stddev: default 0.05 (must be >= 0); the stddev before truncation.
        seed: None or a non-negative integer (see ``RandomInitializer``).

    Matches Keras 3 ``keras/src/initializers/random_initializers.py``.
    """

    def __call__(self, shape, dtype=None):
        shape, dtype = _standardize_shape(shape), _standardize_dtype(dtype, float_only=True)
        return _truncated_normal(self._generator(), shape, self.mean, self.stddev).astype(dtype)


class RandomUniform(RandomInitializer):
    """Uniform draws in ``[minval, maxval]`` (half-open before rounding to ``dtype``).

    Args:
        minval: default -0.05.
        maxval: default 0.05 (must be >= ``minval``).
        seed: None or a non-negative integer (see ``RandomInitializer``).

    Matches Keras 3 ``keras/src/initializers/random_initializers.py``.
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = _check_number(minval, "minval")
        self.maxval = _check_number(maxval, "maxval")
        if maxval < minval:
            raise ValueError(
                f"maxval must be >= minval, received minval={minval!r}, maxval={maxval!r}"
            )
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = _standardize_shape(shape), _standardize_dtype(dtype, float_only=True)
        return self._generator().uniform(self.minval, self.maxval, shape).astype(dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


def compute_fans(shape, input_axes=None, output_axes=None) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape.

    Rank 0: (1, 1). Rank 1: (n, n). Rank 2 ``(in, out)``: (in, out). Rank >= 3 (conv kernels
    ``(*spatial, in_channels, out_channels)``): ``receptive = prod(spatial)``, giving
    ``(in_channels * receptive, out_channels * receptive)``. When both ``input_axes`` and
    ``output_axes`` are given, each fan is the product of the dims on those axes.

    Matches Keras 3 ``keras/src/initializers/random_initializers.py`` ``compute_fans``.

    >>> compute_fans((3, 3, 16, 32))
    (144, 288)
    """
    shape = _standardize_shape(shape)
    if input_axes is not None and output_axes is not None:
        fan_in = math.prod(shape[a] for a in input_axes)
        fan_out = math.prod(shape[a] for a in output_axes)
        return int(fan_in), int(fan_out)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class VarianceScaling(RandomInitializer):
    """Draws scaled to the weight's fans.

    ``n = fan_in | fan_out | (fan_in + fan_out) / 2`` by ``mode``; ``s = scale / max(1, n)``.
    ``"truncated_normal"`` (and its alias ``"normal"``): truncated normal with
    ``stddev = sqrt(s) / 0.87962566103423978``; ``"untruncated_normal"``: normal with
    ``stddev = sqrt(s)``; ``"uniform"``: ``U(-sqrt(3 s), sqrt(3 s))``.

    Args:
        scale: default 1.0 (must be > 0).
        mode: "fan_in" (default), "fan_out" or "fan_avg".
        distribution: "truncated_normal" (default), "untruncated_normal", "normal" or
            "uniform" (case-insensitive).
        seed: None or a non-negative integer (see ``RandomInitializer``).
        input_axes, output_axes: optional axes for ``compute_fans``.

    Raises:
        ValueError: naming the argument, for a bad ``scale``, ``mode`` or ``distribution``.

    Matches Keras 3 ``keras/src/initializers/random_initializers.py``.
    """

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(
        self,
        scale=1.0,
        mode="fan_in",
        distribution="truncated_normal",
        seed=None,
        input_axes=None,
        output_axes=None,
    ):
        self.scale = _check_number(scale, "scale", positive=True)
        if mode not in self._MODES:
            raise ValueError(f"mode must be one of {self._MODES}, received mode={mode!r}")
        dist = distribution.lower() if isinstance(distribution, str) else distribution
        dist = "truncated_normal" if dist == "normal" else dist
        if dist not in self._DISTRIBUTIONS:
            raise ValueError(
                f"distribution must be one of {self._DISTRIBUTIONS} or 'normal', received "
                f"distribution={distribution!r}"
            )
        self.mode = mode
        self.distribution = dist
        self.input_axes = input_axes
        self.output_axes = output_axes
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = _standardize_shape(shape), _standardize_dtype(dtype, float_only=True)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}
        s = self.scale / max(1.0, n[self.mode])
        gen = self._generator()
        if self.distribution == "truncated_normal":
            out = _truncated_normal(gen, shape, 0.0, math.sqrt(s) / _TRUNCATED_STDDEV)
        elif self.distribution == "untruncated_normal":
            out = gen.normal(0.0, math.sqrt(s), shape)
        else:
            limit = math.sqrt(3.0 * s)
            out = gen.uniform(-limit, limit, shape)
        return out.astype(dtype)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling whose scale, mode and distribution are fixed by the class."""

    _SCALE, _MODE, _DIST = 1.0, "fan_in", "truncated_normal"

    def __init__(self, seed=None, input_axes=None, output_axes=None):
        super().__init__(self._SCALE, self._MODE, self._DIST, seed, input_axes, output_axes)

    def get_config(self) -> dict:
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class GlorotUniform(_FixedVarianceScaling):
    """Glorot (Xavier) uniform: ``U(-limit, limit)``, ``limit = sqrt(6 / (fan_in + fan_out))``.

    ``VarianceScaling(scale=1.0, mode="fan_avg", distribution="uniform")``. Args: ``seed``,
    ``input_axes``, ``output_axes`` (default None). Glorot & Bengio 2010; matches Keras 3
    ``keras/src/initializers/random_initializers.py``.
    """

    _SCALE, _MODE, _DIST = 1.0, "fan_avg", "uniform"


class GlorotNormal(_FixedVarianceScaling):
    """Glorot normal: truncated normal, ``stddev = sqrt(2 / (fan_in + fan_out)) / 0.8796...``.

    ``VarianceScaling(scale=1.0, mode="fan_avg", distribution="truncated_normal")``. Glorot &
    Bengio 2010; matches Keras 3 ``keras/src/initializers/random_initializers.py``.
    """

    _SCALE, _MODE, _DIST = 1.0, "fan_avg", "truncated_normal"


class HeUniform(_FixedVarianceScaling):
    """He uniform: ``U(-limit, limit)``, ``limit = sqrt(6 / fan_in)``.

    ``VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform")``. He et al. 2015;
    matches Keras 3 ``keras/src/initializers/random_initializers.py``.
    """

    _SCALE, _MODE, _DIST = 2.0, "fan_in", "uniform"


class HeNormal(_FixedVarianceScaling):
    """He normal: truncated normal, ``stddev = sqrt(2 / fan_in) / 0.8796...``.

    ``VarianceScaling(scale=2.0, mode="fan_in", distribution="truncated_normal")``. He et al.
    2015; matches Keras 3 ``keras/src/initializers/random_initializers.py``.
    """

    _SCALE, _MODE, _DIST = 2.0, "fan_in", "truncated_normal"


class LecunUniform(_FixedVarianceScaling):
    """LeCun uniform: ``U(-limit, limit)``, ``limit = sqrt(3 / fan_in)``.

    ``VarianceScaling(scale=1.0, mode="fan_in", distribution="uniform")``. LeCun et al. 1998;
    matches Keras 3 ``keras/src/initializers/random_initializers.py``.
    """

    _SCALE, _MODE, _DIST = 1.0, "fan_in", "uniform"


class LecunNormal(_FixedVarianceScaling):
    """LeCun normal: truncated normal, ``stddev = sqrt(1 / fan_in) / 0.8796...``.

    ``VarianceScaling(scale=1.0, mode="fan_in", distribution="truncated_normal")``. Klambauer
    et al. 2017; matches Keras 3 ``keras/src/initializers/random_initializers.py``.
    """

    _SCALE, _MODE, _DIST = 1.0, "fan_in", "truncated_normal"


class Orthogonal(RandomInitializer):
    """A (semi-)orthogonal matrix times ``gain``, from the QR decomposition of a normal draw.

    The shape is flattened to ``(prod(shape[:-1]), shape[-1])``; a ``(max, min)`` normal
    matrix ``a = q r`` gives ``q * sign(diag(r))`` (transposed when there are fewer rows than
    columns), so rows or columns are orthonormal. Saxe et al. 2014.

    Args:
        gain: the multiplier (default 1.0).
        seed: None or a non-negative integer (see ``RandomInitializer``).

    Raises:
        ValueError: if the shape has rank < 2.

    Matches Keras 3 ``keras/src/initializers/random_initializers.py``.
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = _check_number(gain, "gain")
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = _standardize_shape(shape), _standardize_dtype(dtype, float_only=True)
        if len(shape) < 2:
            raise ValueError(
                "Orthogonal initializer needs a shape of rank >= 2, received "
                f"shape={shape} of rank {len(shape)}"
            )
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._generator().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        # Multiplying by sign(diag(r)) makes the decomposition unique, so q is uniformly
        # distributed over orthogonal matrices.
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "gain": self.gain}
