"""``keras.ops``: the differentiable op namespace for writing layers, losses and training steps
as in Keras 3 (``keras/src/ops/numpy.py``, ``nn.py``, ``core.py``, ``math.py``).

Names, argument names and defaults are Keras's (``x1, x2``, ``axis``, ``keepdims``, ``newshape``,
``gelu(approximate=True)``, ``leaky_relu(negative_slope=0.2)``). Every function takes Tensors,
NumPy arrays or Python numbers and returns a chainrule ``Tensor`` (differentiable where the math
is), except the introspection helpers (``shape``, ``ndim``, ``size``, ``convert_to_numpy``).

>>> from chainrule.keras import ops
>>> ops.mean(ops.square(ops.convert_to_tensor([[1.0, 2.0], [3.0, 4.0]])), axis=-1).numpy()
array([ 2.5, 12.5], dtype=float32)
"""

from __future__ import annotations

import builtins

from .. import ops as _o
from ..autodiff.tensor import Tensor
from ..backend import epsilon as _epsilon
from ..backend import floatx as _floatx
from ..backend import np

__all__ = [
    # elementwise, two operands
    "add", "subtract", "multiply", "divide", "true_divide", "power", "maximum", "minimum",
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and",
    "logical_or", "matmul", "dot", "outer", "tensordot", "einsum", "where", "clip",
    # elementwise, one operand
    "negative", "abs", "absolute", "square", "sqrt", "rsqrt", "reciprocal", "exp", "log",
    "log1p", "expm1", "sign", "sin", "cos", "tan", "tanh", "floor", "ceil", "round", "isnan",
    "isfinite", "logical_not",
    # reductions
    "sum", "mean", "max", "min", "prod", "var", "std", "logsumexp", "argmax", "argmin", "norm",
    "average",
    # shapes
    "reshape", "transpose", "expand_dims", "squeeze", "concatenate", "stack", "split", "tile",
    "repeat", "pad", "broadcast_to", "moveaxis", "swapaxes", "ravel", "take", "flip",
    # creation and conversion
    "ones", "zeros", "ones_like", "zeros_like", "full", "full_like", "arange", "eye", "cast",
    "convert_to_tensor", "convert_to_numpy", "is_tensor", "shape", "ndim", "size", "dtype",
    "stop_gradient",
    # neural-network ops
    "relu", "relu6", "sigmoid", "softmax", "log_softmax", "softplus", "silu", "swish", "gelu",
    "elu", "selu", "leaky_relu", "hard_sigmoid", "softsign", "one_hot", "normalize",
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "ctc_loss",
]  # fmt: skip


def _t(x, dtype=None):
    if isinstance(x, Tensor):
        return x if dtype is None or x.dtype == np.dtype(dtype) else _o.astype(x, dtype)
    arr = np.asarray(x, dtype=dtype)
    if dtype is None and arr.dtype == np.float64 and not isinstance(x, np.ndarray):
        arr = arr.astype(_floatx())  # Python floats become floatx, as Keras
    return Tensor(arr)


# -- elementwise, two operands ---------------------------------------------------------------
def add(x1, x2) -> Tensor:
    """``x1 + x2`` (broadcasting)."""
    return _o.add(x1, x2)


def subtract(x1, x2) -> Tensor:
    """``x1 - x2``."""
    return _o.subtract(x1, x2)


def multiply(x1, x2) -> Tensor:
    """``x1 * x2``."""
    return _o.multiply(x1, x2)


def divide(x1, x2) -> Tensor:
    """``x1 / x2``."""
    return _o.divide(x1, x2)


true_divide = divide


def power(x1, x2) -> Tensor:
    """``x1 ** x2``."""
    return _o.power(x1, x2)


def maximum(x1, x2) -> Tensor:
    """Elementwise ``max(x1, x2)`` (the gradient is split evenly at ties)."""
    return _o.maximum(x1, x2)


def minimum(x1, x2) -> Tensor:
    """Elementwise ``min(x1, x2)``."""
    return _o.minimum(x1, x2)


def equal(x1, x2) -> Tensor:
    """``x1 == x2`` (boolean, not differentiable)."""
    return _o.equal(x1, x2)


def not_equal(x1, x2) -> Tensor:
    """``x1 != x2``."""
    return _o.not_equal(x1, x2)


def less(x1, x2) -> Tensor:
    """``x1 < x2``."""
    return _o.less(x1, x2)


def less_equal(x1, x2) -> Tensor:
    """``x1 <= x2``."""
    return _o.less_equal(x1, x2)


def greater(x1, x2) -> Tensor:
    """``x1 > x2``."""
    return _o.greater(x1, x2)


def greater_equal(x1, x2) -> Tensor:
    """``x1 >= x2``."""
    return _o.greater_equal(x1, x2)


def logical_and(x1, x2) -> Tensor:
    """``x1 and x2`` elementwise."""
    return _o.logical_and(x1, x2)


def logical_or(x1, x2) -> Tensor:
    """``x1 or x2`` elementwise."""
    return _o.logical_or(x1, x2)


def matmul(x1, x2) -> Tensor:
    """Matrix product ``x1 @ x2`` (batched over leading axes)."""
    return _o.matmul(x1, x2)


def dot(x1, x2) -> Tensor:
    """``numpy.dot`` for 1-D and 2-D operands (a scalar operand multiplies)."""
    if np.ndim(_t(x1).data) == 0 or np.ndim(_t(x2).data) == 0:
        return _o.multiply(x1, x2)
    return _o.dot(x1, x2)


def outer(x1, x2) -> Tensor:
    """Outer product of the flattened operands: ``(m,), (n,) -> (m, n)``."""
    return _o.outer(_o.reshape(x1, (-1,)), _o.reshape(x2, (-1,)))


def tensordot(x1, x2, axes=2) -> Tensor:
    """``numpy.tensordot``: sum products over ``axes`` (an int or a pair of axis lists)."""
    return _o.tensordot(x1, x2, axes=axes)


def einsum(subscripts, *operands, **kwargs) -> Tensor:
    """Einstein summation, e.g. ``einsum("bi,ij->bj", x, w)``."""
    return _o.einsum(subscripts, *operands)


def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` else ``x2``; with neither given, the indices of true entries
    (a tuple of int arrays, as ``numpy.nonzero``).

    Raises:
        ValueError: if only one of ``x1``, ``x2`` is given.
    """
    if x1 is None and x2 is None:
        return tuple(Tensor(i) for i in np.nonzero(_t(condition).data))
    if x1 is None or x2 is None:
        raise ValueError(
            f"where needs both x1 and x2 or neither, received x1={x1!r}, x2={x2!r}"
        )
    return _o.where(condition, x1, x2)


def clip(x, x_min, x_max) -> Tensor:
    """``min(max(x, x_min), x_max)``; the gradient passes inside the interval."""
    return _o.clip(x, x_min, x_max)


# -- elementwise, one operand ------------------------------------------------------------------
def negative(x) -> Tensor:
    """``-x``."""
    return _o.negative(x)


def abs(x) -> Tensor:  # noqa: A001 - Keras's name
    """``|x|``."""
    return _o.abs(x)


absolute = abs


def square(x) -> Tensor:
    """``x * x``."""
    return _o.square(x)


def sqrt(x) -> Tensor:
    """``x ** 0.5``."""
    return _o.sqrt(x)


def rsqrt(x) -> Tensor:
    """``1 / sqrt(x)``."""
    return _o.divide(1.0, _o.sqrt(x))


def reciprocal(x) -> Tensor:
    """``1 / x``."""
    return _o.divide(1.0, x)


def exp(x) -> Tensor:
    """``e ** x``."""
    return _o.exp(x)


def log(x) -> Tensor:
    """Natural logarithm."""
    return _o.log(x)


def log1p(x) -> Tensor:
    """``log(1 + x)``, accurate for small ``x``."""
    return _o.log1p(x)


def expm1(x) -> Tensor:
    """``exp(x) - 1``, accurate for small ``x``."""
    return _o.expm1(x)


def sign(x) -> Tensor:
    """-1, 0 or 1 (gradient 0)."""
    return _o.sign(x)


def sin(x) -> Tensor:
    """Sine."""
    return _o.sin(x)


def cos(x) -> Tensor:
    """Cosine."""
    return _o.cos(x)


def tan(x) -> Tensor:
    """Tangent."""
    return _o.tan(x)


def tanh(x) -> Tensor:
    """Hyperbolic tangent."""
    return _o.tanh(x)


def floor(x) -> Tensor:
    """Round down (not differentiable)."""
    return _o.floor(x)


def ceil(x) -> Tensor:
    """Round up (not differentiable)."""
    return _o.ceil(x)


def round(x, decimals=0) -> Tensor:  # noqa: A001 - Keras's name
    """Round half to even, to ``decimals`` places (not differentiable)."""
    return _o.round(x, decimals)


def isnan(x) -> Tensor:
    """True where ``x`` is NaN."""
    return _o.isnan(x)


def isfinite(x) -> Tensor:
    """True where ``x`` is neither inf nor NaN."""
    return _o.isfinite(x)


def logical_not(x) -> Tensor:
    """``not x`` elementwise."""
    return _o.logical_not(x)


# -- reductions ---------------------------------------------------------------------------------
def sum(x, axis=None, keepdims=False) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (None: all axes)."""
    return _o.sum(x, axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims=False) -> Tensor:
    """Mean over ``axis``."""
    return _o.mean(x, axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False, initial=None) -> Tensor:  # noqa: A001
    """Maximum over ``axis``; ``initial`` is a lower bound included in the reduction."""
    out = _o.max(x, axis=axis, keepdims=keepdims)
    return out if initial is None else _o.maximum(out, initial)


def min(x, axis=None, keepdims=False, initial=None) -> Tensor:  # noqa: A001
    """Minimum over ``axis``; ``initial`` is an upper bound included in the reduction."""
    out = _o.min(x, axis=axis, keepdims=keepdims)
    return out if initial is None else _o.minimum(out, initial)


def prod(x, axis=None, keepdims=False, dtype=None) -> Tensor:
    """Product over ``axis``."""
    return _o.prod(_t(x, dtype), axis=axis, keepdims=keepdims)


def var(x, axis=None, keepdims=False) -> Tensor:
    """Population variance ``mean((x - mean(x))**2)`` over ``axis``."""
    return _o.var(x, axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False) -> Tensor:
    """Population standard deviation over ``axis``."""
    return _o.std(x, axis=axis, keepdims=keepdims)


def logsumexp(x, axis=None, keepdims=False) -> Tensor:
    """``log(sum(exp(x), axis))`` without overflow."""
    return _o.logsumexp(x, axis=axis, keepdims=keepdims)


def argmax(x, axis=None, keepdims=False) -> Tensor:
    """Index of the maximum along ``axis`` (over the flattened array when None)."""
    return _o.argmax(x, axis=axis, keepdims=keepdims)


def argmin(x, axis=None, keepdims=False) -> Tensor:
    """Index of the minimum along ``axis``."""
    return _o.argmin(x, axis=axis, keepdims=keepdims)


def norm(x, ord=None, axis=None, keepdims=False) -> Tensor:  # noqa: A002
    """Vector norm (``ord`` None/2, 1 or inf) over ``axis``."""
    return _o.norm(x, ord=ord, axis=axis, keepdims=keepdims)


def average(x, axis=None, weights=None) -> Tensor:
    """``sum(x * weights, axis) / sum(weights, axis)``; the plain mean when ``weights`` is
    None (1-D weights apply along ``axis``)."""
    if weights is None:
        return _o.mean(x, axis=axis)
    x, w = _t(x), _t(weights)
    if axis is not None and w.ndim == 1 and x.ndim > 1:
        shape = [1] * x.ndim
        shape[axis] = -1
        w = _o.reshape(w, tuple(shape))
    w = _o.broadcast_to(_o.astype(w, x.dtype), tuple(x.shape))
    return _o.divide(_o.sum(_o.multiply(x, w), axis=axis), _o.sum(w, axis=axis))


# -- shapes -------------------------------------------------------------------------------------
def reshape(x, newshape) -> Tensor:
    """``x`` with shape ``newshape`` (one entry may be -1)."""
    return _o.reshape(x, tuple(newshape) if not isinstance(newshape, int) else (newshape,))


def transpose(x, axes=None) -> Tensor:
    """Permute axes (reverse them when ``axes`` is None)."""
    return _o.transpose(x, None if axes is None else tuple(axes))


def expand_dims(x, axis) -> Tensor:
    """Insert a size-1 axis at ``axis``."""
    return _o.expand_dims(x, axis)


def squeeze(x, axis=None) -> Tensor:
    """Remove size-1 axes (only ``axis`` when given)."""
    return _o.squeeze(x, axis=axis)


def concatenate(xs, axis=0) -> Tensor:
    """Join a list of tensors along ``axis``."""
    return _o.concatenate(list(xs), axis=axis)


def stack(x, axis=0) -> Tensor:
    """Stack a list of same-shaped tensors along a new ``axis``."""
    return _o.stack(list(x), axis=axis)


def split(x, indices_or_sections, axis=0) -> list:
    """Split into equal sections or at the given indices along ``axis``."""
    return _o.split(x, indices_or_sections, axis=axis)


def tile(x, repeats) -> Tensor:
    """Repeat the whole tensor ``repeats`` times per axis."""
    return _o.tile(x, repeats)


def repeat(x, repeats, axis=None) -> Tensor:
    """Repeat each element ``repeats`` times along ``axis``."""
    return _o.repeat(x, repeats, axis=axis)


def pad(x, pad_width, mode="constant", constant_values=None) -> Tensor:
    """Pad with ``pad_width`` (pairs per axis), filling with ``constant_values`` (default 0)."""
    return _o.pad(x, pad_width, mode=mode, constant_values=constant_values or 0)


def broadcast_to(x, shape) -> Tensor:
    """``x`` broadcast to ``shape``; the gradient is summed back."""
    return _o.broadcast_to(x, tuple(shape))


def moveaxis(x, source, destination) -> Tensor:
    """Move axis ``source`` to position ``destination``."""
    return _o.moveaxis(x, source, destination)


def swapaxes(x, axis1, axis2) -> Tensor:
    """Exchange two axes."""
    return _o.swapaxes(x, axis1, axis2)


def ravel(x) -> Tensor:
    """Flatten to 1-D."""
    return _o.reshape(x, (-1,))


def take(x, indices, axis=None) -> Tensor:
    """Elements at integer ``indices`` along ``axis`` (of the flattened tensor when None)."""
    return _o.take(x, indices, axis=axis)


def flip(x, axis=None) -> Tensor:
    """Reverse the order of elements along ``axis`` (all axes when None)."""
    x = _t(x)
    axes = range(x.ndim) if axis is None else ([axis] if isinstance(axis, int) else axis)
    index = [builtins.slice(None)] * x.ndim
    for a in axes:
        index[a] = builtins.slice(None, None, -1)
    return _o.getitem(x, tuple(index))


# -- creation and conversion -----------------------------------------------------------------
def ones(shape, dtype=None) -> Tensor:
    """A tensor of ones (dtype default ``floatx()``)."""
    return Tensor(np.ones(shape, dtype=dtype or _floatx()))


def zeros(shape, dtype=None) -> Tensor:
    """A tensor of zeros (dtype default ``floatx()``)."""
    return Tensor(np.zeros(shape, dtype=dtype or _floatx()))


def ones_like(x, dtype=None) -> Tensor:
    """Ones with ``x``'s shape (and dtype unless given)."""
    return Tensor(np.ones_like(_t(x).data, dtype=dtype))


def zeros_like(x, dtype=None) -> Tensor:
    """Zeros with ``x``'s shape (and dtype unless given)."""
    return Tensor(np.zeros_like(_t(x).data, dtype=dtype))


def full(shape, fill_value, dtype=None) -> Tensor:
    """A tensor filled with ``fill_value``."""
    return _t(np.full(shape, fill_value, dtype=dtype))


def full_like(x, fill_value, dtype=None) -> Tensor:
    """``fill_value`` with ``x``'s shape."""
    return Tensor(np.full_like(_t(x).data, fill_value, dtype=dtype))


def arange(start, stop=None, step=None, dtype=None) -> Tensor:
    """Evenly spaced values in ``[start, stop)`` (``numpy.arange``)."""
    args = (start,) if stop is None else (start, stop) if step is None else (start, stop, step)
    return _t(np.arange(*args, dtype=dtype))


def eye(N, M=None, k=0, dtype=None) -> Tensor:  # noqa: N803 - Keras's names
    """An ``N x M`` matrix with ones on diagonal ``k``."""
    return Tensor(np.eye(N, M, k, dtype=dtype or _floatx()))


def cast(x, dtype) -> Tensor:
    """``x`` converted to ``dtype`` (float casts keep the gradient)."""
    return _o.astype(_t(x), np.dtype(dtype).name)


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None) -> Tensor:
    """A chainrule Tensor for an array, list or number (a Tensor is returned as is unless
    ``dtype`` differs); Python floats become ``floatx()``."""
    return _t(x, dtype)


def convert_to_numpy(x) -> np.ndarray:
    """The NumPy array behind ``x``."""
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def is_tensor(x) -> bool:
    """True for a chainrule Tensor."""
    return isinstance(x, Tensor)


def shape(x) -> tuple:
    """The shape as a tuple of ints (None for unknown sizes of symbolic tensors)."""
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def ndim(x) -> int:
    """The number of axes."""
    return len(shape(x))


def size(x) -> int:
    """The number of elements."""
    return int(np.prod(shape(x)))


def dtype(x) -> str:
    """The dtype name, e.g. ``"float32"``."""
    return np.dtype(x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype).name


def stop_gradient(variable) -> Tensor:
    """The same values with no gradient flowing back."""
    return Tensor(_t(variable).data)


# -- neural-network ops ---------------------------------------------------------------------
def relu(x) -> Tensor:
    """``max(x, 0)``."""
    return _o.relu(x)


def relu6(x) -> Tensor:
    """``min(max(x, 0), 6)``."""
    return _o.clip(x, 0.0, 6.0)


def sigmoid(x) -> Tensor:
    """``1 / (1 + exp(-x))``."""
    return _o.sigmoid(x)


def softmax(x, axis=-1) -> Tensor:
    """``exp(x) / sum(exp(x), axis)`` (max-shifted)."""
    return _o.softmax(x, axis=axis)


def log_softmax(x, axis=-1) -> Tensor:
    """``x - logsumexp(x, axis)``."""
    return _o.log_softmax(x, axis=axis)


def softplus(x) -> Tensor:
    """``log(1 + exp(x))``."""
    return _o.softplus(x)


def silu(x) -> Tensor:
    """``x * sigmoid(x)``."""
    return _o.silu(x)


swish = silu


def gelu(x, approximate=True) -> Tensor:
    """GELU; Keras's ``keras.ops.gelu`` defaults to the tanh approximation
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`` (Hendrycks & Gimpel 2016)."""
    return _o.gelu(x, approximate=approximate)


def elu(x, alpha=1.0) -> Tensor:
    """``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``."""
    return _o.elu(x, alpha=alpha)


def selu(x) -> Tensor:
    """Scaled ELU (Klambauer et al. 2017)."""
    return _o.selu(x)


def leaky_relu(x, negative_slope=0.2) -> Tensor:
    """``x`` if ``x >= 0`` else ``negative_slope * x`` (Keras's op default 0.2)."""
    return _o.leaky_relu(x, negative_slope=negative_slope)


def hard_sigmoid(x) -> Tensor:
    """``relu6(x + 3) / 6``."""
    return _o.hard_sigmoid(x)


def softsign(x) -> Tensor:
    """``x / (1 + |x|)``."""
    return _o.softsign(x)


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False) -> Tensor:
    """One-hot encode integer ``x`` with the class axis at ``axis``.

    Raises:
        ValueError: for an index outside ``[0, num_classes)``.
    """
    out = _o.one_hot(x, num_classes, dtype=dtype or _floatx())
    return out if axis in (-1, out.ndim - 1) else _o.moveaxis(out, -1, axis)


def normalize(x, axis=-1, order=2, epsilon=None) -> Tensor:
    """``x / max(norm(x, order, axis), epsilon)`` (``epsilon`` default ``backend.epsilon()``)."""
    eps = _epsilon() if epsilon is None else epsilon
    if order == 2:
        # NOTE: sqrt(max(sum(x^2), eps^2)) is Keras's min(rsqrt(.), 1/eps) without a 1/0.
        sq = _o.sum(_o.square(x), axis=axis, keepdims=True)
        return _o.divide(x, _o.sqrt(_o.maximum(sq, eps * eps)))
    return _o.divide(x, _o.maximum(_o.norm(x, ord=order, axis=axis, keepdims=True), eps))


def _same_shape(target, output, what):
    if tuple(target.shape) != tuple(output.shape):
        raise ValueError(
            f"{what}: arguments `target` and `output` must have the same shape. Received: "
            f"target.shape={tuple(target.shape)}, output.shape={tuple(output.shape)}"
        )


def binary_crossentropy(target, output, from_logits=False) -> Tensor:
    """Elementwise ``-(t log(o) + (1 - t) log(1 - o))``, with ``o`` clipped to
    ``[epsilon, 1 - epsilon]``, or the stable logits form when ``from_logits``.

    Raises:
        ValueError: if the shapes differ.
    """
    target, output = _t(target), _t(output)
    _same_shape(target, output, "binary_crossentropy")
    target = _o.astype(target, output.dtype)
    if from_logits:
        return _o.sigmoid_cross_entropy(target, output)
    eps = _epsilon()
    o = _o.clip(output, eps, 1.0 - eps)
    return _o.negative(target * _o.log(o) + (1.0 - target) * _o.log(1.0 - o))


def categorical_crossentropy(target, output, from_logits=False, axis=-1) -> Tensor:
    """``-sum(t * log(o), axis)`` with ``o`` renormalised and clipped, or
    ``-sum(t * log_softmax(logits), axis)`` when ``from_logits``.

    Raises:
        ValueError: if the shapes differ.
    """
    target, output = _t(target), _t(output)
    _same_shape(target, output, "categorical_crossentropy")
    target = _o.astype(target, output.dtype)
    if from_logits:
        return _o.negative(_o.sum(target * _o.log_softmax(output, axis=axis), axis=axis))
    eps = _epsilon()
    o = _o.clip(output / _o.sum(output, axis=axis, keepdims=True), eps, 1.0 - eps)
    return _o.negative(_o.sum(target * _o.log(o), axis=axis))


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1) -> Tensor:
    """``-log(o[target])`` for integer class indices ``target`` (a trailing axis of 1 is
    dropped), from probabilities or logits.

    Raises:
        ValueError: for a label outside ``[0, num_classes)`` or a shape mismatch.
    """
    target, output = _t(target), _t(output)
    labels = np.asarray(target.data)
    if labels.ndim == output.ndim and labels.shape[axis] == 1:
        labels = np.squeeze(labels, axis)
    if axis not in (-1, output.ndim - 1):
        output = _o.moveaxis(output, axis, -1)
    if labels.shape != tuple(output.shape[:-1]):
        raise ValueError(
            f"sparse_categorical_crossentropy: `target` must have the shape of `output` without "
            f"the class axis. Received: target.shape={labels.shape}, "
            f"output.shape={tuple(output.shape)}"
        )
    onehot = _o.one_hot(labels.astype(np.int64), output.shape[-1], dtype=output.dtype)
    return categorical_crossentropy(onehot, output, from_logits=from_logits)


def ctc_loss(target, output, target_length, output_length, mask_index=0) -> Tensor:
    """CTC loss per sample from logits, ``(batch_size,)`` float32 (Graves et al. 2006); the
    arguments, shapes and errors are those of ``keras.losses._ctc_op.ctc_loss``.

    Matches Keras 3 ``keras/src/ops/nn.py:ctc_loss``.
    """
    from .losses._ctc_op import ctc_loss as op  # noqa: PLC0415 - losses import this module

    return op(target, output, target_length, output_length, mask_index)
