"""``keras.initializers``: the functions that give weights their first values.

An initializer is called as ``initializer(shape, dtype=None)`` and returns a NumPy array of that
shape (dtype ``floatx()``, float32, by default). Names, arguments, defaults and formulas match
Keras 3 ``keras/src/initializers/``.

Random draws: with ``seed=None`` every call draws from ``chainrule.backend.rng()``, so
``chainrule.set_random_seed`` makes a whole model reproducible and two calls give different
values. With an integer ``seed`` every call uses a fresh generator seeded from it, so the same
seed gives the same values on every call (as Keras's seeded initializers do).

>>> from chainrule.keras import initializers
>>> initializers.get("ones")((2, 2))
array([[1., 1.],
       [1., 1.]], dtype=float32)
"""

from __future__ import annotations

import math
import numbers

from .. import backend
from ..backend import np
from ._serialization import deserialize_object, get_object, serialize_object

__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "Identity", "RandomNormal", "RandomUniform",
    "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform",
    "HeNormal", "LecunUniform", "LecunNormal", "Orthogonal", "compute_fans", "get",
    "serialize", "deserialize",
]  # fmt: skip

# NOTE: the stddev of a standard normal truncated to [-2, 2]; dividing by it makes the truncated
# draw have the variance VarianceScaling asks for (Keras `random_initializers.py`).
_TRUNCATED_STDDEV = 0.87962566103423978


# -- argument checks shared by the four modules ---------------------------------------------


def _standardize_shape(shape) -> tuple:
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        dims = None
    if dims is None or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 0 for d in dims
    ):
        raise ValueError(
            f"shape must be a tuple of non-negative integers, received shape={shape!r}"
        )
    return tuple(int(d) for d in dims)


def _standardize_dtype(dtype, float_only: bool = False) -> np.dtype:
    if dtype is None:
        return np.dtype(backend.floatx())
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype must be a NumPy dtype name, received dtype={dtype!r}") from None
    if float_only and dt.kind != "f":
        raise ValueError(f"random initializers need a float dtype, received dtype={dt.name}")
    if dt.kind not in "biuf":
        raise ValueError(f"dtype must be bool, integer or float, received dtype={dt.name}")
    return dt


def _check_number(value, name: str, positive: bool = False, non_negative: bool = False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and positive:
        ok = value > 0
    if ok and non_negative:
        ok = value >= 0
    if not ok:
        kind = "a positive" if positive else "a non-negative" if non_negative else "a finite"
        raise ValueError(f"{name} must be {kind} number, received {name}={value!r}")
    return value


# -- the initializers -----------------------------------------------------------------------


class Initializer:
    """Base class: ``initializer(shape, dtype=None) -> numpy array``.

    Subclasses implement ``__call__`` and, when they take arguments, ``get_config`` (whose
    keys are the ``__init__`` arguments, so the default ``from_config`` works). Matches Keras 3
    ``keras/src/initializers/initializer.py``.
    """

    def __call__(self, shape, dtype=None):
        raise NotImplementedError("Initializer subclasses must implement the `__call__()` method.")

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def clone(self):
        return self.__class__.from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """All zeros. ``Zeros()(shape, dtype=None)``; any numeric or bool dtype.

    Matches Keras 3 ``keras/src/initializers/constant_initializers.py``.
    """

    def __call__(self, shape, dtype=None):
        return np.zeros(_standardize_shape(shape), dtype=_standardize_dtype(dtype))


class Ones(Initializer):
    """All ones. ``Ones()(shape, dtype=None)``; any numeric or bool dtype.

    Matches Keras 3 ``keras/src/initializers/constant_initializers.py``.
    """

    def __call__(self, shape, dtype=None):
        return np.ones(_standardize_shape(shape), dtype=_standardize_dtype(dtype))


class Constant(Initializer):
    """A constant: ``value * ones(shape)``, cast to ``dtype``.

    Args:
        value: a number, or an array-like that broadcasts to the requested shape (for example
            ``Constant([[0.5], [0.25]])`` for a ``(2, 1)`` kernel). Default 0.0.

    Raises:
        ValueError: at call time, naming both shapes, if ``value`` cannot broadcast to
            ``shape``; at construction if ``value`` is not numeric.

    Matches Keras 3 ``keras/src/initializers/constant_initializers.py`` (Keras documents
    scalars only; arrays broadcast the same way its ``value * ones(shape)`` does).
    """

    def __init__(self, value=0.0):
        arr = np.asarray(value)
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"value must be a number or numeric array, received value={value!r}")
        self.value = value

    def __call__(self, shape, dtype=None):
        shape = _standardize_shape(shape)
        dtype = _standardize_dtype(dtype)
        value = np.asarray(self.value)
        try:
            out = np.broadcast_to(value, shape)
        except ValueError:
            raise ValueError(
                f"Constant value of shape {value.shape} cannot be broadcast to the requested "
                f"shape {shape}"
            ) from None
        return np.array(out, dtype=dtype)

    def get_config(self) -> dict:
        value = self.value
        if isinstance(value, np.ndarray):
            # The same wrapper Keras's serializer writes for NumPy arrays.
            value = {
                "class_name": "__numpy__",
                "config": {"value": value.tolist(), "dtype": value.dtype.name},
            }
        elif isinstance(value, np.generic):
            value = value.item()
        return {"value": value}

    @classmethod
    def from_config(cls, config: dict):
        value = config.get("value", 0.0)
        if isinstance(value, dict) and value.get("class_name") == "__numpy__":
            value = np.array(value["config"]["value"], dtype=value["config"]["dtype"])
        return cls(value)


class Identity(Initializer):
    """``gain * eye(rows, cols)`` for 2-D shapes (rectangular shapes get a partial identity).

    Args:
        gain: the multiplier (default 1.0).

    Raises:
        ValueError: if the shape is not 2-D.

    Matches Keras 3 ``keras/src/initializers/constant_initializers.py``.
    """

    def __init__(self, gain=1.0):
        self.gain = _check_number(gain, "gain")

    def __call__(self, shape, dtype=None):
        shape = _standardize_shape(shape)
        if len(shape) != 2:
            raise ValueError(
                "Identity initializer needs a 2-D shape (rows, cols), received "
                f"shape={shape} of rank {len(shape)}"
            )
        dtype = _standardize_dtype(dtype)
        return (self.gain * np.eye(*shape)).astype(dtype)

    def get_config(self) -> dict:
        return {"gain": self.gain}


class RandomInitializer(Initializer):
    """Base of the random initializers: owns ``seed`` and picks the generator.

    Args:
        seed: None (draw from ``chainrule.backend.rng()``, reproducible through
            ``set_random_seed``) or a non-negative integer (the same values on every call).

    Raises:
        ValueError: if ``seed`` is neither None nor a non-negative integer.
    """

    def __init__(self, seed=None):
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0
        ):
            raise ValueError(f"seed must be None or a non-negative integer, received seed={seed!r}")
        self.seed = None if seed is None else int(seed)

    def _generator(self) -> np.random.Generator:
        return backend.rng() if self.seed is None else np.random.default_rng(self.seed)

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


class RandomNormal(RandomInitializer):
    """Normal draws: ``mean + stddev * N(0, 1)``.

    Args:
        mean: default 0.0.
        stddev: default 0.05 (must be >= 0).
        seed: None or a non-negative integer (see ``RandomInitializer``).

    Matches Keras 3 ``keras/src/initializers/random_initializers.py``.
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = _check_number(mean, "mean")
        self.stddev = _check_number(stddev, "stddev", non_negative=True)
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = _standardize_shape(shape), _standardize_dtype(dtype, float_only=True)
        return self._generator().normal(self.mean, self.stddev, shape).astype(dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomInitializer):
    """Normal draws redrawn until within two standard deviations of the mean.

    ``mean + stddev * z`` with ``z ~ N(0, 1)`` restricted to ``|z| <= 2``.

    Args:
        mean: default 0.0.
        stddev: default 0.05 (must be >= 0); the stddev before truncation.
        seed: None or a non-negative integer (see ``RandomInitializer``).

    Matches Keras 3 ``keras/src/initializers/random_initializers.py``.
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = _check_number(mean, "mean")
        self.stddev = _check_number(stddev, "stddev", non_negative=True)
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape, dtype = _standardize_shape(shape), _standardize_dtype(dtype, float_only=True)
        return _truncated_normal(self._generator(), shape, self.mean, self.stddev).astype(dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


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


# -- names, get, serialize, deserialize -----------------------------------------------------

_CLASSES = (
    Initializer, Constant, Identity, Ones, Zeros, GlorotNormal, GlorotUniform, HeNormal,
    HeUniform, LecunNormal, LecunUniform, Orthogonal, RandomNormal, RandomUniform,
    TruncatedNormal, VarianceScaling,
)  # fmt: skip
_SNAKE = {
    "Initializer": "initializer", "Constant": "constant", "Identity": "identity",
    "Ones": "ones", "Zeros": "zeros", "GlorotNormal": "glorot_normal",
    "GlorotUniform": "glorot_uniform", "HeNormal": "he_normal", "HeUniform": "he_uniform",
    "LecunNormal": "lecun_normal", "LecunUniform": "lecun_uniform", "Orthogonal": "orthogonal",
    "RandomNormal": "random_normal", "RandomUniform": "random_uniform",
    "TruncatedNormal": "truncated_normal", "VarianceScaling": "variance_scaling",
}  # fmt: skip
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in _CLASSES}
ALL_OBJECTS_DICT.update({_SNAKE[cls.__name__]: cls for cls in _CLASSES})
ALL_OBJECTS_DICT.update(
    {
        "IdentityInitializer": Identity,
        "OrthogonalInitializer": Orthogonal,
        "normal": RandomNormal,
        "uniform": RandomUniform,
        "one": Ones,
        "zero": Zeros,
    }
)

# Keras also exports each class under its snake_case name (`keras.initializers.he_normal`).
constant, identity, ones, zeros = Constant, Identity, Ones, Zeros
glorot_normal, glorot_uniform = GlorotNormal, GlorotUniform
he_normal, he_uniform = HeNormal, HeUniform
lecun_normal, lecun_uniform, orthogonal = LecunNormal, LecunUniform, Orthogonal
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling = VarianceScaling


def serialize(initializer: Initializer) -> dict:
    """The Keras 3 config dict of an initializer, e.g. ``{"module": "keras.initializers",
    "class_name": "GlorotUniform", "config": {"seed": None, ...}, "registered_name": None}``.

    Raises:
        ValueError: if ``initializer`` has no ``get_config``.
    """
    if not hasattr(initializer, "get_config"):
        raise ValueError(
            f"initializer must be an Initializer with get_config(), received {initializer!r}"
        )
    return serialize_object(initializer, "keras.initializers")


def deserialize(config, custom_objects: dict | None = None) -> Initializer:
    """An initializer from its name or ``serialize`` dict.

    Raises:
        ValueError: listing the valid names if the name is unknown.
    """
    return deserialize_object(config, ALL_OBJECTS_DICT, "initializer", custom_objects)


def get(identifier):
    """An initializer from a name ("glorot_uniform", "HeNormal", ...), a config dict, a class,
    a callable ``(shape, dtype=None) -> array``, or an array (returned as is for its own shape).

    ``None`` gives ``None``. Matches Keras 3 ``keras/src/initializers/__init__.py``.

    Raises:
        ValueError: listing the valid names if the identifier cannot be interpreted.
    """
    # np.str_ is a str: it is a name, not an array.
    if isinstance(identifier, (np.ndarray, np.generic)) and not isinstance(identifier, str):
        fixed = np.asarray(identifier)

        def initialize_fn(shape, dtype=None):
            if _standardize_shape(shape) != fixed.shape:
                raise ValueError(
                    f"Expected shape {fixed.shape} for an array used as initializer, received "
                    f"shape={tuple(shape)}"
                )
            return fixed.astype(_standardize_dtype(dtype))

        return initialize_fn
    return get_object(identifier, deserialize, "initializer", ALL_OBJECTS_DICT)
