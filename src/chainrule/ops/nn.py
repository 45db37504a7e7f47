"""Neural-network ops: activations, softmax, fused cross-entropies and ``dense``.

Fused primitives here exist for numerics or measured speed, each with a ``NOTE`` saying why.
Every activation is finite (value and gradient) for float32 inputs of +-1000.
"""

from __future__ import annotations

import math

from ..autodiff.primitive import defvjp, defvjp_all, nondifferentiable, primitive
from ..backend import asarray_like, np
from ..backend import erf as _erf

__all__ = [
    "relu", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "softplus", "silu", "softsign",
    "hard_sigmoid", "softmax", "log_softmax", "one_hot", "dense", "sigmoid_cross_entropy",
    "softmax_cross_entropy", "sparse_softmax_cross_entropy",
]  # fmt: skip

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


@primitive
def relu(x):
    """``max(x, 0)``. relu'(0) = 0 (the PyTorch and TensorFlow convention)."""
    return np.maximum(x, 0)


defvjp(relu, lambda g, out, x: g * (x > 0))


@primitive(nargs=1)
def leaky_relu(x, negative_slope=0.01):
    """``x if x > 0 else negative_slope * x``. Default slope 0.01 (PyTorch; Keras's
    ``activations.leaky_relu`` passes 0.2). The gradient at 0 is ``negative_slope``."""
    return np.where(x > 0, x, x * negative_slope).astype(x.dtype, copy=False)


defvjp(
    leaky_relu,
    lambda g, out, x, negative_slope=0.01: np.where(x > 0, g, g * negative_slope).astype(g.dtype),
)


def _elu_fwd(x, alpha):
    # NOTE: expm1 of the clamped value avoids overflow warnings on the unused branch.
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype, copy=False)


@primitive(nargs=1)
def elu(x, alpha=1.0):
    """``x if x > 0 else alpha * (exp(x) - 1)`` (Clevert et al. 2015)."""
    return _elu_fwd(x, alpha)


# NOTE: alpha * exp(x) rather than out + alpha: the sum loses all precision for x << 0.
defvjp(
    elu,
    lambda g, out, x, alpha=1.0: np.where(x > 0, g, g * alpha * np.exp(np.minimum(x, 0))).astype(
        g.dtype
    ),
)


@primitive
def selu(x):
    """``scale * elu(x, alpha)`` with the constants of Klambauer et al. 2017."""
    return (_SELU_SCALE * _elu_fwd(x, _SELU_ALPHA)).astype(x.dtype, copy=False)


defvjp(
    selu,
    lambda g, out, x: np.where(
        x > 0, g * _SELU_SCALE, g * (_SELU_SCALE * _SELU_ALPHA) * np.exp(np.minimum(x, 0))
    ).astype(g.dtype),
)

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


@primitive(nargs=1)
def gelu(x, approximate=False):
    """Gaussian error linear unit (Hendrycks & Gimpel 2016).

    ``approximate=False``: ``0.5 * x * (1 + erf(x / sqrt(2)))`` (PyTorch's default).
    ``approximate=True``: ``0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x**3)))`` (the default
    of ``keras.ops.gelu``; ``keras.activations.gelu`` defaults to the exact form).
    """
    if approximate:
        return 0.5 * x * (1 + np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def _gelu_vjp(g, out, x, approximate=False):
    if approximate:
        t = np.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3))
        d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
    else:
        cdf = 0.5 * (1 + _erf(x / math.sqrt(2)))
        d = cdf + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return g * d


defvjp(gelu, _gelu_vjp)


def _sigmoid(x):
    # NOTE: exp(-|x|) never overflows; both branches then stay in [0, 1].
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(e.dtype, copy=False)


@primitive
def sigmoid(x):
    """``1 / (1 + exp(-x))``, computed without overflow."""
    return _sigmoid(x)


defvjp(sigmoid, lambda g, out, x: g * out * (1 - out))


@primitive
def softplus(x):
    """``log(1 + exp(x))`` computed as ``max(x, 0) + log1p(exp(-|x|))`` (no overflow)."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


defvjp(softplus, lambda g, out, x: g * _sigmoid(x))


@primitive
def silu(x):
    """``x * sigmoid(x)`` (swish; Ramachandran et al. 2017)."""
    return x * _sigmoid(x)


def _silu_vjp(g, out, x):
    s = _sigmoid(x)
    return g * s * (1 + x * (1 - s))


defvjp(silu, _silu_vjp)


@primitive
def softsign(x):
    """``x / (1 + |x|)``."""
    return x / (1 + np.abs(x))


defvjp(softsign, lambda g, out, x: g / (1 + np.abs(x)) ** 2)


@primitive
def hard_sigmoid(x):
    """``clip(x / 6 + 0.5, 0, 1)`` (matches Keras 3 ``activations.hard_sigmoid``)."""
    return np.clip(x / 6 + 0.5, 0, 1).astype(x.dtype, copy=False)


defvjp(hard_sigmoid, lambda g, out, x: g * ((x > -3) & (x < 3)) / 6)


def _shifted(x, axis):
    """``(z, log(sum(exp(z))))`` with ``z = x - max(x, axis)``.

    NOTE: callers form ``x - logsumexp(x)`` as ``z - log(sum(exp(z)))``. Subtracting the full
    logsumexp from ``x`` cancels catastrophically for large logits: in float32 at 1e8 the
    ``log(2)`` is below one ulp and log_softmax([1e8, 1e8]) came out as [0, 0].
    """
    if x.size == 0:  # an empty sum is 0: log(0) = -inf (np.max has no identity here)
        # the sum's own shape, module and dtype: CuPy's full_like reads shape=() as "not given"
        return x, np.full_like(np.sum(x, axis=axis, keepdims=True), -np.inf)
    m = np.max(x, axis=axis, keepdims=True)
    if not np.isfinite(m).all():  # an all -inf (or inf/nan) row: do not shift it by inf
        m = np.where(np.isfinite(m), m, 0)
    z = x - m
    return z, np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def _softmax_of(x, axis):
    z, ls = _shifted(x, axis)
    return np.exp(z - ls)


@primitive(nargs=1)
def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x), axis)``, computed with the maximum subtracted (no overflow)."""
    if x.size == 0:  # np.max has no identity along an empty axis
        return x.copy()
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


defvjp(softmax, lambda g, out, x, axis=-1: out * (g - np.sum(g * out, axis=axis, keepdims=True)))


@primitive(nargs=1)
def log_softmax(x, axis=-1):
    """``x - logsumexp(x, axis)``; finite for inputs of +-1000 in float32."""
    z, ls = _shifted(x, axis)
    return z - ls


defvjp(
    log_softmax,
    lambda g, out, x, axis=-1: g - np.exp(out) * np.sum(g, axis=axis, keepdims=True),
)


@nondifferentiable(nargs=1)
def one_hot(indices, num_classes, dtype="float32"):
    """``(..., ) int -> (..., num_classes)`` one-hot array.

    Raises:
        ValueError: if an index is outside ``[0, num_classes)`` (naming it), or ``indices``
            is not integer.
    """
    idx = indices if hasattr(indices, "dtype") else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        if idx.dtype.kind == "f" and np.all(np.mod(idx, 1) == 0):
            idx = idx.astype(np.int64)
        else:
            raise ValueError(f"one_hot needs integer class indices, received dtype {idx.dtype}")
    if idx.size:
        lo, hi = idx.min(), idx.max()
        if lo < 0 or hi >= num_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"label {bad} is out of range: expected class indices in [0, {num_classes})"
            )
    classes = asarray_like(np.arange(num_classes), idx)  # CuPy indices: compare on the device
    return (idx[..., None] == classes).astype(dtype)


# NOTE: fused for speed: one node instead of matmul + add (+ relu), the bias and the relu
# applied in place on the fresh matmul result, and one gradient rule for all three inputs so
# the relu mask is applied to g once.
@primitive(nargs=3)
def dense(x, kernel, bias, activation=None):
    """``x @ kernel + bias``, then ``relu`` when ``activation="relu"``.

    Shapes: ``(..., in) x (in, units) + (units,) -> (..., units)`` (any bias that broadcasts
    to the result works). ``activation``: None (default) or ``"relu"`` (relu'(0) = 0, as
    :func:`relu`).

    Raises:
        ValueError: for another ``activation``, or a ``kernel`` that is not 2-D (the gradient
            rule is written for ``(in, units)``; use :func:`matmul` for other ranks).
    """
    if activation not in (None, "relu"):
        raise ValueError(f"activation must be None or 'relu', received {activation!r}")
    if getattr(kernel, "ndim", 0) != 2:  # (np.ndim's dispatch costs ~1 us a step)
        raise ValueError(
            f"kernel must be 2-D (in, units), received kernel.shape={np.shape(kernel)}; "
            "use matmul for other ranks"
        )
    if x.ndim > 2:
        # NOTE: one (N*T, in) x (in, units) GEMM, not N batched (T, in) products
        out = np.matmul(x.reshape(-1, x.shape[-1]), kernel).reshape(*x.shape[:-1], kernel.shape[1])
    else:
        out = np.matmul(x, kernel)
    if (type(out) is np.ndarray and type(bias) is np.ndarray and out.shape[-1:] == bias.shape
            and out.dtype == bias.dtype):  # fmt: skip
        out += bias  # NOTE: in place on the fresh product: one array, not two
    else:
        out = out + bias
    if activation == "relu":
        np.maximum(out, 0, out=out)
    return out


def _dense_vjp(needs, g, out, x, kernel, bias, activation=None):
    if activation == "relu":
        g = g * (out > 0)
    if 0 not in needs:
        gx = None
    elif g.ndim > 2:  # the kernel is 2-D (checked in the forward): one GEMM, as there
        gx = (g.reshape(-1, g.shape[-1]) @ kernel.T).reshape(*g.shape[:-1], kernel.shape[0])
    else:
        gx = g @ kernel.T
    if 1 not in needs:
        gk = None
    elif x.ndim == 2:
        gk = x.T @ g
    else:
        gk = x.reshape(-1, x.shape[-1]).T @ g.reshape(-1, g.shape[-1])
    if 2 not in needs:
        gb = None
    elif getattr(bias, "ndim", 0) == 1:  # np.add.reduce: skips ndarray.sum's wrapper
        gb = np.add.reduce(g if g.ndim == 2 else g.reshape(-1, g.shape[-1]), axis=0)
    else:
        gb = g  # a (1, units), (batch, units) or 0-d bias: the engine sums g back to its shape
    return gx, gk, gb


defvjp_all(dense, _dense_vjp)


# NOTE: fused for numerics: the gradient at logit 0 must be sigmoid(x) - z exactly (0.5 - z);
# differentiating the stable formula piece by piece gives a wrong subgradient there.
@primitive
def sigmoid_cross_entropy(labels, logits):
    """Elementwise ``-(z log sigmoid(x) + (1 - z) log(1 - sigmoid(x)))`` from logits ``x``,
    computed as ``max(x, 0) - x z + log1p(exp(-|x|))``; gradient ``sigmoid(x) - z``."""
    x, z = logits, labels
    with np.errstate(invalid="ignore"):
        out = np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))
    # +-inf logits: the formula gives inf - inf; the limit is +inf unless z matches exactly.
    inf = np.isinf(x)
    if np.any(inf):
        lim = np.where(x > 0, (1 - z) * np.inf, z * np.inf)
        lim = np.where(np.where(x > 0, z == 1, z == 0), 0, lim)
        out = np.where(inf, lim, out)
    # dtypes, not arrays: np.result_type on arrays would convert CuPy ones (it is not dispatched)
    return out.astype(np.result_type(getattr(x, "dtype", x), getattr(z, "dtype", z)), copy=False)


defvjp(
    sigmoid_cross_entropy,
    lambda g, out, z, x: -g * x,
    lambda g, out, z, x: g * (_sigmoid(x) - z),
)


# NOTE: fused for numerics and speed: logsumexp form, gradient softmax * sum(y) - y.
@primitive(nargs=2)
def softmax_cross_entropy(labels, logits, axis=-1):
    """``-sum(labels * log_softmax(logits), axis)``: ``(..., C), (..., C) -> (...)``."""
    z, ls = _shifted(logits, axis)
    return np.sum(labels * (ls - z), axis=axis)


def _sce_dlabels(g, out, y, x, axis=-1):
    z, ls = _shifted(x, axis)
    return np.expand_dims(g, axis) * (ls - z)


def _sce_dlogits(g, out, y, x, axis=-1):
    sm = _softmax_of(x, axis)
    return np.expand_dims(g, axis) * (sm * np.sum(y, axis=axis, keepdims=True) - y)


defvjp(
    softmax_cross_entropy,
    _sce_dlabels,
    _sce_dlogits,
)


def _check_labels(labels, num_classes):
    if labels.dtype.kind not in "iu":
        raise ValueError(f"sparse labels must be integers, received dtype {labels.dtype}")
    if labels.size:
        lo, hi = labels.min(), labels.max()
        if lo < 0 or hi >= num_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"label {bad} is out of range: expected class indices in [0, {num_classes})"
            )


# NOTE: fused for speed: no one-hot array is built; gradient softmax - one_hot(labels).
@primitive
def sparse_softmax_cross_entropy(labels, logits):
    """``logsumexp(logits) - logits[label]`` over the last axis: ``(...), (..., C) -> (...)``.

    Raises:
        ValueError: naming a label outside ``[0, C)``.
    """
    _check_labels(labels, logits.shape[-1])
    return _ssce_rows(labels, logits)[0]


def _ssce_rows(labels, logits):
    """``(loss, z, ls)``: the per-row losses of :func:`sparse_softmax_cross_entropy` on arrays
    (labels already checked) and the ``_shifted`` pair its gradient is made from."""
    z, ls = _shifted(logits, -1)
    # NOTE: plain fancy indexing on a 2-D view; take_along_axis costs ~5x more on small batches
    flat = labels.reshape(-1)
    picked = z.reshape(-1, z.shape[-1])[np.arange(flat.size), flat].reshape(labels.shape)
    return ls[..., 0] - picked, z, ls


def _ssce_grad(scale, labels, z, ls):
    """``scale * (softmax - one_hot(labels))`` from the forward's ``z, ls``; ``scale``
    broadcasts against the logits (``g[..., None]``, or a 0-d array)."""
    sm = np.exp(z - ls)  # what _softmax_of computes
    # NOTE: contiguous, so that the 2-D reshape below is a view we can write through (for a
    # transposed input, exp keeps its layout and reshape would silently return a copy)
    if not sm.flags.c_contiguous:  # np.ascontiguousarray would convert a CuPy array
        sm = sm.copy()
    flat = labels.reshape(-1)
    sm.reshape(-1, sm.shape[-1])[np.arange(flat.size), flat] -= 1
    return scale * sm


def _ssce_dlogits(g, out, labels, x):
    return _ssce_grad(g[..., None], labels, *_shifted(x, -1))


defvjp(sparse_softmax_cross_entropy, None, _ssce_dlogits)
