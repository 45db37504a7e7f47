"""``keras.constraints``: projections applied to a weight after each optimizer step.

A constraint maps a weight array to a new array of the same shape and dtype:
``variable.assign(constraint(variable.value))``. It is not differentiated. Names, arguments,
defaults, configs and formulas match Keras 3 ``keras/src/constraints/constraints.py``.

>>> import numpy as np
>>> from chainrule.keras import constraints
>>> constraints.NonNeg()(np.array([-1.0, 2.0], dtype="float32"))
array([0., 2.], dtype=float32)
"""

from __future__ import annotations

import math
import numbers

from ..autodiff.tensor import Tensor
from ..backend import epsilon, np
from ._serialization import deserialize_object, get_object, serialize_object

__all__ = [
    "Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "max_norm", "min_max_norm",
    "non_neg", "unit_norm", "get", "serialize", "deserialize",
]  # fmt: skip


def _weight(w) -> np.ndarray:
    arr = np.asarray(w.data if isinstance(w, Tensor) else w)
    if arr.dtype.kind != "f":
        raise ValueError(f"constraints need a float weight, received dtype {arr.dtype.name}")
    return arr


def _number(value, name: str, low=None, high=None):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and ((low is not None and value < low) or (high is not None and value > high)):
        ok = False
    if not ok:
        bounds = (
            f" in [{low}, {high}]" if high is not None else f" >= {low}" if low is not None else ""
        )
        raise ValueError(f"{name} must be a finite number{bounds}, received {name}={value!r}")
    return value


def _axis(axis):
    ints = axis if isinstance(axis, (tuple, list)) else (axis,)
    if not ints or not all(
        isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in ints
    ):
        raise ValueError(f"axis must be an integer or a tuple of integers, received axis={axis!r}")
    return axis


def _norms(w: np.ndarray, axis) -> np.ndarray:
    ax = tuple(axis) if isinstance(axis, list) else axis
    try:
        return np.sqrt(np.sum(np.square(w), axis=ax, keepdims=True))
    except np.exceptions.AxisError:
        raise ValueError(f"axis={axis!r} is out of range for a weight of shape {w.shape}") from None


class Constraint:
    """Base class: ``constraint(w) -> w`` (the identity).

    Subclasses implement ``__call__`` and ``get_config`` (keys = ``__init__`` arguments).
    Matches Keras 3 ``keras/src/constraints/constraints.py``.
    """

    def __call__(self, w):
        return w

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """Rescale slices whose L2 norm exceeds ``max_value``.

    ``n = sqrt(sum(w**2, axis, keepdims=True))``; ``w * clip(n, 0, max_value) / (eps + n)``
    with ``eps = 1e-7``.

    Args:
        max_value: the largest allowed norm (default 2); must be >= 0.
        axis: the axis or axes the norm is taken over (default 0: each column of a Dense
            kernel ``(in, units)``, each filter of a conv kernel when ``axis=[0, 1, 2]``).

    Raises:
        ValueError: for a bad ``max_value`` or ``axis``; at call time for an axis out of
            range or a non-float weight.

    Srivastava et al. 2014; matches Keras 3 ``constraints.MaxNorm``.
    """

    def __init__(self, max_value=2, axis=0):
        self.max_value = _number(max_value, "max_value", low=0)
        self.axis = _axis(axis)

    def __call__(self, w):
        w = _weight(w)
        n = _norms(w, self.axis)
        return (w * (np.clip(n, 0, self.max_value) / (epsilon() + n))).astype(w.dtype)

    def get_config(self) -> dict:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """``max(w, 0)``. Matches Keras 3 ``constraints.NonNeg``."""

    def __call__(self, w):
        w = _weight(w)
        return np.maximum(w, 0).astype(w.dtype)


class UnitNorm(Constraint):
    """``w / (eps + sqrt(sum(w**2, axis, keepdims=True)))``, ``eps = 1e-7``.

    Args:
        axis: the axis or axes of the norm (default 0).

    Raises:
        ValueError: for a bad ``axis`` or a non-float weight.

    Matches Keras 3 ``constraints.UnitNorm``.
    """

    def __init__(self, axis=0):
        self.axis = _axis(axis)

    def __call__(self, w):
        w = _weight(w)
        return (w / (epsilon() + _norms(w, self.axis))).astype(w.dtype)

    def get_config(self) -> dict:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Pull slice norms towards ``[min_value, max_value]``.

    ``n = sqrt(sum(w**2, axis, keepdims=True))``;
    ``desired = rate * clip(n, min_value, max_value) + (1 - rate) * n``;
    ``w * desired / (eps + n)``, ``eps = 1e-7``.

    Args:
        min_value: default 0.0 (>= 0).
        max_value: default 1.0 (>= ``min_value``).
        rate: default 1.0, in [0, 1]; 1.0 enforces the bounds strictly.
        axis: default 0.

    Raises:
        ValueError: naming the argument if a bound or ``rate`` is out of range.

    Matches Keras 3 ``constraints.MinMaxNorm``.
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value = _number(min_value, "min_value", low=0)
        self.max_value = _number(max_value, "max_value", low=min_value)
        self.rate = _number(rate, "rate", low=0, high=1)
        self.axis = _axis(axis)

    def __call__(self, w):
        w = _weight(w)
        n = _norms(w, self.axis)
        desired = self.rate * np.clip(n, self.min_value, self.max_value) + (1 - self.rate) * n
        return (w * (desired / (epsilon() + n))).astype(w.dtype)

    def get_config(self) -> dict:
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


# Keras exports the classes under their snake_case names too.
max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm

_CLASSES = (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm)
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in _CLASSES}
ALL_OBJECTS_DICT.update(
    {
        "constraint": Constraint,
        "max_norm": MaxNorm,
        "min_max_norm": MinMaxNorm,
        "non_neg": NonNeg,
        "unit_norm": UnitNorm,
    }
)


def serialize(constraint: Constraint) -> dict:
    """The Keras 3 config dict, e.g. ``{"module": "keras.constraints", "class_name":
    "MaxNorm", "config": {"max_value": 2, "axis": 0}, "registered_name": None}``."""
    return serialize_object(constraint, "keras.constraints")


def deserialize(config, custom_objects: dict | None = None) -> Constraint:
    """A constraint from its name or ``serialize`` dict.

    Raises:
        ValueError: listing the valid names if the name is unknown.
    """
    return deserialize_object(config, ALL_OBJECTS_DICT, "constraint", custom_objects)


def get(identifier):
    """A constraint from a name ("max_norm", "NonNeg", ...), a config dict, a class or a
    callable; ``None`` gives ``None``.

    Raises:
        ValueError: listing the valid names if ``identifier`` cannot be interpreted.

    Matches Keras 3 ``keras/src/constraints/__init__.py`` ``get``.
    """
    return get_object(identifier, deserialize, "constraint", ALL_OBJECTS_DICT)
