"""Fused primitives for the losses a training loop calls every step.

NOTE: fused for speed. Built from ops, mean squared error is 4 graph nodes, binary
cross-entropy on probabilities 10 and categorical cross-entropy 7; each node costs Python
overhead forward and backward, which dominates on small batches. Each primitive here is one
node whose VJP is the closed form of the composite's gradient, including Keras's clipping
semantics (the gradient is 0 where a probability is clipped; ``torch.clip`` passes it at the
bounds, and so do we). They could move to ``chainrule.ops.nn`` if other modules need them.
"""

from __future__ import annotations

from ...autodiff.primitive import defvjp, primitive
from ...backend import epsilon, np
from ...ops.nn import _shifted, _ssce_grad, _ssce_rows
from ...ops.reduction import mean as _mean_op


def _sum(x, axis, keepdims=False):
    return np.add.reduce(x, axis=axis, keepdims=keepdims)


def _square_rows(d):
    return _sum(d * d, -1) / max(d.shape[-1], 1)


@primitive(nargs=2)
def mse_rows(y_true, y_pred):
    """``mean(square(y_true - y_pred), axis=-1)``."""
    return _square_rows(y_pred - y_true)


def _mse_dpred(g, out, t, p):
    return (g * (2.0 / max(p.shape[-1], 1)))[..., None] * (p - t)


defvjp(mse_rows, lambda g, out, t, p: -_mse_dpred(g, out, t, p), _mse_dpred)


@primitive(nargs=2)
def mse_mean(y_true, y_pred, saved=None):
    """``mean(mse_rows(y_true, y_pred))``, the "sum_over_batch_size" loss, as one node.

    The same float32 operations in the same order as ``mse_rows`` then ``ops.mean``, so the
    value and gradient equal the two-node form's bit for bit. ``saved``: an optional empty
    list that receives ``y_pred - y_true`` for the gradient (kept by the graph node).
    """
    d = y_pred - y_true
    if saved is not None:
        saved.append(d)
    if d.shape[-1] == 1:
        # NOTE: a mean over rows of one element is that element (a sum over one term, a
        # division by 1): the same numbers with two fewer NumPy calls, which is what a
        # one-output regression's step is made of
        rows = d * d
    else:
        rows = _square_rows(d)
    n = max(rows.size, 1)
    return np.asarray(np.add.reduce(rows, axis=None) / n, dtype=rows.dtype)


def _mse_mean_dpred(g, out, t, p, saved=None):
    n = max(p.size // max(p.shape[-1], 1), 1)  # the number of rows the mean is over
    k = max(p.shape[-1], 1)
    d = saved[0] if saved else p - t
    if type(g) is np.ndarray and g.ndim == 0 and d.dtype.kind == "f":
        # NOTE: (g / n) * (2 / k) in d's dtype from Python floats: each quotient and the
        # product are exact in float64 before the one rounding (53 >= 2 * 24 + 2 bits), so
        # this is the 0-d array arithmetic's result bit for bit, at a third of the cost
        gf = float(g)
        key = (gf, n, k, d.dtype)
        scale = _MSE_SCALES.get(key) if gf else None  # (-0.0 == 0.0: zeros are not kept)
        if scale is None:
            c = d.dtype.type
            scale = c(c(gf / n) * c(2.0 / k))
            if gf:
                if len(_MSE_SCALES) >= 64:  # (other upstream gradients: keep it small)
                    _MSE_SCALES.clear()
                _MSE_SCALES[key] = scale
        return scale * d
    return (g / n * (2.0 / k)) * d


# (upstream gradient, rows, columns, dtype) -> the scale of mean squared error's gradient. NOTE:
# kept, for speed: a training loop asks for the same one on every step (three NumPy scalar
# operations saved); the few batch shapes of a fit make a few entries, and it never holds more
# than 64.
_MSE_SCALES: dict = {}


defvjp(mse_mean, lambda g, out, t, p, saved=None: -_mse_mean_dpred(g, out, t, p, saved),
       _mse_mean_dpred)  # fmt: skip


@primitive(nargs=2)
def sparse_cce_logits_mean(labels, logits, saved=None):
    """``mean(sparse_softmax_cross_entropy(labels, logits))``, the "sum_over_batch_size" loss
    from logits, as one node; ``labels`` are integer class indices already checked to lie in
    ``[0, C)``. ``saved``: an optional empty list that receives the forward's shifted logits
    and log-sum-exp, so the gradient does not compute them again (a max, an exp, a sum and a
    log over the logits). Value and gradient equal the two-node form's bit for bit: the same
    row losses and mean, and ``(g / n) * (softmax - one_hot)`` with the same softmax.
    """
    rows, z, ls = _ssce_rows(labels, logits)
    if saved is not None:
        saved.append((z, ls))
    return _mean_op.__wrapped__(rows)


def _sparse_cce_dlogits(g, out, labels, logits, saved=None):
    z, ls = saved[0] if saved else _shifted(logits, -1)
    return _ssce_grad(g / max(labels.size, 1), labels, z, ls)


defvjp(sparse_cce_logits_mean, None, _sparse_cce_dlogits)


def _clip(p):
    eps = epsilon()
    return np.clip(p, eps, 1.0 - eps).astype(p.dtype, copy=False)


def _inside(p):
    eps = epsilon()
    lo, hi = np.asarray(eps, p.dtype), np.asarray(1.0 - eps, p.dtype)
    return (p >= lo) & (p <= hi)


@primitive(nargs=2)
def bce_probs(y_true, y_pred, axis=-1):
    """``mean(-(t log p + (1 - t) log(1 - p)), axis)`` with ``p = clip(y_pred, eps, 1-eps)``."""
    p = _clip(y_pred)
    per = y_true * np.log(p) + (1.0 - y_true) * np.log(1.0 - p)
    return _sum(per, axis) / -max(p.shape[axis], 1)


def _bce_dpred(g, out, t, y_pred, axis=-1):
    p = _clip(y_pred)
    scale = np.expand_dims(g / max(p.shape[axis], 1), axis)
    # d/dp -(t log p + (1 - t) log(1 - p)) = (p - t) / (p (1 - p)), the form torch uses.
    return scale * np.where(_inside(y_pred), (p - t) / (p * (1.0 - p)), 0).astype(p.dtype)


def _bce_dtrue(g, out, t, y_pred, axis=-1):
    p = _clip(y_pred)
    scale = np.expand_dims(g / max(p.shape[axis], 1), axis)
    return scale * (np.log(1.0 - p) - np.log(p))


defvjp(bce_probs, _bce_dtrue, _bce_dpred)


def _normalised(p, axis):
    s = _sum(p, axis, keepdims=True)
    # NOTE: an all-zero row is divided by 1 (Keras divides 0 by 0 and returns NaN); it stays 0,
    # is clipped to eps, and its loss is -log(eps) = 16.1181 (batch1 case 01.4).
    s = np.where(s == 0, 1, s).astype(p.dtype, copy=False)
    return p / s, s


@primitive(nargs=2)
def cce_probs(y_true, y_pred, axis=-1):
    """``-sum(t * log(clip(p / sum(p, axis), eps, 1 - eps)), axis)``."""
    q, _ = _normalised(y_pred, axis)
    return -_sum(y_true * np.log(_clip(q)), axis)


def _cce_dpred(g, out, t, y_pred, axis=-1):
    q, s = _normalised(y_pred, axis)
    # dL/dq = -g t / clip(q) where q is not clipped; through q = p / s:
    # dL/dp = (dL/dq - sum(dL/dq * q, axis)) / s
    dq = np.where(_inside(q), -t / _clip(q), 0).astype(q.dtype) * np.expand_dims(g, axis)
    return (dq - _sum(dq * q, axis, keepdims=True)) / s


def _cce_dtrue(g, out, t, y_pred, axis=-1):
    q, _ = _normalised(y_pred, axis)
    return -np.expand_dims(g, axis) * np.log(_clip(q))


defvjp(cce_probs, _cce_dtrue, _cce_dpred)
