"""``keras.activations``: activation functions on chainrule Tensors, built from ``chainrule.ops``.

Each function takes a Tensor, NumPy array or number and returns a Tensor (``linear`` returns
its input unchanged), differentiable through chainrule's autodiff. Names, arguments, defaults
and formulas match Keras 3 ``keras/src/activations/activations.py``; the subgradients at kinks
match Keras on the torch backend (for example relu'(0) = 0, relu6'(6) = 0).

Every activation except ``exponential`` (which overflows to inf, as ``exp`` does in Keras) is
finite in value and gradient for float32 inputs of +-1000.

>>> from chainrule.keras import activations
>>> activations.get("relu")([-1.0, 0.0, 2.0]).numpy()
array([0., 0., 2.], dtype=float32)
"""

from __future__ import annotations

import numbers
import types

from .. import ops
from ..autodiff.tensor import Tensor, as_array
from ..backend import floatx, np
from ._serialization import get_object, lookup_table, serialize_object, unknown_identifier

__all__ = [
    "relu", "leaky_relu", "relu6", "softmax", "log_softmax", "celu", "elu", "selu",
    "softplus", "softsign", "squareplus", "soft_shrink", "sparse_plus", "silu", "swish",
    "gelu", "glu", "tanh", "tanh_shrink", "threshold", "sigmoid", "sparse_sigmoid",
    "log_sigmoid", "exponential", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh",
    "hard_shrink", "linear", "mish", "sparsemax", "get", "serialize", "deserialize",
]  # fmt: skip


def _tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(as_array(x))


def _real(value, name: str, allow_none: bool = False, non_negative: bool = False):
    if value is None and allow_none:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not np.isfinite(value)
        or (non_negative and value < 0)
    ):
        kind = "a non-negative" if non_negative else "a finite"
        extra = " or None" if allow_none else ""
        raise ValueError(f"{name} must be {kind} number{extra}, received {name}={value!r}")
    return value


# -- rectifiers -----------------------------------------------------------------------------


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0) -> Tensor:
    """Rectified linear unit with optional leak, ceiling and threshold.

    ``f(x) = min(x, max_value)`` for ``x > threshold`` (``x`` if no ``max_value``), else
    ``negative_slope * (x - threshold)``. With the defaults: ``max(x, 0)``.

    Args:
        x: input of any shape; the output has the same shape.
        negative_slope: slope below the threshold (default 0.0).
        max_value: saturation ceiling, or None (default) for none; must be >= 0.
        threshold: the value below which the unit is off (default 0.0).

    Gradient: 0 at ``x == threshold``; at ``x == max_value`` 1 (0 when ``max_value == 6``,
    which uses relu6), as Keras on torch.

    Raises:
        ValueError: naming the argument if one is not a finite number (``max_value`` negative).

    Matches Keras 3 ``keras/src/activations/activations.py`` ``relu``.
    """
    negative_slope = _real(negative_slope, "negative_slope")
    max_value = _real(max_value, "max_value", allow_none=True, non_negative=True)
    threshold = _real(threshold, "threshold")
    x = _tensor(x)
    if negative_slope != 0 and max_value is None and threshold == 0:
        return ops.leaky_relu(x, negative_slope)
    if threshold != 0:
        # where() rather than a shifted relu: Keras keeps x itself above the threshold.
        out = ops.where(x > threshold, x, 0.0)
    elif max_value == 6:
        out = relu6(x)
    else:
        out = ops.relu(x)
    if max_value is not None and not (threshold == 0 and max_value == 6):
        out = ops.clip(out, 0.0, float(max_value))
    if negative_slope != 0:
        out = out - negative_slope * ops.relu(threshold - x)
    return out


def leaky_relu(x, negative_slope=0.2) -> Tensor:
    """``x if x > 0 else negative_slope * x`` (gradient ``negative_slope`` at 0).

    Args:
        x: input of any shape; same output shape.
        negative_slope: default 0.2 (Keras's default; PyTorch's is 0.01).

    Matches Keras 3 ``keras/src/activations/activations.py`` ``leaky_relu``.
    """
    return ops.leaky_relu(x, _real(negative_slope, "negative_slope"))


def relu6(x) -> Tensor:
    """``min(max(x, 0), 6)``; the gradient is 0 at 0 and at 6 (as torch ``relu6``).

    Matches Keras 3 ``keras/src/activations/activations.py`` ``relu6``.
    """
    x = _tensor(x)
    return ops.where(x < 6.0, ops.relu(x), 6.0)


def elu(x, alpha=1.0) -> Tensor:
    """``x if x > 0 else alpha * (exp(x) - 1)`` (Clevert et al. 2015).

    Args: ``alpha`` (default 1.0). Matches Keras 3 ``activations.elu``.
    """
    return ops.elu(x, _real(alpha, "alpha"))


def selu(x) -> Tensor:
    """``scale * elu(x, alpha)``, alpha = 1.67326324, scale = 1.05070098 (Klambauer et al.
    2017). Matches Keras 3 ``activations.selu``."""
    return ops.selu(x)


def celu(x, alpha=1.0) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))`` (Barron 2017).

    Args: ``alpha`` (default 1.0, must be non-zero).

    Raises:
        ValueError: if ``alpha`` is 0 or not a finite number.

    Matches Keras 3 ``activations.celu``.
    """
    alpha = _real(alpha, "alpha")
    if alpha == 0:
        raise ValueError("alpha must be non-zero for celu, received alpha=0")
    return alpha * ops.elu(ops.divide(x, float(alpha)), 1.0)


def gelu(x, approximate=False) -> Tensor:
    """Gaussian error linear unit (Hendrycks & Gimpel 2016).

    ``approximate=False`` (the default, as in Keras 3.15 ``activations.gelu``):
    ``0.5 * x * (1 + erf(x / sqrt(2)))``; ``approximate=True``:
    ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))``.
    """
    return ops.gelu(x, approximate=bool(approximate))


def silu(x) -> Tensor:
    """``x * sigmoid(x)`` (Ramachandran et al. 2017). Alias ``swish``. Matches Keras 3
    ``activations.silu``."""
    return ops.silu(x)


swish = silu


def hard_silu(x) -> Tensor:
    """``x * hard_sigmoid(x) = x * clip(x / 6 + 0.5, 0, 1)``; alias ``hard_swish``.

    Gradient 0 at ``x <= -3`` and 1 at ``x >= 3`` (as torch ``hardswish``). Howard et al. 2019;
    matches Keras 3 ``activations.hard_silu``.
    """
    x = _tensor(x)
    return x * ops.hard_sigmoid(x)


hard_swish = hard_silu


def mish(x) -> Tensor:
    """``x * tanh(softplus(x))`` (Misra 2019). Matches Keras 3 ``activations.mish``."""
    x = _tensor(x)
    return x * ops.tanh(ops.softplus(x))


def squareplus(x, b=4) -> Tensor:
    """``(x + sqrt(x**2 + b)) / 2`` (So & Le 2021).

    Args: ``b`` (default 4, must be >= 0).

    Raises:
        ValueError: if ``b`` is negative or not a finite number.

    Matches Keras 3 ``activations.squareplus`` (same formula, so the same float32 rounding).
    """
    b = _real(b, "b", non_negative=True)
    x = _tensor(x)
    return (x + ops.sqrt(ops.square(x) + float(b))) / 2.0


def sparse_plus(x) -> Tensor:
    """``0`` for ``x <= -1``, ``(x + 1)**2 / 4`` for ``-1 < x < 1``, ``x`` for ``x >= 1``.

    Matches Keras 3 ``activations.sparse_plus``.
    """
    x = _tensor(x)
    return ops.where(x <= -1.0, 0.0, ops.where(x < 1.0, 0.25 * ops.square(x + 1.0), x))


# -- sigmoids and squashers -----------------------------------------------------------------


def sigmoid(x) -> Tensor:
    """``1 / (1 + exp(-x))``, without overflow. Matches Keras 3 ``activations.sigmoid``."""
    return ops.sigmoid(x)


def hard_sigmoid(x) -> Tensor:
    """``clip(x / 6 + 0.5, 0, 1)``; gradient 1/6 strictly inside (-3, 3), else 0.

    Matches Keras 3 ``activations.hard_sigmoid``.
    """
    return ops.hard_sigmoid(x)


def sparse_sigmoid(x) -> Tensor:
    """``0`` for ``x <= -1``, ``(x + 1) / 2`` for ``-1 < x < 1``, ``1`` for ``x >= 1``.

    Matches Keras 3 ``activations.sparse_sigmoid``.
    """
    x = _tensor(x)
    return ops.where(x <= -1.0, 0.0, ops.where(x >= 1.0, 1.0, 0.5 * (x + 1.0)))


def log_sigmoid(x) -> Tensor:
    """``log(sigmoid(x)) = -softplus(-x)``, finite for large ``|x|``. Matches Keras 3
    ``activations.log_sigmoid``."""
    return ops.negative(ops.softplus(ops.negative(x)))


def tanh(x) -> Tensor:
    """Hyperbolic tangent. Matches Keras 3 ``activations.tanh``."""
    return ops.tanh(x)


def hard_tanh(x) -> Tensor:
    """``clip(x, -1, 1)``; the gradient is 0 at -1 and 1 (as torch ``hardtanh``).

    Matches Keras 3 ``activations.hard_tanh``.
    """
    x = _tensor(x)
    return ops.where(x <= -1.0, -1.0, ops.where(x >= 1.0, 1.0, x))


def tanh_shrink(x) -> Tensor:
    """``x - tanh(x)``. Matches Keras 3 ``activations.tanh_shrink``."""
    x = _tensor(x)
    return x - ops.tanh(x)


def softsign(x) -> Tensor:
    """``x / (1 + |x|)``. Matches Keras 3 ``activations.softsign``."""
    return ops.softsign(x)


def softplus(x) -> Tensor:
    """``log(1 + exp(x))``, without overflow. Matches Keras 3 ``activations.softplus``."""
    return ops.softplus(x)


def soft_shrink(x, threshold=0.5) -> Tensor:
    """``x - threshold`` above ``threshold``, ``x + threshold`` below ``-threshold``, else 0.

    Args: ``threshold`` (default 0.5). Matches Keras 3 ``activations.soft_shrink``.
    """
    t = float(_real(threshold, "threshold"))
    x = _tensor(x)
    return ops.where(x > t, x - t, ops.where(x < -t, x + t, 0.0))


def hard_shrink(x, threshold=0.5) -> Tensor:
    """``x`` where ``|x| > threshold``, else 0.

    Args: ``threshold`` (default 0.5). Matches Keras 3 ``activations.hard_shrink``.
    """
    t = float(_real(threshold, "threshold"))
    x = _tensor(x)
    return ops.where(ops.abs(x) > t, x, 0.0)


def threshold(x, threshold, default_value) -> Tensor:
    """``x`` where ``x > threshold``, else ``default_value``.

    Args: ``threshold`` and ``default_value`` (required numbers). Matches Keras 3
    ``activations.threshold``.
    """
    t = float(_real(threshold, "threshold"))
    v = float(_real(default_value, "default_value"))
    x = _tensor(x)
    return ops.where(x > t, x, v)


def exponential(x) -> Tensor:
    """``exp(x)``; overflows to inf in float32 above about 88.7, as in Keras. Matches Keras 3
    ``activations.exponential``."""
    return ops.exp(x)


def linear(x):
    """The identity: returns ``x`` unchanged. Matches Keras 3 ``activations.linear``."""
    return x


# -- over an axis ---------------------------------------------------------------------------


def softmax(x, axis=-1) -> Tensor:
    """``exp(x) / sum(exp(x), axis)``, computed with the maximum subtracted (finite for
    +-1000: ``softmax([[1000., 0., -1000.]]) == [[1., 0., 0.]]``).

    Args: ``axis`` (default -1; an int or a tuple of ints). Output shape = input shape.

    Matches Keras 3 ``activations.softmax``.
    """
    return ops.softmax(x, axis=axis)


def log_softmax(x, axis=-1) -> Tensor:
    """``x - logsumexp(x, axis)``. Args: ``axis`` (default -1). Matches Keras 3
    ``activations.log_softmax``."""
    return ops.log_softmax(x, axis=axis)


def glu(x, axis=-1) -> Tensor:
    """Gated linear unit: split ``x`` in halves ``a, b`` along ``axis``; ``a * sigmoid(b)``.

    Args: ``axis`` (default -1). Shape: ``(..., 2n, ...) -> (..., n, ...)``.

    Raises:
        ValueError: if the size of ``axis`` is odd. Dauphin et al. 2017; matches Keras 3
        ``activations.glu``.
    """
    x = _tensor(x)
    if not isinstance(axis, numbers.Integral) or not -x.ndim <= axis < x.ndim:
        raise ValueError(
            f"axis must be an integer in [-{x.ndim}, {x.ndim}) for an input of shape {x.shape}, "
            f"received axis={axis!r}"
        )
    ax = int(axis) % x.ndim
    size = x.shape[ax]
    if size % 2:
        raise ValueError(f"glu needs an even size along axis={axis}, received shape {x.shape}")
    head = (slice(None),) * ax
    a = x[(*head, slice(0, size // 2))]
    b = x[(*head, slice(size // 2, size))]
    return a * ops.sigmoid(b)


def sparsemax(x, axis=-1) -> Tensor:
    """Sparsemax (Martins & Astudillo 2016): the Euclidean projection onto the simplex.

    ``out = max(x - tau, 0)`` with ``tau = (sum_{i in S} x_i - 1) / |S|`` and ``S`` the
    largest ``k`` entries such that ``x_(k) > (sum_{j<=k} x_(j) - 1) / k``; outputs sum to 1.
    The gradient is the paper's Jacobian ``diag(s) - s s^T / |S|`` (``s`` = support mask).

    Args: ``axis`` (default -1). Output shape = input shape.

    Note: Keras 3.15.1's backends sum the cumulative sums of the whole support when computing
    ``tau``; that agrees with the paper only when the support has one element. We follow the
    paper.
    """
    x = _tensor(x)
    if x.dtype.kind != "f":
        x = ops.astype(x, np.dtype(floatx()))
    data = x.data
    ordered = -np.sort(-data, axis=axis)
    cums = np.cumsum(ordered, axis=axis)
    shape = [1] * data.ndim
    shape[axis] = -1
    r = np.arange(1, data.shape[axis] + 1, dtype=data.dtype).reshape(shape)
    k = np.sum(ordered - (cums - 1) / r > 0, axis=axis, keepdims=True)
    tau = (np.take_along_axis(cums, k - 1, axis=axis) - 1) / k
    mask = data > tau  # the support, fixed (not differentiated)
    count = np.sum(mask, axis=axis, keepdims=True).astype(data.dtype)
    tau_t = (ops.sum(ops.where(mask, x, 0.0), axis=axis, keepdims=True) - 1.0) / count
    return ops.where(mask, x - tau_t, 0.0)


# -- names, get, serialize, deserialize -----------------------------------------------------

_FUNCTIONS = (
    relu, leaky_relu, relu6, softmax, celu, elu, selu, softplus, softsign, squareplus,
    soft_shrink, sparse_plus, silu, gelu, glu, tanh, tanh_shrink, threshold, sigmoid,
    sparse_sigmoid, exponential, hard_sigmoid, hard_silu, hard_tanh, hard_shrink, linear, mish,
    log_softmax, log_sigmoid, sparsemax,
)  # fmt: skip
ALL_OBJECTS_DICT = {fn.__name__: fn for fn in _FUNCTIONS}
ALL_OBJECTS_DICT["swish"] = silu
ALL_OBJECTS_DICT["hard_swish"] = hard_silu
_NAME_OF = {id(fn): fn.__name__ for fn in _FUNCTIONS}

# NOTE: for fit's array step (trainers/array_step.py). Each of these activations, called with
# its defaults, is one primitive of chainrule.ops applied to its input: the primitive's name
# and the keyword arguments the activation passes it, by id of the function. Layers' array
# forms (Dense, Activation) apply the primitive in the activation's place; an activation
# whose body changes must change here too.
ARRAY_OPS = {id(fn): (name, kwargs) for fn, name, kwargs in (
    (relu, "relu", {}), (sigmoid, "sigmoid", {}), (tanh, "tanh", {}), (softsign, "softsign", {}),
    (softplus, "softplus", {}), (hard_sigmoid, "hard_sigmoid", {}), (silu, "silu", {}),
    (selu, "selu", {}), (softmax, "softmax", {"axis": -1}),
    (log_softmax, "log_softmax", {"axis": -1}),
)}  # fmt: skip


def serialize(activation):
    """The Keras name of a built-in activation (``serialize(swish) == "silu"``), or the config
    dict of an activation object that has ``get_config``.

    Raises:
        ValueError: for a function that is not a built-in activation.
    """
    name = _NAME_OF.get(id(activation))
    if name is not None:
        return name
    if hasattr(activation, "get_config") and not isinstance(activation, types.FunctionType):
        return serialize_object(activation, type(activation).__module__)
    from .saving.object_registration import (  # noqa: PLC0415
        get_registered_name,
        get_registered_object,
    )

    registered = get_registered_name(activation) if callable(activation) else ""
    # registered with keras.saving.register_keras_serializable ("<lambda>" also has a ">")
    if ">" in registered and get_registered_object(registered) is activation:
        return {"module": activation.__module__, "class_name": "function",
                "config": registered, "registered_name": registered}  # fmt: skip
    raise ValueError(
        f"Unknown activation function {activation!r} cannot be serialized: expected one of "
        f"{', '.join(sorted(ALL_OBJECTS_DICT))}"
    )


def deserialize(config, custom_objects: dict | None = None):
    """The activation named by ``config``: a name, or a Keras function config dict
    (``{"class_name": "function", "config": "relu", ...}``).

    Raises:
        ValueError: listing the valid names if the name is unknown.
    """
    lookup = lookup_table(ALL_OBJECTS_DICT, custom_objects)
    name = config
    if isinstance(config, dict):
        name = config.get("config") if config.get("class_name") == "function" else None
        name = name if name is not None else config.get("class_name")
    if isinstance(name, str) and name in lookup:
        return lookup[name]
    raise unknown_identifier("activation function", config, ALL_OBJECTS_DICT)


def get(identifier):
    """An activation from a name ("relu", "swish", ...), a config dict or a callable; ``None``
    gives ``linear``.

    Raises:
        ValueError: listing the valid names if ``identifier`` cannot be interpreted.

    Matches Keras 3 ``keras/src/activations/__init__.py`` ``get``.
    """
    if identifier is None:
        return linear
    # A class is returned as it is (it is callable), not instantiated as in the other families.
    return get_object(identifier, deserialize, "activation function", ALL_OBJECTS_DICT,
                      instantiate_classes=False)  # fmt: skip
