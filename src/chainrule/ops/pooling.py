"""Pooling ops (Keras 3 ``ops.max_pool`` and ``ops.average_pool``) on channels-last arrays of
any number of spatial axes, with Keras's ``padding`` and ``data_format``.

Pooling keeps the memory layout it is given: a convolution's batch-last output (see
``_conv_fast.batch_last``) is pooled as it lies, and the result is batch-last too. The 2x2,
stride-2 max pooling of image models has a fast path (``_conv_fast.max_pool_2x2``).
"""

from __future__ import annotations

from ..autodiff.primitive import defvjp, defvjp_all, primitive, records
from ..backend import asarray_like, np
from . import _conv_fast as _fast
from .conv import (
    _conv_vjp,
    _crop,
    _osize,
    _pad,
    _padded_shape,
    _to_format,
    _to_last,
    _tuple,
    conv_args,
    conv_general,
    conv_padding,
)

__all__ = ["max_pool", "average_pool"]

_offsets, _window = _fast.offsets, _fast.window


@primitive(nargs=1)
def pool_general(x, pool_size, strides, pads, mode, saved=None):
    """Channels-last max or average pooling with explicit padding.

    ``mode="max"``: the maximum of each window (padding never wins). ``mode="average"``: the
    mean of the window's *input* elements; padded positions are left out of the count
    (Keras's "same" average pooling). Shapes: ``(N, *S, C) -> (N, *O, C)``; a batch-last
    input (a convolution's output) gives a batch-last output. ``saved``: an optional empty
    list that receives what the gradient can reuse (the 2x2 path's routes, see
    ``_conv_fast.max_pool_2x2``).
    """
    if _fast.is_batch_last(x):
        # NOTE: the pooling code needs only (A, *S, B) with the windowed axes in between, so
        # it runs on the (C, *S, N) array as it is: no copy, and runs of N instead of C.
        bl = _fast.batch_last
        return bl(_pool_forward(bl(x), pool_size, strides, pads, mode, saved))
    return _pool_forward(x, pool_size, strides, pads, mode, saved)


def _pool_forward(x, pool_size, strides, pads, mode, saved=None):
    if _fast.is_pool_2x2(x, pool_size, strides, pads, mode):
        return _fast.max_pool_2x2(x, saved)
    ones = (1,) * len(pool_size)
    xp = _pad(x, pads, -np.inf if mode == "max" else 0)
    osize = _osize(xp.shape[1:-1], pool_size, strides, ones)
    out = None
    for off in _offsets(pool_size):
        v = xp[_window(off, strides, ones, osize)]
        if out is None:
            out = v.copy()
        elif mode == "max":
            np.maximum(out, v, out=out)
        else:
            out += v
    if mode == "average":
        out /= _pool_counts(x.shape[1:-1], pool_size, strides, pads, osize, x)
    return out


def _pool_counts(size, pool_size, strides, pads, osize, like):
    """How many input (not padding) elements each window covers, shaped ``(*O, 1)``, an
    array of ``like``'s dtype and module (counted on the host, then moved)."""
    dtype = like.dtype
    counts = np.ones((), dtype=dtype)
    dims = zip(size, pool_size, strides, pads, osize, strict=True)
    for ax, (n, k, s, (lo, _), o) in enumerate(dims):
        start = np.arange(o) * s - lo
        c = (np.minimum(start + k, n) - np.maximum(start, 0)).astype(dtype)
        counts = np.multiply.outer(counts, c) if ax else c
    return asarray_like(counts[..., None], like)


def _pool_dx(g, out, x, pool_size, strides, pads, mode, saved=None):
    if _fast.is_batch_last(x):
        bl = _fast.batch_last
        return bl(_pool_backward(_fast.to_batch_last(g), bl(out), bl(x), pool_size, strides,
                                 pads, mode, saved))  # fmt: skip
    return _pool_backward(g, out, x, pool_size, strides, pads, mode, saved)


def _pool_backward(g, out, x, pool_size, strides, pads, mode, saved=None):
    if _fast.is_pool_2x2(x, pool_size, strides, pads, mode):
        dx = _fast.max_pool_2x2_grad(g, out, x, saved)
        if dx is not None:
            return dx
    ones = (1,) * len(pool_size)
    pshape = _padded_shape(x.shape, pads)
    dxp = _fast._zeros(g, pshape)
    osize = g.shape[1:-1]
    if mode == "average":
        ga = g / _pool_counts(x.shape[1:-1], pool_size, strides, pads, osize, g)
        for off in _offsets(pool_size):
            dxp[_window(off, strides, ones, osize)] += ga
        return _crop(dxp, pads)
    # NOTE: each window's gradient goes to its *first* maximum in row-major window order
    # (TensorFlow's and PyTorch's tie rule); `taken` marks windows already served.
    xp = _pad(x, pads, -np.inf)
    taken = _fast._zeros(g, g.shape, bool)
    for off in _offsets(pool_size):
        sl = _window(off, strides, ones, osize)
        hit = xp[sl] == out
        hit &= ~taken
        taken |= hit
        dxp[sl] += np.where(hit, g, 0)
    return _crop(dxp, pads)


defvjp(pool_general, _pool_dx)


# -- a convolution, its relu and a 2x2 max pooling in one node -------------------------------
# NOTE: for speed (the Conv2D(relu) -> MaxPooling2D pairs of image models, see
# ``keras/layers/fused_calls.py``). Max pooling commutes with the relu (both are monotone and
# exact), so the pre-activation is pooled while it is in cache and the relu runs on a quarter
# of the elements; the backward masks the upstream gradient at that size and routes it. The
# values and gradients are those of ``conv(..., activation="relu")`` and ``max_pool(., 2)``
# bit for bit (signed zeros included).
@primitive(nargs=3)
def conv_relu_max_pool_general(x, kernel, bias, strides, dilation, pads, groups, saved=None):
    """``max_pool(conv_general(x, kernel, bias, ..., "relu"), 2)``: shapes ``(N, *S, C),
    (kh, kw, C/groups, F), (F,) or None -> (N, O1 // 2, O2 // 2, F)``, batch-last.
    ``saved``: an optional empty list that receives what the gradient reuses."""
    z = conv_general.__wrapped__(x, kernel, bias, strides, dilation, pads, groups, None, saved)
    routes = None if saved is None else []
    pooled = _fast.max_pool_2x2(_fast.batch_last(z), routes)  # (F, O1/2, O2/2, N)
    np.maximum(pooled, pooled.dtype.type(0), out=pooled)
    if saved is not None:
        saved.extend((z, routes, pooled > 0))  # after the conv's windows
    return _fast.batch_last(pooled)


def _conv_relu_max_pool_vjp(needs, g, out, x, kernel, bias, strides, dilation, pads, groups,
                            saved=None):  # fmt: skip
    if not saved:  # the primitive called directly with no list: do the forward again
        saved = []
        conv_relu_max_pool_general.__wrapped__(x, kernel, bias, strides, dilation, pads, groups,
                                               saved)  # fmt: skip
    cols, z, routes, positive = saved
    bl, gt = _fast.batch_last, _fast.to_batch_last(g)
    if np.isnan(out).any() or not np.isfinite(gt).all():
        # a NaN or an infinity: the two ops' own rules, which handle them
        relu_z = np.maximum(z, z.dtype.type(0))
        gz = _pool_dx(g, out, relu_z, (2, 2), (2, 2), ((0, 0), (0, 0)), "max") * (relu_z > 0)
    else:
        gz = bl(_fast.max_pool_2x2_grad(gt * positive, bl(out), bl(z), routes))
    return _conv_vjp(needs, gz, None, x, kernel, bias, strides, dilation, pads, groups, None,
                     [cols])  # fmt: skip


defvjp_all(conv_relu_max_pool_general, _conv_relu_max_pool_vjp)


def conv_relu_max_pool(inputs, kernel, bias=None, strides=1, padding="valid", dilation_rate=1):
    """``max_pool(conv(inputs, kernel, bias, strides, padding, "channels_last", dilation_rate,
    activation="relu"), 2)``: a 2-D convolution, its relu and a 2x2 max pooling with stride 2
    and no padding, in one node; the same values and gradients as the two ops, faster.

    Shapes: ``(batch, h, w, channels), (kh, kw, channels // groups, filters), (filters,) or
    None -> (batch, oh // 2, ow // 2, filters)``, ``oh, ow`` the convolution's output size.

    Raises:
        ValueError: ``conv``'s errors, inputs that are not 4-D, or a convolution output
            smaller than the 2x2 window.
    """
    if getattr(inputs, "ndim", None) != 4:
        raise ValueError("conv_relu_max_pool: inputs must be (batch, height, width, channels), "
                         f"received shape {tuple(np.shape(inputs))}")  # fmt: skip
    x, _, strides, dilation, pads, groups = conv_args(inputs, kernel, bias, strides, padding,
                                                      "channels_last", dilation_rate)  # fmt: skip
    osize = _osize(_padded_shape(x.shape, pads)[1:-1], kernel.shape[:2], strides, dilation)
    if min(osize) < 2:
        raise ValueError(f"conv_relu_max_pool: the convolution's output {osize} is smaller "
                         "than the 2x2 pooling window")  # fmt: skip
    saved = [] if records(x, kernel, bias) else None
    return conv_relu_max_pool_general(x, kernel, bias, strides, dilation, pads, groups,
                                      saved=saved)  # fmt: skip


# -- public functions ---------------------------------------------------------------------------
def _pool(inputs, pool_size, strides, padding, data_format, mode):
    rank = inputs.ndim - 2
    if rank < 1:
        raise ValueError(f"{mode} pooling needs inputs of rank >= 3, received shape "
                         f"{tuple(inputs.shape)}")  # fmt: skip
    pool_size = _tuple(pool_size, rank, "pool_size")
    strides = pool_size if strides is None else _tuple(strides, rank, "strides")
    x = _to_last(inputs, data_format, rank)
    if padding not in ("valid", "same"):
        raise ValueError(f"padding must be 'valid' or 'same', received padding={padding!r}")
    pads = conv_padding(x.shape[1:-1], pool_size, strides, (1,) * rank, padding)
    for i, (n, k) in enumerate(zip(x.shape[1:-1], pool_size, strict=True)):
        if padding == "valid" and n < k:
            raise ValueError(
                f"{mode} pooling: pool_size {k} is larger than the input size {n} along "
                f"spatial axis {i} (input shape {tuple(inputs.shape)}, padding='valid')"
            )
    # NOTE: the list is given only when a node will keep it (finding the routes makes the
    # forward slower, and predict never needs them)
    out = pool_general(x, pool_size, strides, pads, mode, saved=[] if records(x) else None)
    return _to_format(out, data_format, rank)


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format="channels_last"):
    """Max pooling over ``pool_size`` windows (Keras 3 ``ops.max_pool``).

    ``out[n, o, c] = max_k x[n, o * strides + k, c]``; "same" padding never wins a window.
    The gradient goes to the first maximum of each window (TensorFlow/PyTorch tie rule).

    Args:
        inputs: ``(batch, *spatial, channels)`` or channels_first.
        pool_size: int or tuple. strides: default ``pool_size``.
        padding: "valid" (default) or "same".
    """
    return _pool(inputs, pool_size, strides, padding, data_format, "max")


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format="channels_last"):
    """Average pooling (Keras 3 ``ops.average_pool``): the mean over each window's input
    elements; with "same" padding the padded positions are not counted (as Keras's NumPy,
    JAX and TensorFlow backends; its torch backend counts replicated edges instead when the
    padding is uneven).

    Args: as ``max_pool``.
    """
    return _pool(inputs, pool_size, strides, padding, data_format, "average")
