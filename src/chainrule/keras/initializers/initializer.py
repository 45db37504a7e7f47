"""The ``Initializer`` base class and the argument checks every initializer shares.

Matches Keras 3 ``keras/src/initializers/initializer.py``.
"""

from __future__ import annotations

import math
import numbers

from ... import backend
from ...backend import np

__all__ = ["Initializer"]


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
