"""The preprocessing layer ``CategoryEncoding`` (Keras 3
``keras/src/layers/preprocessing/category_encoding.py``) and the encoding it shares with
``Discretization`` (Keras 3 ``keras/src/utils/numerical_utils.py``,
``encode_categorical_inputs``, as the torch backend runs it).

The layer has no weights; its output is not differentiable with respect to its integer inputs
(only ``count_weights`` carries a gradient, in ``"count"`` mode).
"""

from __future__ import annotations

import numbers

from ... import ops
from ...autodiff.tensor import Tensor
from ...backend import np
from .layer import Layer

__all__ = ["CategoryEncoding", "encode_categorical"]

_MODES = ("one_hot", "multi_hot", "count")


def _indices(inputs, depth: int, who: str) -> np.ndarray:
    """``inputs`` as an int64 array of indices in ``[0, depth)``, or a clear error.

    ``ops.one_hot`` checks the same range, but its errors name neither the layer nor
    ``num_tokens``, nor the non-integer value; checked here first, they reach the user."""
    arr = np.asarray(inputs.data if isinstance(inputs, Tensor) else inputs)
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise ValueError(f"{who} expects integer inputs, received inputs of dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or not np.all(np.mod(arr, 1) == 0):
            raise ValueError(f"{who} expects integer values, received non-integer values such "
                             f"as {arr[np.mod(arr, 1) != 0].ravel()[:1].tolist()}")  # fmt: skip
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= depth):
        bad = int(arr.min()) if arr.min() < 0 else int(arr.max())
        # NOTE: Keras's torch backend gives a zero row for a negative index and fails inside
        # torch for one >= depth; chainrule refuses both with the range.
        raise ValueError(f"{who}: every input value must be in [0, {depth}) (num_tokens="
                         f"{depth}), received the value {bad}")  # fmt: skip
    return arr


def encode_categorical(indices: np.ndarray, output_mode: str, depth: int, dtype: str,
                       count_weights=None, who: str = "CategoryEncoding"):  # fmt: skip
    """Encode integer ``indices`` in ``[0, depth)`` as Keras 3's ``encode_categorical_inputs``,
    from ``ops.one_hot``.

    ``"one_hot"``: ``(..., 1) -> (..., depth)``, otherwise ``(...) -> (..., depth)`` (a scalar
    gives ``(1, depth)``). ``"multi_hot"``/``"count"``: ``(batch, n) -> (batch, depth)`` (the
    max or the sum of the one-hot rows over axis 1) and ``(n,) -> (depth,)``; ``count_weights``
    of the inputs' shape weight each count (the output then takes their dtype).

    Raises:
        ValueError: ``"multi_hot"``/``"count"`` on inputs of rank above 2 (Keras reduces axis 1
            there, not the last axis, and its symbolic shape disagrees with its result);
            ``count_weights`` of another shape.
    """
    if indices.ndim == 0:
        indices = indices.reshape(1)
    if output_mode == "one_hot":
        if indices.ndim > 1 and indices.shape[-1] == 1:
            indices = indices.reshape(indices.shape[:-1])
        return ops.one_hot(indices, depth, dtype=dtype)
    if indices.ndim > 2:
        raise ValueError(
            f"{who}: output_mode={output_mode!r} supports inputs of rank 1 or 2 (batch, "
            f"sample_length), received inputs of shape {indices.shape}; reshape them to 2-D first"
        )
    axis = 1 if indices.ndim > 1 else 0
    onehot = ops.one_hot(indices, depth, dtype=dtype).data
    if output_mode == "multi_hot":
        return Tensor(onehot.max(axis=axis))
    if count_weights is None:
        return Tensor(onehot.sum(axis=axis, dtype=onehot.dtype))
    if tuple(count_weights.shape) != tuple(indices.shape):
        raise ValueError(f"{who}: count_weights must have the shape of the inputs "
                         f"{indices.shape}, received count_weights of shape "
                         f"{tuple(count_weights.shape)}")  # fmt: skip
    out = ops.sum(ops.multiply(onehot, ops.expand_dims(count_weights, -1)), axis=axis)
    # (NumPy sums int32 in int64; Keras keeps the layer's dtype)
    return out if out.dtype == dtype else ops.astype(out, dtype)


class CategoryEncoding(Layer):
    """Encodes integer category indices as one-hot, multi-hot or count vectors.

    Matches Keras 3 ``keras/src/layers/preprocessing/category_encoding.py``::

        one_hot:   out[..., k] = (x[...] == k)                  # (..., 1) or (...) -> (..., n)
        multi_hot: out[b, k] = any_j(x[b, j] == k)              # (batch, m) -> (batch, n)
        count:     out[b, k] = sum_j((x[b, j] == k) * w[b, j])  # w = count_weights or 1

    with ``n = num_tokens``; a rank-1 input ``(m,)`` is one sample in ``"multi_hot"`` and
    ``"count"`` modes (output ``(n,)``). Inputs may be integers or integral floats.

    Args:
        num_tokens: the number of categories (required); every input must lie in
            ``[0, num_tokens)``.
        output_mode: "multi_hot" (default), "one_hot" or "count" ("binary" is Keras's old
            name for "multi_hot").
        sparse: default False. True is refused: chainrule has no sparse tensors (Keras's
            torch backend refuses it too, at call time).
        **kwargs: base layer arguments (``name``, ``dtype`` (the output dtype, default
            float32), ...).

    Call arguments:
        inputs: integer indices, rank 0 to 2 (any rank in "one_hot" mode).
        count_weights: optional, the inputs' shape; "count" mode only.

    Raises:
        ValueError: ``num_tokens`` missing, below 1 or not an integer; an unknown
            ``output_mode``; ``sparse=True``; an input outside ``[0, num_tokens)`` or not an
            integer (Keras's torch backend gives zero rows for negative values); inputs of
            rank above 2 in "multi_hot"/"count" mode; ``count_weights`` outside "count" mode
            or of another shape.

    >>> import numpy as np
    >>> from chainrule import keras
    >>> keras.layers.CategoryEncoding(4, output_mode="one_hot")(np.array([3, 0])).numpy()
    array([[0., 0., 0., 1.],
           [1., 0., 0., 0.]], dtype=float32)
    """

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode not in _MODES:
            raise ValueError(f"Unknown arg for output_mode: expected one of {_MODES}, "
                             f"received output_mode={output_mode!r}")  # fmt: skip
        if num_tokens is None:
            raise ValueError(
                "num_tokens must be set to use this layer. If the number of tokens is not "
                "known beforehand, use the IntegerLookup layer instead."
            )
        if not isinstance(num_tokens, numbers.Integral) or isinstance(num_tokens, bool):
            raise ValueError(f"num_tokens must be a positive integer, received "
                             f"num_tokens={num_tokens!r}")  # fmt: skip
        if num_tokens < 1:
            raise ValueError(f"`num_tokens` must be >= 1. Received: num_tokens={num_tokens}.")
        if sparse:
            raise ValueError(
                "CategoryEncoding: sparse=True is not supported: chainrule has no sparse "
                "tensors (Keras's torch backend refuses it too), received sparse=True"
            )
        self.num_tokens = int(num_tokens)
        self.output_mode = output_mode
        self.sparse = False

    def call(self, inputs, count_weights=None):
        if count_weights is not None:
            if self.output_mode != "count":
                raise ValueError(
                    "`count_weights` is not used when `output_mode` is not `'count'`. "
                    f"Received `count_weights={count_weights}`."
                )
            if not isinstance(count_weights, Tensor):
                count_weights = np.asarray(count_weights, dtype=self.dtype)
            elif count_weights.dtype != self.dtype:
                count_weights = ops.astype(count_weights, self.dtype)
        idx = _indices(inputs, self.num_tokens, f"CategoryEncoding {self.name!r}")
        return encode_categorical(idx, self.output_mode, self.num_tokens, self.dtype,
                                  count_weights, f"CategoryEncoding {self.name!r}")  # fmt: skip

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        if not shape:
            return (self.num_tokens,)
        if self.output_mode == "one_hot" and (shape[-1] != 1 or len(shape) == 1):
            return shape + (self.num_tokens,)
        return shape[:-1] + (self.num_tokens,)

    def get_config(self) -> dict:
        # Keras leaves `sparse` out of the config
        return {**super().get_config(), "num_tokens": self.num_tokens,
                "output_mode": self.output_mode}  # fmt: skip
