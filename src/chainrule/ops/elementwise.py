"""Elementwise ops, each primitive beside its VJP.

Subgradient conventions (documented, tested): abs'(0) = 0; maximum/minimum at a tie give half
of the gradient to each input, and with a NaN input neither gets a gradient (JAX's convention;
PyTorch gives it to both); clip passes the gradient where ``min <= x <= max`` (so none when
``min > max``, where the result is ``max`` everywhere, as NumPy and PyTorch).
"""

from __future__ import annotations

from ..autodiff.primitive import defvjp, nondifferentiable, primitive
from ..autodiff.tensor import Tensor
from ..backend import np

__all__ = [
    "add", "subtract", "multiply", "divide", "negative", "power", "exp", "log", "log1p",
    "expm1", "sqrt", "square", "abs", "sign", "sin", "cos", "tan", "tanh", "maximum", "minimum",
    "where", "clip", "astype", "equal", "not_equal", "less", "less_equal", "greater",
    "greater_equal", "logical_and", "logical_or", "logical_not", "floor", "ceil", "round",
    "isfinite", "isnan",
]  # fmt: skip


@primitive
def add(x, y):
    """``x + y`` with broadcasting."""
    return x + y


defvjp(add, lambda g, out, x, y: g, lambda g, out, x, y: g)


@primitive
def subtract(x, y):
    """``x - y`` with broadcasting."""
    return x - y


defvjp(subtract, lambda g, out, x, y: g, lambda g, out, x, y: -g)


@primitive
def multiply(x, y):
    """``x * y`` with broadcasting."""
    return x * y


defvjp(multiply, lambda g, out, x, y: g * y, lambda g, out, x, y: g * x)


@primitive
def divide(x, y):
    """``x / y`` (true division) with broadcasting."""
    return x / y


defvjp(divide, lambda g, out, x, y: g / y, lambda g, out, x, y: -g * out / y)


@primitive
def negative(x):
    """``-x``."""
    return -x


defvjp(negative, lambda g, out, x: -g)


@primitive
def power(x, y):
    """``x ** y``. d/dx is ``y * x ** (y - 1)``, and 0 where ``y == 0`` (also at ``x == 0``).

    d/dy is ``x ** y * log(x)`` where ``x > 0`` and 0 where ``x <= 0`` (TensorFlow's
    convention: ``x ** y`` is not differentiable in ``y`` there; PyTorch gives NaN for
    ``x < 0``). A NaN result (NaN input, or a negative base to a fractional power) gives NaN
    gradients.
    """
    return x**y


def _power_dx(g, out, x, y):
    if np.ndim(y) == 0 and y != 0:  # the common x ** 2: no mask needed
        return g * y * x ** (y - 1)
    # NOTE: x ** 0 is constant, so d/dx is 0; y * x ** (y - 1) would be 0 * inf = NaN at x = 0.
    zero = y == 0
    return g * np.where(zero, 0, y * x ** np.where(zero, 1, y - 1))


def _power_dy(g, out, x, y):
    # NOTE: log(x) is undefined for x <= 0; the y-gradient there is taken as 0. Masking `out`
    # too keeps 0 ** (negative) = inf from giving inf * 0 = NaN.
    nonpos = x <= 0
    d = np.where(nonpos, 0, out) * np.log(np.where(nonpos, 1, x))
    if np.any(nonpos):  # a NaN result ((-2) ** 0.5) keeps a NaN gradient
        d = np.where(nonpos & np.isnan(out), np.nan, d)
    return g * d


defvjp(power, _power_dx, _power_dy)


@primitive
def exp(x):
    """``e ** x``."""
    return np.exp(x)


defvjp(exp, lambda g, out, x: g * out)


@primitive
def log(x):
    """Natural logarithm."""
    return np.log(x)


defvjp(log, lambda g, out, x: g / x)


@primitive
def log1p(x):
    """``log(1 + x)``, accurate for small ``x``."""
    return np.log1p(x)


defvjp(log1p, lambda g, out, x: g / (1 + x))


@primitive
def expm1(x):
    """``exp(x) - 1``, accurate for small ``x``."""
    return np.expm1(x)


defvjp(expm1, lambda g, out, x: g * (out + 1))


@primitive
def sqrt(x):
    """Square root. The gradient at 0 is +inf, as in NumPy and PyTorch."""
    return np.sqrt(x)


defvjp(sqrt, lambda g, out, x: g / (2 * out))


@primitive
def square(x):
    """``x * x``."""
    return np.square(x)


defvjp(square, lambda g, out, x: g * 2 * x)


@primitive
def abs(x):  # noqa: A001 - NumPy's name
    """``|x|``. Subgradient at 0 is 0."""
    return np.abs(x)


defvjp(abs, lambda g, out, x: g * np.sign(x))


@primitive
def sign(x):
    """-1, 0 or 1; its gradient is 0 everywhere."""
    return np.sign(x)


defvjp(sign, lambda g, out, x: np.zeros_like(x))


@primitive
def sin(x):
    """Sine (radians)."""
    return np.sin(x)


defvjp(sin, lambda g, out, x: g * np.cos(x))


@primitive
def cos(x):
    """Cosine (radians)."""
    return np.cos(x)


defvjp(cos, lambda g, out, x: -g * np.sin(x))


@primitive
def tan(x):
    """Tangent (radians)."""
    return np.tan(x)


defvjp(tan, lambda g, out, x: g * (1 + out * out))


@primitive
def tanh(x):
    """Hyperbolic tangent."""
    return np.tanh(x)


defvjp(tanh, lambda g, out, x: g * (1 - out * out))


@primitive
def maximum(x, y):
    """Elementwise maximum. At a tie each input receives half the gradient."""
    return np.maximum(x, y)


defvjp(
    maximum,
    lambda g, out, x, y: g * ((x > y) + 0.5 * (x == y)).astype(g.dtype),
    lambda g, out, x, y: g * ((y > x) + 0.5 * (x == y)).astype(g.dtype),
)


@primitive
def minimum(x, y):
    """Elementwise minimum. At a tie each input receives half the gradient."""
    return np.minimum(x, y)


defvjp(
    minimum,
    lambda g, out, x, y: g * ((x < y) + 0.5 * (x == y)).astype(g.dtype),
    lambda g, out, x, y: g * ((y < x) + 0.5 * (x == y)).astype(g.dtype),
)


@primitive
def where(condition, x, y):
    """``x`` where ``condition`` is true, else ``y`` (all broadcast together).

    The branch not taken gets gradient 0. NOTE: reverse mode still runs that branch's own
    VJP with a 0 upstream gradient, and ``0 * inf`` or ``0 * nan`` is NaN: the gradient of
    ``where(x > 0, sqrt(x), 0)`` is NaN at ``x < 0`` (as in PyTorch and JAX). Make the unused
    branch safe instead: ``where(x > 0, sqrt(where(x > 0, x, 1)), 0)``.
    """
    return np.where(condition, x, y)


defvjp(
    where,
    None,
    lambda g, out, c, x, y: np.where(c, g, 0).astype(g.dtype),
    lambda g, out, c, x, y: np.where(c, 0, g).astype(g.dtype),
)


@primitive(nargs=1)
def clip(x, x_min=None, x_max=None):
    """Limit ``x`` to ``[x_min, x_max]``; the gradient passes where ``x_min <= x <= x_max``."""
    out = np.clip(x, x_min, x_max)
    return out.astype(x.dtype, copy=False) if hasattr(x, "dtype") else out


def _clip_vjp(g, out, x, x_min=None, x_max=None):
    if x_min is None and x_max is None:
        return g
    if x_max is None:
        return g * (x >= x_min)
    if x_min is None:
        return g * (x <= x_max)
    return g * ((x >= x_min) & (x <= x_max))


defvjp(clip, _clip_vjp)


def _cast(x, dtype):
    return x.astype(dtype)


_astype_float = primitive(_cast, name="astype", nargs=1)
defvjp(_astype_float, lambda g, out, x, dtype: g.astype(x.dtype))
_astype_other = nondifferentiable(_cast, name="astype", nargs=1)


def astype(x, dtype):
    """Cast to ``dtype``; the gradient is cast back to ``x``'s dtype.

    A cast to a non-float dtype (int, bool) gives a tensor that does not require grad, as in
    PyTorch: its derivative is 0 almost everywhere, and passing the gradient straight through
    would be silently wrong.
    """
    if np.dtype(dtype).kind == "f":
        return _astype_float(x, dtype)
    return _astype_other(x, dtype)


def _nondiff(name, fn):
    op = nondifferentiable(fn, name=name)
    op.__doc__ = f"Elementwise ``{name}`` (not differentiable; the result never requires grad)."
    return op


equal = _nondiff("equal", lambda x, y: np.equal(x, y))
not_equal = _nondiff("not_equal", lambda x, y: np.not_equal(x, y))
less = _nondiff("less", lambda x, y: np.less(x, y))
less_equal = _nondiff("less_equal", lambda x, y: np.less_equal(x, y))
greater = _nondiff("greater", lambda x, y: np.greater(x, y))
greater_equal = _nondiff("greater_equal", lambda x, y: np.greater_equal(x, y))
logical_and = _nondiff("logical_and", lambda x, y: np.logical_and(x, y))
logical_or = _nondiff("logical_or", lambda x, y: np.logical_or(x, y))
logical_not = _nondiff("logical_not", lambda x: np.logical_not(x))
floor = _nondiff("floor", lambda x: np.floor(x))
ceil = _nondiff("ceil", lambda x: np.ceil(x))
round = _nondiff("round", lambda x, decimals=0: np.round(x, decimals))  # noqa: A001
isfinite = _nondiff("isfinite", lambda x: np.isfinite(x))
isnan = _nondiff("isnan", lambda x: np.isnan(x))

# ``ndarray <op> tensor`` reaches Tensor.__array_ufunc__ with these ufuncs (see tensor.py)
Tensor._ufunc_ops.update({
    np.add: add, np.subtract: subtract, np.multiply: multiply, np.true_divide: divide,
    np.power: power, np.negative: negative, np.equal: equal, np.not_equal: not_equal,
    np.less: less, np.less_equal: less_equal, np.greater: greater,
    np.greater_equal: greater_equal,
})  # fmt: skip
