"""Reductions over ``axis`` (an int, a tuple of ints, or None for all) with ``keepdims``.

max/min split the gradient evenly among tied elements; ``norm`` at the zero vector has
gradient 0; ``var``/``std`` use ``ddof=0`` by default (NumPy and Keras; PyTorch defaults to 1).
"""

from __future__ import annotations

import builtins

from ..autodiff.primitive import defvjp, nondifferentiable, primitive
from ..backend import np
from .elementwise import abs as _abs

__all__ = ["sum", "mean", "max", "min", "prod", "var", "std", "logsumexp", "norm", "argmax",
           "argmin"]  # fmt: skip


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    return tuple(int(a) % ndim if ndim else 0 for a in axis)


def _keep(g, x, axis, keepdims):
    """Reshape a reduced gradient so it broadcasts against ``x``."""
    if keepdims or x.ndim == 0:
        return g
    shape = list(x.shape)
    for a in _axes(axis, x.ndim):
        shape[a] = 1
    return np.reshape(g, shape)  # cheaper than np.expand_dims on the training hot path


def _count(x, axis):
    n = 1
    for a in _axes(axis, x.ndim):
        n *= x.shape[a]
    return n


@primitive(nargs=1)
def sum(x, axis=None, keepdims=False):  # noqa: A001 - NumPy's name
    """Sum over ``axis``."""
    return np.sum(x, axis=axis, keepdims=keepdims)


def _expand(g, x):
    """``g`` broadcast to ``x``'s shape as a new array (cheaper than ``np.broadcast_to``)."""
    res = np.empty_like(x, dtype=g.dtype)  # dispatches: a CuPy x gives a CuPy result
    res[...] = g
    return res


defvjp(sum, lambda g, out, x, axis=None, keepdims=False: _expand(_keep(g, x, axis, keepdims), x))


@primitive(nargs=1)
def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over ``axis`` (NaN for an empty reduction, as NumPy)."""
    if x.size == 0 or _count(x, axis) == 0:
        # the sum's own shape, module and dtype: CuPy's full_like reads shape=() as "not given"
        return np.full_like(np.sum(x, axis=axis, keepdims=keepdims), np.nan)
    if x.dtype.kind != "f":
        return np.mean(x, axis=axis, keepdims=keepdims)
    # NOTE: what np.mean does for floats (a sum, then a division in x's dtype) without its
    # ~10 us of Python-level argument handling; losses call this on every training step.
    out = np.add.reduce(x, axis=axis, keepdims=keepdims) / _count(x, axis)
    return out.astype(x.dtype, copy=False)  # a NumPy scalar for a 0-d result: primitive wraps it


def _mean_vjp(g, out, x, axis=None, keepdims=False):
    n = _count(x, axis)
    return _expand(_keep(g, x, axis, keepdims) / builtins.max(n, 1), x)


defvjp(mean, _mean_vjp)


def _extreme_vjp(g, out, x, axis=None, keepdims=False):
    o = _keep(out, x, axis, keepdims)
    mask = (x == o).astype(g.dtype)
    # NOTE: ties share the gradient evenly (torch.amax convention).
    return mask * _keep(g, x, axis, keepdims) / np.sum(mask, axis=axis, keepdims=True)


@primitive(nargs=1)
def max(x, axis=None, keepdims=False):  # noqa: A001
    """Maximum over ``axis``; tied maxima share the gradient evenly."""
    return np.max(x, axis=axis, keepdims=keepdims)


defvjp(max, _extreme_vjp)


@primitive(nargs=1)
def min(x, axis=None, keepdims=False):  # noqa: A001
    """Minimum over ``axis``; tied minima share the gradient evenly."""
    return np.min(x, axis=axis, keepdims=keepdims)


defvjp(min, _extreme_vjp)


@primitive(nargs=1)
def prod(x, axis=None, keepdims=False):
    """Product over ``axis``. The gradient is the product of the other elements, computed
    without division, so it is exact with zeros, infinities and NaNs present."""
    return np.prod(x, axis=axis, keepdims=keepdims)


def _prod_vjp(g, out, x, axis=None, keepdims=False):
    # NOTE: d/dx_i = (product before i) * (product after i) along the reduced elements, from
    # two exclusive cumulative products (TensorFlow's method). Dividing out by x_i is wrong at
    # zeros, and masking zeros turned a NaN or inf among the others into 0.
    if x.size == 0 or x.ndim == 0:
        return np.broadcast_to(_keep(g, x, axis, keepdims), x.shape).astype(g.dtype)
    red = _axes(axis, x.ndim)
    kept = [a for a in range(x.ndim) if a not in red]
    perm = kept + list(red)
    xt = np.transpose(x, perm)
    flat = xt.reshape(xt.shape[: len(kept)] + (-1,))
    ones = np.ones_like(x, shape=flat.shape[:-1] + (1,))
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    d = np.transpose((before * after).reshape(xt.shape), np.argsort(perm))
    return d * _keep(g, x, axis, keepdims)


defvjp(prod, _prod_vjp)


@primitive(nargs=1)
def var(x, axis=None, keepdims=False, ddof=0):
    """Variance ``mean((x - mean(x))**2)`` over ``axis`` with ``ddof`` (default 0)."""
    if x.size == 0:  # NaN for an empty reduction, as mean, without NumPy's warnings
        return mean.op.fn(x, axis=axis, keepdims=keepdims)
    return np.var(x, axis=axis, keepdims=keepdims, ddof=ddof).astype(x.dtype, copy=False)


def _var_vjp(g, out, x, axis=None, keepdims=False, ddof=0):
    if x.size == 0:
        return np.zeros_like(x, dtype=g.dtype)
    n = _count(x, axis)
    c = x - np.mean(x, axis=axis, keepdims=True)
    return _keep(g, x, axis, keepdims) * c * (2.0 / builtins.max(n - ddof, 1))


defvjp(var, _var_vjp)


@primitive(nargs=1)
def std(x, axis=None, keepdims=False, ddof=0):
    """Standard deviation ``sqrt(var(x))`` over ``axis`` (``ddof`` default 0).

    Where the variance is 0 (a size-1 axis, equal values) the gradient is 0, as in torch.std.
    """
    return np.sqrt(var.op.fn(x, axis=axis, keepdims=keepdims, ddof=ddof))


def _std_vjp(g, out, x, axis=None, keepdims=False, ddof=0):
    if x.size == 0:
        return np.zeros_like(x, dtype=g.dtype)
    o = _keep(out, x, axis, keepdims)
    # NOTE: sqrt is not differentiable at 0: chaining var's gradient through sqrt gives 0 * inf
    # = NaN there; we return the subgradient 0 instead.
    safe = np.where(o == 0, 1, o)
    c = x - np.mean(x, axis=axis, keepdims=True)
    d = c / (builtins.max(_count(x, axis) - ddof, 1) * safe)
    return _keep(g, x, axis, keepdims) * np.where(o == 0, 0, d)


defvjp(std, _std_vjp)


@primitive(nargs=1)
def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x), axis))`` with the maximum subtracted first (finite for +-1000).

    An empty reduction gives ``log(0) = -inf``, as PyTorch and Keras.
    """
    if x.size == 0:  # np.max has no identity for an empty axis
        return np.full_like(np.sum(x, axis=axis, keepdims=keepdims), -np.inf)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=_axes(axis, x.ndim))


def _logsumexp_vjp(g, out, x, axis=None, keepdims=False):
    # NOTE: the gradient is softmax(x), computed from x - max(x); exp(x - out) would lose the
    # digits of out that float32 cannot hold next to a large max (1e-4 relative at 1000).
    if x.size == 0:
        return np.zeros_like(x, dtype=g.dtype)
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - np.where(np.isfinite(m), m, 0))
    return _keep(g, x, axis, keepdims) * (e / np.sum(e, axis=axis, keepdims=True))


defvjp(logsumexp, _logsumexp_vjp)


@primitive(nargs=1)
def _l2norm(x, axis=None, keepdims=False):
    return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))


def _l2norm_vjp(g, out, x, axis=None, keepdims=False):
    o = _keep(out, x, axis, keepdims)
    # NOTE: the norm is not differentiable at 0; we return the subgradient 0 there.
    safe = np.where(o == 0, 1, o)
    return _keep(g, x, axis, keepdims) * np.where(o == 0, 0, x / safe)


defvjp(_l2norm, _l2norm_vjp)


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002 - NumPy's name
    """Vector norm over ``axis``: ``ord`` None/2/'fro' (Euclidean), 1, or ``inf``.

    The Euclidean norm of the zero vector has gradient 0.

    Raises:
        ValueError: for another ``ord``.
    """
    if ord in (None, 2, "fro", "euclidean"):
        return _l2norm(x, axis=axis, keepdims=keepdims)
    if ord == 1:
        return sum(_abs(x), axis=axis, keepdims=keepdims)
    if ord in (np.inf, "inf"):
        return max(_abs(x), axis=axis, keepdims=keepdims)
    raise ValueError(f"norm supports ord in (None, 1, 2, 'fro', inf), received ord={ord!r}")


@nondifferentiable(nargs=1)
def argmax(x, axis=None, keepdims=False):
    """Index of the maximum along ``axis`` (not differentiable)."""
    return np.argmax(x, axis=axis, keepdims=keepdims)


@nondifferentiable(nargs=1)
def argmin(x, axis=None, keepdims=False):
    """Index of the minimum along ``axis`` (not differentiable)."""
    return np.argmin(x, axis=axis, keepdims=keepdims)
