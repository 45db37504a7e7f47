"""``keras.Variable``: a named, trainable Tensor that layers and optimizers own.

A Variable is a leaf ``Tensor`` with ``requires_grad`` equal to ``trainable``, so
``chainrule.grad(loss, model.trainable_weights)`` works on it directly. Optimizers update its
``data`` in place.
"""

from __future__ import annotations

from ..autodiff.tensor import Tensor, as_array
from ..backend import floatx, np

__all__ = ["Variable"]

# Bumped whenever something a training step reads from the layer tree may have changed: a
# `trainable` flag (of a layer or of a Variable), an `activity_regularizer`, a model's
# `optimizer`, a weight or sub-layer added. `fit` caches that reading (trainers/trainer_utils.py
# `_FitCache`) and rereads it when this moves, so a callback that freezes a layer or swaps the
# optimizer takes effect at the next step, as in Keras.
GENERATION = [0]


class Variable(Tensor):
    """A model weight.

    Args:
        initializer: an array-like initial value, or a callable ``(shape, dtype) -> array``
            (then ``shape`` is required).
        shape: the shape, when ``initializer`` is callable.
        dtype: the dtype (default ``floatx()``, float32, for float values).
        trainable: whether optimizers update it (default True).
        name: a name (default "variable").

    Raises:
        ValueError: if the initial value's shape differs from ``shape``.
    """

    __slots__ = ("name", "_trainable", "path", "_constraint")

    def __init__(self, initializer, shape=None, dtype=None, trainable=True, name=None):
        if callable(initializer) and not hasattr(initializer, "shape"):
            if shape is None:
                raise ValueError("shape is required when initializer is callable")
            value = initializer(tuple(shape), dtype or floatx())
        else:
            value = initializer
        arr = as_array(value, dtype)
        if arr.dtype.kind == "f" and dtype is None and arr.dtype != np.dtype(floatx()):
            arr = arr.astype(floatx())
        if shape is not None and tuple(arr.shape) != tuple(shape):
            raise ValueError(
                f"variable {name!r}: initial value has shape {arr.shape}, expected {tuple(shape)}"
            )
        self.data = np.array(arr, copy=True)
        self.grad = None
        self._node = None
        self.name = name or "variable"
        self.path = self.name
        self._constraint = None
        self._trainable = bool(trainable)
        self.requires_grad = self._trainable and self.data.dtype.kind == "f"

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        self.requires_grad = self._trainable and self.data.dtype.kind == "f"
        GENERATION[0] += 1

    @property
    def value(self):
        """The current value as an array (Keras's ``variable.value``)."""
        return self.data

    def assign(self, value):
        """Overwrite the value in place.

        Raises:
            ValueError: naming both shapes if ``value``'s shape differs.
        """
        arr = np.asarray(value.data if isinstance(value, Tensor) else value)
        if arr.shape != self.data.shape:
            raise ValueError(
                f"cannot assign a value of shape {arr.shape} to variable {self.name!r} of "
                f"shape {self.data.shape}"
            )
        self.data[...] = arr
        return self

    def assign_add(self, value):
        self.data += np.asarray(value.data if isinstance(value, Tensor) else value, self.dtype)
        return self

    def assign_sub(self, value):
        self.data -= np.asarray(value.data if isinstance(value, Tensor) else value, self.dtype)
        return self

    def __repr__(self):
        return (
            f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}, "
            f"value={np.array2string(self.data, threshold=6)}>"
        )
