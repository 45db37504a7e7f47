"""``keras.regularizers``: weight penalties added to the training loss.

A regularizer is called on a weight (a Variable, Tensor or array) and returns a scalar
chainrule Tensor, differentiable in the weight. Names, arguments, defaults, configs and
formulas match Keras 3 ``keras/src/regularizers/regularizers.py`` (note: ``l2 * sum(x**2)``,
with no factor 1/2).

>>> import chainrule as cr
>>> from chainrule.keras import regularizers
>>> w = cr.tensor([[1.0, -2.0]], requires_grad=True)
>>> float(regularizers.L2(0.1)(w))
0.5
"""

from __future__ import annotations

import math
import numbers

from .. import ops
from ..autodiff.tensor import Tensor, as_array
from ..backend import epsilon, np
from ._serialization import deserialize_object, get_object, serialize_object

__all__ = [
    "Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "l1", "l2", "l1_l2",
    "orthogonal_regularizer", "get", "serialize", "deserialize",
]  # fmt: skip


def _validate_factor(value, name: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{name} must be a non-negative float, received {name}={value!r}")
    return float(value)


def _float32(value: float) -> float:
    # Keras keeps these factors as float32 tensors, so its configs show e.g.
    # 0.009999999776482582 for 0.01; we report the same number.
    return float(np.float32(value))


def _float_tensor(x) -> Tensor:
    t = x if isinstance(x, Tensor) else Tensor(as_array(x))
    if t.dtype.kind != "f":
        raise ValueError(
            f"regularizers need a float weight, received an array of dtype {t.dtype.name}"
        )
    return t


class Regularizer:
    """Base class: ``regularizer(x) -> scalar``; the base penalty is 0.0.

    Subclasses implement ``__call__`` and ``get_config`` (keys = ``__init__`` arguments).
    Matches Keras 3 ``keras/src/regularizers/regularizers.py``.
    """

    def __call__(self, x):
        return 0.0

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def get_config(self) -> dict:
        raise NotImplementedError(f"{self} does not implement get_config()")

    def __repr__(self):
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)``; a term whose factor is 0 is left out.

    Args:
        l1: default 0.0 (None means 0.0); must be a non-negative float.
        l2: default 0.0 (None means 0.0); must be a non-negative float.

    Input: a float weight of any shape. Output: a scalar Tensor of the weight's dtype (a
    constant 0 when both factors are 0, as in Keras).

    Raises:
        ValueError: naming ``l1`` or ``l2`` if it is negative, infinite, NaN or not a number;
            at call time if the weight is not a float array.

    Matches Keras 3 ``keras/src/regularizers/regularizers.py`` ``L1L2``.
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _validate_factor(0.0 if l1 is None else l1, "l1")
        self.l2 = _validate_factor(0.0 if l2 is None else l2, "l2")

    def __call__(self, x) -> Tensor:
        x = _float_tensor(x)
        out = Tensor(np.zeros((), dtype=x.dtype))
        if self.l1 != 0.0:
            out = out + np.asarray(self.l1, x.dtype) * ops.sum(ops.abs(x))
        if self.l2 != 0.0:
            out = out + np.asarray(self.l2, x.dtype) * ops.sum(ops.square(x))
        return out

    def get_config(self) -> dict:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum(|x|)`` (the subgradient of ``|x|`` at 0 is 0).

    Args:
        l1: default 0.01 (None means 0.01); must be a non-negative float.

    Input: a float weight of any shape. Output: a scalar Tensor of the weight's dtype.

    Raises:
        ValueError: naming ``l1`` if it is negative, infinite, NaN or not a number.

    Matches Keras 3 ``keras/src/regularizers/regularizers.py`` ``L1``.
    """

    def __init__(self, l1=0.01):
        self.l1 = _float32(_validate_factor(0.01 if l1 is None else l1, "l1"))

    def __call__(self, x) -> Tensor:
        x = _float_tensor(x)
        return np.asarray(self.l1, x.dtype) * ops.sum(ops.abs(x))

    def get_config(self) -> dict:
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x**2)`` (no factor 1/2, as Keras).

    Args:
        l2: default 0.01 (None means 0.01); must be a non-negative float.

    Input: a float weight of any shape. Output: a scalar Tensor of the weight's dtype.

    Raises:
        ValueError: naming ``l2`` if it is negative, infinite, NaN or not a number.

    Matches Keras 3 ``keras/src/regularizers/regularizers.py`` ``L2``.
    """

    def __init__(self, l2=0.01):
        self.l2 = _validate_factor(0.01 if l2 is None else l2, "l2")

    def __call__(self, x) -> Tensor:
        x = _float_tensor(x)
        return np.asarray(self.l2, x.dtype) * ops.sum(ops.square(x))

    def get_config(self) -> dict:
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Penalises non-orthogonal rows (or columns) of a 2-D weight.

    ``u = x / max(||x_i||, epsilon)`` row-wise (column-wise for ``mode="columns"``);
    ``p = u @ u.T`` (or ``u.T @ u``) of size ``n``; penalty
    ``factor * 0.5 * sum(|p - diag(p)|) / (n * (n - 1) / 2)``.

    Args:
        factor: default 0.01; must be a non-negative float.
        mode: "rows" (default) or "columns".

    Input: a float weight of shape ``(rows, cols)``. Output: a scalar Tensor.

    Raises:
        ValueError: for a bad ``factor`` or ``mode``, or a weight whose rank is not 2.

    Matches Keras 3 ``keras/src/regularizers/regularizers.py`` ``OrthogonalRegularizer``.
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = _float32(_validate_factor(factor, "factor"))
        if mode not in ("rows", "columns"):
            raise ValueError(f"mode must be 'rows' or 'columns', received mode={mode!r}")
        self.mode = mode

    def __call__(self, x) -> Tensor:
        x = _float_tensor(x)
        if x.ndim != 2:
            raise ValueError(
                f"OrthogonalRegularizer needs a weight of rank 2, received shape {x.shape}"
            )
        axis = 1 if self.mode == "rows" else 0
        # NOTE: 1/sqrt(max(s, eps**2)) equals Keras's min(rsqrt(s), 1/eps) but keeps the
        # gradient finite for an all-zero row (rsqrt'(0) is infinite).
        sq = ops.sum(ops.square(x), axis=axis, keepdims=True)
        u = x / ops.sqrt(ops.maximum(sq, epsilon() ** 2))
        p = u @ u.T if self.mode == "rows" else u.T @ u
        n = p.shape[0]
        off_diag = p * (1.0 - np.eye(n, dtype=x.dtype))
        pairs = n * (n - 1.0) / 2.0
        return (self.factor * 0.5) * ops.sum(ops.abs(off_diag)) / pairs

    def get_config(self) -> dict:
        return {"factor": self.factor, "mode": self.mode}


# Keras exports the classes under their lowercase names too.
l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

_CLASSES = (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in _CLASSES}
ALL_OBJECTS_DICT.update(
    {
        "regularizer": Regularizer,
        "l1": L1,
        "l2": L2,
        "l1l2": L1L2,  # Keras's own snake_case of "L1L2"
        "l1_l2": L1L2,  # the exported name; Keras 3.15.1's get() does not accept it
        "orthogonal_regularizer": OrthogonalRegularizer,
    }
)


def serialize(regularizer: Regularizer) -> dict:
    """The Keras 3 config dict, e.g. ``{"module": "keras.regularizers", "class_name": "L2",
    "config": {"l2": 0.01}, "registered_name": None}``."""
    return serialize_object(regularizer, "keras.regularizers")


def deserialize(config, custom_objects: dict | None = None) -> Regularizer:
    """A regularizer from its name or ``serialize`` dict.

    Raises:
        ValueError: listing the valid names if the name is unknown.
    """
    return deserialize_object(config, ALL_OBJECTS_DICT, "regularizer", custom_objects)


def get(identifier):
    """A regularizer from a name ("l1", "l2", "l1_l2", ...), a config dict, a class or a
    callable; ``None`` gives ``None``.

    Raises:
        ValueError: listing the valid names if ``identifier`` cannot be interpreted.

    Matches Keras 3 ``keras/src/regularizers/__init__.py`` ``get``.
    """
    return get_object(identifier, deserialize, "regularizer", ALL_OBJECTS_DICT)
