"""Array helpers behind the convolution and pooling primitives in ``conv.py``, written for speed.

Channels-last arrays with few channels make NumPy's inner loops short (a run of ``C``
contiguous floats, then a jump), and each inner loop costs a fixed overhead; every helper here
is laid out so that its ufunc calls run over long contiguous stretches: convolutions work in
the batch-last layout below, pooling on whichever layout it is given. Measured on the
benchmark's CNN shapes (``benchmarks/tasks/cnn.py``); see each ``# NOTE:``.
"""

from __future__ import annotations

import itertools
import math

from ..backend import np


# NOTE: arrays are made with ``*_like`` from an input, so that CuPy inputs get CuPy results
# (``np.empty(shape)`` would be a host array); ``order="C"`` because ``*_like`` would otherwise
# copy a batch-last input's stride order, and the reshapes below need C order to be views.
def _empty(like, shape, dtype=None):
    return np.empty_like(like, dtype=dtype or like.dtype, order="C", shape=shape)


def _zeros(like, shape, dtype=None):
    return np.zeros_like(like, dtype=dtype or like.dtype, order="C", shape=shape)


def _contiguous(a):
    """``a`` in C order (``np.ascontiguousarray`` would turn a CuPy array into a host one)."""
    return a if a.flags.c_contiguous else a.copy(order="C")


def offsets(ksize):
    """Every kernel offset, in row-major order (the layout of a kernel's spatial axes)."""
    return itertools.product(*(range(k) for k in ksize))


def window(offset, strides, dilation, osize):
    """The slice of the padded input that kernel ``offset`` sees, for every output position."""
    return (slice(None),) + tuple(
        slice(k * d, k * d + s * (o - 1) + 1, s)
        for k, s, d, o in zip(offset, strides, dilation, osize, strict=True)
    )


# -- the batch-last layout: (C, *S, N) in memory, seen as (N, *S, C) ------------------------
# NOTE: with the batch axis innermost and the channels outermost, every window of every
# image is one run of O_last * N contiguous floats, so im2col and col2im are prod(K) copies
# or adds over long runs, the GEMMs take the shapes BLAS likes ((F, K*C) @ (K*C, M)), and the
# 2x2 pooling corners are runs of N. On the benchmark CNN (``benchmarks/tasks/cnn.py``) the
# epoch went from 2.7-3.3 s (channels-last) to 2.2-2.3 s. The arrays handed out are
# ``np.swapaxes`` views with the usual ``(N, *S, C)`` shape and values: only the strides tell
# the layout, ufuncs keep it (they iterate in memory order), and a reshape that needs another
# order copies.
def batch_last(a):
    """``(N, *S, C) <-> (C, *S, N)``: the view with the first and last axes swapped."""
    return np.swapaxes(a, 0, -1)


def is_batch_last(a):
    """Whether ``a`` (N, *S, C) is a ``batch_last`` view of a contiguous (C, *S, N) array."""
    return a.ndim > 2 and not a.flags.c_contiguous and np.swapaxes(a, 0, -1).flags.c_contiguous


def to_batch_last(a, pads=None):
    """The contiguous ``(C, *P, N)`` array of ``a`` (N, *S, C), zero-padded by ``pads``
    (``(lo, hi)`` per spatial axis) when given; no copy when ``a`` is batch-last unpadded."""
    t = np.swapaxes(a, 0, -1)
    if not pads or not any(lo or hi for lo, hi in pads):
        return _contiguous(t)
    out = _zeros(a, (t.shape[0], *(n + lo + hi for n, (lo, hi) in zip(t.shape[1:-1], pads,
                 strict=True)), t.shape[-1]))  # fmt: skip
    out[(slice(None), *(slice(lo, lo + n) for n, (lo, _) in zip(t.shape[1:-1], pads,
        strict=True)))] = t  # fmt: skip
    return out


def im2col_batch_last(xt, ksize, strides, dilation, osize, groups=1, ones_row=False):
    """``(C, *P, N) -> (G, K * C/G [+ 1], M)``: in group g, row ``(k, c)`` holds the group's
    channel c under kernel offset k for every output position ``M = (*O, N)``; one
    contiguous-run copy per kernel offset. ``ones_row``: a last row of ones in each group, so
    that a bias stacked under the kernel is added by the same GEMM (and its gradient comes out
    of the kernel-gradient GEMM)."""
    k, cg, n = math.prod(ksize), xt.shape[0] // groups, xt.shape[-1]
    cols = _empty(xt, (groups, k * cg + ones_row, math.prod(osize) * n))
    blocks = cols[:, : k * cg].reshape(groups, k, cg, *osize, n)
    xg = xt.reshape(groups, cg, *xt.shape[1:])
    for i, off in enumerate(offsets(ksize)):
        blocks[:, i] = xg[(slice(None),) + window(off, strides, dilation, osize)]
    if ones_row:
        cols[:, -1] = 1
    return cols


def col2im_batch_last(dcols, pshape, ksize, strides, dilation, osize):
    """The adjoint of ``im2col_batch_last`` (no ones row): ``(G, K * C/G, M) -> (C, *P, N)``."""
    out = _zeros(dcols, pshape)
    groups = dcols.shape[0]
    cg = pshape[0] // groups
    og = out.reshape(groups, cg, *pshape[1:])
    blocks = dcols.reshape(groups, math.prod(ksize), cg, *osize, pshape[-1])  # N may be 0
    for i, off in enumerate(offsets(ksize)):
        og[(slice(None),) + window(off, strides, dilation, osize)] += blocks[:, i]
    return out


# -- 2x2 max pooling with stride 2 and no padding (the common case) ----------------------------
def is_pool_2x2(x, pool_size, strides, pads, mode):
    """Whether ``pool_general``'s fast 2x2 path applies: 2-D max pooling, pool 2, stride 2,
    no padding (also "same" on even sizes, whose padding is zero)."""
    return (mode == "max" and x.ndim == 4 and pool_size == (2, 2) and strides == (2, 2)
            and not any(lo or hi for lo, hi in pads))  # fmt: skip


def max_pool_2x2(x, routes=None):
    """``(N, H, W, C) -> (N, H // 2, W // 2, C)``: the max of each 2x2 block; an odd last
    row or column is dropped, as "valid" pooling does.

    ``routes``: an optional empty list that receives which corner of each block holds its
    first maximum, for ``max_pool_2x2_grad``: ``(first_row, first_col)``, booleans of shapes
    ``(N, H/2, W/2, C)`` (the top row's maximum is the block's) and ``(2, N, H/2, W/2, C)``
    (in each row, the left element is the row's maximum). Meaningless where a block holds a
    NaN (the gradient then takes the general path).
    """
    n, h, w, c = x.shape
    h2, w2 = h // 2, w // 2
    if routes is None:
        # Rows (n, i, r, j, (s, c)): the max over r runs over whole rows of 2 * w2 * C
        # elements; only the last max over s has C-element runs, on half the data.
        xr = x[:, : 2 * h2, : 2 * w2].reshape(n, h2, 2, w2, 2 * c)
        cmax = np.maximum(xr[:, :, 0], xr[:, :, 1])
        return np.maximum(cmax[..., :c], cmax[..., c:])
    # NOTE: the routes are found here, while x is still in cache from the layer that made
    # it, instead of by comparing x with the maximum in the backward pass, where x has long
    # left the cache: on the benchmark CNN's shapes the forward costs 0.8 ms more a step and
    # the backward 1.6 ms less. Rows first, ties to the top row and then to the left
    # column: the first maximum in row-major order.
    x00, x01, x10, x11 = (x[:, r : 2 * h2 : 2, s : 2 * w2 : 2] for r in (0, 1) for s in (0, 1))
    top, bottom = np.maximum(x00, x01), np.maximum(x10, x11)
    first_col = _empty(top, (2, *top.shape), bool)
    np.greater_equal(x00, x01, out=first_col[0])
    np.greater_equal(x10, x11, out=first_col[1])
    routes.append((top >= bottom, first_col))
    return np.maximum(top, bottom, out=top)


def max_pool_2x2_grad(g, out, x, routes=None):
    """The gradient of ``max_pool_2x2`` for ``x``: each ``g`` to its window's first maximum
    in row-major order (TensorFlow's and PyTorch's tie rule), zero elsewhere. ``routes``:
    what ``max_pool_2x2`` put in its list, when it was given one (else x is compared with
    ``out``).

    Returns None when ``out`` has a NaN or ``g`` a non-finite value: the general path, which
    selects with ``np.where``, handles those (``g * False`` would be NaN for an infinite g).
    """
    if np.isnan(out).any() or not np.isfinite(g).all():
        return None
    n, h, w, c = x.shape
    h2, w2 = h // 2, w // 2
    corners = [(slice(None), slice(r, 2 * h2, 2), slice(s, 2 * w2, 2)) for r in (0, 1)
               for s in (0, 1)]  # fmt: skip
    # NOTE: one boolean (4, N, H/2, W/2, C) array says which corner takes each g; the
    # first-maximum rule is a few ops on contiguous booleans (SIMD-fast). One multiply per
    # corner, no float temporaries.
    hit = _empty(out, (4, *out.shape), bool)
    if routes:
        first_row, first_col = routes[0]
        np.logical_and(first_row, first_col[0], out=hit[0])
        np.greater(first_row, first_col[0], out=hit[1])  # top row, not its left column
        np.greater(first_col[1], first_row, out=hit[2])  # bottom row's left, not the top row
        np.logical_or(first_row, first_col[1], out=hit[3])
        np.logical_not(hit[3], out=hit[3])
    else:
        # "equals the maximum" for the corners (0,0), (0,1), (1,0); corner (1,1) is whatever
        # is left (no NaN here, so some corner holds the maximum)
        for i in range(3):
            np.equal(x[corners[i]], out, out=hit[i])
        seen = hit[0] | hit[1]
        np.greater(hit[1], hit[0], out=hit[1])  # (0,1) and not (0,0)
        np.greater(hit[2], seen, out=hit[2])  # (1,0) and neither before it
        seen |= hit[2]
        np.logical_not(seen, out=hit[3])
    dx = (_zeros if h % 2 or w % 2 else _empty)(g, x.shape)
    for i in range(4):
        np.multiply(g, hit[i], out=dx[corners[i]])
    return dx
