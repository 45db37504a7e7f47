"""Constant initializers: Zeros, Ones, Constant, Identity.

Matches Keras 3 ``keras/src/initializers/constant_initializers.py``.
"""

from __future__ import annotations

from ...backend import np
from .initializer import Initializer, _check_number, _standardize_dtype, _standardize_shape

__all__ = ["Zeros", "Ones", "Constant", "Identity"]


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
