"""Shape ops: reshape, transpose, broadcasting, joining, splitting, padding and indexing.

Indexing with integer arrays scatters the gradient with ``np.add.at`` so repeated indices
accumulate; basic slices use a plain assignment.
"""

from __future__ import annotations

from .. import backend
from ..autodiff.primitive import defvjp, defvjp_argnum, primitive
from ..autodiff.tensor import Tensor
from ..backend import np

__all__ = [
    "reshape", "transpose", "swapaxes", "moveaxis", "broadcast_to", "expand_dims", "squeeze",
    "flatten", "concatenate", "stack", "split", "pad", "tile", "repeat", "getitem", "take",
]  # fmt: skip


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


@primitive(nargs=1)
def reshape(x, shape):
    """Give ``x`` a new ``shape`` (one entry may be -1) without changing its data."""
    return np.reshape(x, shape)


defvjp(reshape, lambda g, out, x, shape: np.reshape(g, np.shape(x)))


@primitive(nargs=1)
def transpose(x, axes=None):
    """Permute the axes (reverse them when ``axes`` is None)."""
    return np.transpose(x, axes)


def _transpose_vjp(g, out, x, axes=None):
    if axes is None:
        return np.transpose(g)
    return np.transpose(g, np.argsort([a % x.ndim for a in axes]))


defvjp(transpose, _transpose_vjp)


@primitive(nargs=1)
def swapaxes(x, axis1, axis2):
    """Exchange two axes."""
    return np.swapaxes(x, axis1, axis2)


defvjp(swapaxes, lambda g, out, x, axis1, axis2: np.swapaxes(g, axis1, axis2))


@primitive(nargs=1)
def moveaxis(x, source, destination):
    """Move axes to new positions."""
    return np.moveaxis(x, source, destination)


defvjp(moveaxis, lambda g, out, x, source, destination: np.moveaxis(g, destination, source))


@primitive(nargs=1)
def broadcast_to(x, shape):
    """Broadcast ``x`` to ``shape`` (the engine sums the gradient back)."""
    return np.broadcast_to(x, shape)


defvjp(broadcast_to, lambda g, out, x, shape: g)


@primitive(nargs=1)
def expand_dims(x, axis):
    """Insert size-1 axes at ``axis`` (an int or tuple)."""
    return np.expand_dims(x, axis)


defvjp(expand_dims, lambda g, out, x, axis: np.reshape(g, np.shape(x)))


@primitive(nargs=1)
def squeeze(x, axis=None):
    """Remove size-1 axes (all of them, or those in ``axis``)."""
    return np.squeeze(x, axis)


defvjp(squeeze, lambda g, out, x, axis=None: np.reshape(g, np.shape(x)))


def flatten(x):
    """Flatten to one dimension (``reshape(x, (-1,))``)."""
    return reshape(x, (-1,))


@primitive
def _concatenate(*xs, axis=0):
    return np.concatenate(xs, axis=axis)


def _concat_vjp(i, g, out, *xs, axis=0):
    start = 0
    for x in xs[:i]:
        start += np.shape(x)[axis]
    idx = [slice(None)] * g.ndim
    idx[axis] = slice(start, start + np.shape(xs[i])[axis])
    return g[tuple(idx)]


defvjp_argnum(_concatenate, _concat_vjp)


def concatenate(tensors, axis=0):
    """Join a sequence of tensors along an existing ``axis``.

    Raises:
        ValueError: naming the shapes when they do not match off ``axis``.
    """
    return _concatenate(*tensors, axis=axis)


@primitive
def _stack(*xs, axis=0):
    return np.stack(xs, axis=axis)


defvjp_argnum(_stack, lambda i, g, out, *xs, axis=0: np.take(g, i, axis=axis))


def stack(tensors, axis=0):
    """Join a sequence of same-shaped tensors along a new ``axis``."""
    return _stack(*tensors, axis=axis)


def split(x, indices_or_sections, axis=0):
    """Split into a list of tensors: ``indices_or_sections`` an int (equal parts) or the split
    points, as ``numpy.split``.

    Raises:
        ValueError: if an int does not divide the axis length.
    """
    data = x.data if isinstance(x, Tensor) else x if backend.is_array(x) else np.asarray(x)
    n = data.shape[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0 or n % k:
            raise ValueError(
                f"split: {k} sections do not divide axis {axis} of length {n} equally"
            )
        bounds = list(range(0, n + 1, n // k)) if n else [0] * (k + 1)
    else:
        bounds = [0, *[int(i) for i in indices_or_sections], n]
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        idx = [slice(None)] * data.ndim
        idx[axis] = slice(lo, hi)
        out.append(getitem(x, tuple(idx)))
    return out


@primitive(nargs=1)
def pad(x, pad_width, mode="constant", constant_values=0):
    """Pad with a constant (``mode="constant"``); ``pad_width`` as in ``numpy.pad``.

    Raises:
        ValueError: for a mode other than "constant".
    """
    if mode != "constant":
        raise ValueError(f"pad supports mode='constant', received mode={mode!r}")
    return np.pad(x, pad_width, mode="constant", constant_values=constant_values)


def _pad_vjp(g, out, x, pad_width, mode="constant", constant_values=0):
    pw = np.broadcast_to(np.asarray(pad_width, dtype=int), (x.ndim, 2))
    idx = tuple(slice(int(lo), g.shape[i] - int(hi)) for i, (lo, hi) in enumerate(pw))
    return g[idx]


defvjp(pad, _pad_vjp)


@primitive(nargs=1)
def tile(x, reps):
    """Repeat the whole array ``reps`` times along each axis (``numpy.tile``)."""
    return np.tile(x, reps)


def _tile_vjp(g, out, x, reps):
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    nd = max(len(reps), x.ndim)
    reps = (1,) * (nd - len(reps)) + reps
    xs = (1,) * (nd - x.ndim) + x.shape
    inter = [v for pair in zip(reps, xs) for v in pair]
    g = g.reshape(inter).sum(axis=tuple(range(0, 2 * nd, 2)))
    return g.reshape(x.shape)


defvjp(tile, _tile_vjp)


@primitive(nargs=1)
def repeat(x, repeats, axis=None):
    """Repeat each element ``repeats`` times along ``axis`` (flattened when None)."""
    if isinstance(repeats, np.ndarray) and type(x) is not np.ndarray:
        repeats = repeats.tolist()  # CuPy takes an int or a list of counts, not a NumPy array
    return np.repeat(x, repeats, axis=axis)


def _repeat_vjp(g, out, x, repeats, axis=None):
    src = x.reshape(-1) if axis is None else x
    ax = 0 if axis is None else axis % x.ndim
    idx = np.repeat(np.arange(src.shape[ax]), repeats)  # host indices: CuPy's add.at takes them
    gm = np.moveaxis(g, ax, 0)
    res = np.zeros_like(g, shape=(src.shape[ax],) + gm.shape[1:])
    np.add.at(res, idx, gm)
    return np.moveaxis(res, 0, ax).reshape(x.shape)


defvjp(repeat, _repeat_vjp)


_BASIC = (int, slice, type(None), type(Ellipsis))


def _is_advanced(idx):
    items = idx if isinstance(idx, tuple) else (idx,)
    # NOTE: a CuPy index array is advanced too: a plain assignment would drop repeated indices
    return any(isinstance(i, (np.ndarray, list))
               or (not isinstance(i, _BASIC) and getattr(i, "ndim", 0)) for i in items)  # fmt: skip


@primitive(nargs=1)
def getitem(x, index):
    """``x[index]`` for ints, slices, None, ``...``, integer arrays and boolean masks."""
    return x[index]


def _getitem_vjp(g, out, x, index):
    res = np.zeros_like(x, dtype=g.dtype)
    if _is_advanced(index):
        if type(res) is np.ndarray:
            np.add.at(res, index, g)  # repeated indices accumulate
        else:  # NOTE: CuPy's np.add.at dispatch refuses a tuple index; its own add.at takes it
            backend.array_module(res).add.at(res, index, g)
    else:
        res[index] = g
    return res


defvjp(getitem, _getitem_vjp)


def _unwrap_index(index):
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _index_array(idx):
    """Integer indices as an array: a CuPy array stays on the device, other data goes to NumPy."""
    return idx if backend.is_array(idx) else np.asarray(idx)


def take(x, indices, axis=None):
    """Elements of ``x`` at integer ``indices`` along ``axis`` (``numpy.take``)."""
    idx = _unwrap_index(indices)
    if axis is None:
        return getitem(reshape(x, (-1,)), _index_array(idx))
    nd = x.ndim
    index = (slice(None),) * (axis % nd) + (_index_array(idx),)
    return getitem(x, index)
