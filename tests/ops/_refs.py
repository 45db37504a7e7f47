"""NumPy and PyTorch reference functions for the op table, where the library's own function
has another signature (axis None vs dims, pad widths, index arrays)."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def _tdim(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return tuple(np.atleast_1d(axis).tolist())


def _np_erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _np_sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))


def _np_gelu(x, approximate=False):
    if approximate:
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + _np_erf(x / math.sqrt(2)))


def _np_lse(x, axis=None, keepdims=False):
    # an empty reduction is log(0) = -inf
    m = np.max(x, axis=axis, keepdims=True) if x.size else 0.0
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=_tdim(axis, x.ndim))


def _t_prod(x, axis=None, keepdims=False):
    if axis is None:
        out = x.reshape(-1).prod()
        return out.reshape((1,) * x.ndim) if keepdims else out
    for a in sorted((a % x.ndim for a in _tdim(axis, x.ndim)), reverse=True):
        x = torch.prod(x, dim=a, keepdim=keepdims)
    return x


def _t_norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002
    o = 2 if ord is None else ord
    return torch.linalg.vector_norm(x, ord=o, dim=_tdim(axis, x.ndim), keepdim=keepdims)


def _np_norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002
    a = np.abs(x)
    if ord == 1:
        return np.sum(a, axis=axis, keepdims=keepdims)
    if ord == np.inf:
        return np.max(a, axis=axis, keepdims=keepdims)
    return np.sqrt(np.sum(a * a, axis=axis, keepdims=keepdims))


def _t_expand(x, axis):
    for a in sorted(a % (x.ndim + len(_tdim(axis, 0))) for a in _tdim(axis, 0)):
        x = x.unsqueeze(a)
    return x


def _t_pad(x, pad_width, mode="constant", constant_values=0):
    pw = np.broadcast_to(np.asarray(pad_width), (x.ndim, 2))
    flat = [int(v) for lo_hi in pw[::-1] for v in lo_hi]
    return F.pad(x, flat, value=constant_values)


def _t_index(index):
    def conv(i):
        return torch.from_numpy(i) if isinstance(i, np.ndarray) else i

    return tuple(conv(i) for i in index) if isinstance(index, tuple) else conv(index)


def _np_split(x, indices_or_sections, axis=0):
    return np.split(x, indices_or_sections, axis=axis)


def _t_split(x, indices_or_sections, axis=0):
    ios = indices_or_sections
    return torch.tensor_split(x, ios if isinstance(ios, int) else list(ios), dim=axis)


def _np_softmax(x, axis=-1):
    if x.size == 0:
        return x
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
