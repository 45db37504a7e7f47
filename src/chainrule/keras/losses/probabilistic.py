"""Divergence and count losses: Kullback-Leibler divergence and Poisson.

Formulas match Keras 3 ``keras/src/losses/losses.py`` (``kl_divergence``, ``poisson``).
"""

from __future__ import annotations

from ... import ops
from ...autodiff.tensor import Tensor
from ...backend import epsilon
from .loss import BuiltinLoss, _mean, _prepare

__all__ = ["kl_divergence", "poisson", "KLDivergence", "Poisson", "kld", "KLD"]

_SBS = "sum_over_batch_size"


def kl_divergence(y_true, y_pred) -> Tensor:
    """Kullback-Leibler divergence ``KL(y_true || y_pred)`` over the last axis.

    ``t = clip(y_true, eps, 1)``, ``p = clip(y_pred, eps, 1)``,
    ``loss = sum(t * log(t / p), axis=-1)`` with ``eps = 1e-7``.

    Args:
        y_true: target distributions, shape ``(N, ..., C)`` (or ``(N,)`` against ``(N, 1)``).
        y_pred: predicted distributions, shape ``(N, ..., C)``.

    Returns:
        Tensor of shape ``(N, ...)``.

    Raises:
        ValueError: if the shapes differ beyond a trailing size-1 axis.

    Matches Keras 3 ``keras/src/losses/losses.py:kl_divergence``.

    >>> kl_divergence([[0.5, 0.5]], [[0.5, 0.5]]).numpy()
    array([0.], dtype=float32)
    """
    y_true, y_pred = _prepare(y_true, y_pred, "kl_divergence")
    eps = epsilon()
    t = ops.clip(y_true, eps, 1.0)
    p = ops.clip(y_pred, eps, 1.0)
    return ops.sum(ops.multiply(t, ops.log(ops.divide(t, p))), axis=-1)


def poisson(y_true, y_pred) -> Tensor:
    """Poisson negative log-likelihood (up to a constant), averaged over the last axis.

    ``loss = mean(y_pred - y_true * log(y_pred + eps), axis=-1)`` with ``eps = 1e-7``.

    Args:
        y_true: observed counts, shape ``(N, ..., D)`` (or ``(N,)`` against ``(N, 1)``).
        y_pred: predicted rates (> 0), shape ``(N, ..., D)``.

    Returns:
        Tensor of shape ``(N, ...)``.

    Raises:
        ValueError: if the shapes differ beyond a trailing size-1 axis.

    Matches Keras 3 ``keras/src/losses/losses.py:poisson``.

    >>> poisson([[0.0]], [[2.0]]).numpy()
    array([2.], dtype=float32)
    """
    y_true, y_pred = _prepare(y_true, y_pred, "poisson")
    log_rate = ops.log(ops.add(y_pred, epsilon()))
    return _mean(ops.subtract(y_pred, ops.multiply(y_true, log_rate)))


kld = KLD = kl_divergence


class KLDivergence(BuiltinLoss):
    """Kullback-Leibler divergence loss; see :func:`kl_divergence` for the formula.

    Args:
        reduction: default ``"sum_over_batch_size"`` (see :class:`Loss`).
        name: default ``"kl_divergence"``.
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/losses/losses.py:KLDivergence``.
    """

    def __init__(self, reduction=_SBS, name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, reduction=reduction, name=name, dtype=dtype)


class Poisson(BuiltinLoss):
    """Poisson loss; see :func:`poisson` for the formula.

    Args:
        reduction: default ``"sum_over_batch_size"`` (see :class:`Loss`).
        name: default ``"poisson"``.
        dtype: default ``floatx()``.

    Matches Keras 3 ``keras/src/losses/losses.py:Poisson``.
    """

    def __init__(self, reduction=_SBS, name="poisson", dtype=None):
        super().__init__(poisson, reduction=reduction, name=name, dtype=dtype)

