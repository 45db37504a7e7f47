"""Linear algebra: ``matmul`` (1-D, 2-D, batched with broadcasting), ``tensordot`` (built from
reshape, transpose and matmul), and ``einsum`` (its VJP is another einsum)."""

from __future__ import annotations

from ..autodiff.primitive import defvjp, defvjp_argnum, primitive
from ..autodiff.tensor import Tensor
from ..backend import np
from .shape import reshape, transpose

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"  # einsum labels

__all__ = ["matmul", "tensordot", "einsum", "dot", "outer"]


@primitive
def matmul(a, b):
    """Matrix product with NumPy's rules: 1-D operands are promoted and the added axis removed;
    leading (batch) axes broadcast.

    Raises:
        ValueError: naming both shapes when the contracted axes differ or an operand is 0-d.
    """
    an, bn = np.ndim(a), np.ndim(b)
    if an == 0 or bn == 0:
        raise ValueError(f"matmul needs operands of rank >= 1, received shapes {np.shape(a)} "
                         f"and {np.shape(b)}")  # fmt: skip
    ka = a.shape[-1]
    kb = b.shape[0] if bn == 1 else b.shape[-2]
    if ka != kb:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: {ka} (last axis of the "
            f"first) != {kb} ({'only' if bn == 1 else 'second-to-last'} axis of the second)"
        )
    return np.matmul(a, b)


def _matmul_da(g, out, a, b):
    if b.ndim == 1:
        return g[..., None] * b if a.ndim > 1 else g * b
    if a.ndim == 1:
        return (g[..., None, :] @ np.swapaxes(b, -1, -2))[..., 0, :]
    return g @ np.swapaxes(b, -1, -2)


def _matmul_db(g, out, a, b):
    if a.ndim == 1:
        return a[:, None] * g[..., None, :] if b.ndim > 1 else g * a
    if b.ndim == 1:
        return (np.swapaxes(a, -1, -2) @ g[..., :, None])[..., 0]
    return np.swapaxes(a, -1, -2) @ g


defvjp(matmul, _matmul_da, _matmul_db)
Tensor._ufunc_ops[np.matmul] = matmul  # ``ndarray @ tensor`` (see Tensor.__array_ufunc__)


def dot(a, b):
    """``matmul`` for 1-D and 2-D operands."""
    return matmul(a, b)


def outer(a, b):
    """Outer product of two vectors: ``(m,), (n,) -> (m, n)``."""
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


def tensordot(a, b, axes=2):
    """Sum products over ``axes`` (an int N: last N of ``a`` with first N of ``b``; or a pair
    of axis lists), as ``numpy.tensordot``. Built from transpose, reshape and matmul.

    Raises:
        ValueError: naming both shapes when contracted axes differ in length.
    """
    ash, bsh = tuple(np.shape(a.data if isinstance(a, Tensor) else a)), tuple(
        np.shape(b.data if isinstance(b, Tensor) else b)
    )
    if isinstance(axes, (int, np.integer)):
        ax_a = list(range(len(ash) - axes, len(ash)))
        ax_b = list(range(axes))
    else:
        ax_a, ax_b = ([axes[0]] if isinstance(axes[0], int) else list(axes[0]),
                      [axes[1]] if isinstance(axes[1], int) else list(axes[1]))  # fmt: skip
        ax_a = [x % len(ash) for x in ax_a]
        ax_b = [x % len(bsh) for x in ax_b]
    if [ash[i] for i in ax_a] != [bsh[i] for i in ax_b]:
        raise ValueError(f"tensordot: shapes {ash} and {bsh} do not match on axes {axes}")
    free_a = [i for i in range(len(ash)) if i not in ax_a]
    free_b = [i for i in range(len(bsh)) if i not in ax_b]
    k = int(np.prod([ash[i] for i in ax_a]))
    at = reshape(transpose(a, free_a + ax_a), (-1, k))
    bt = reshape(transpose(b, ax_b + free_b), (k, -1))
    return reshape(matmul(at, bt), tuple(ash[i] for i in free_a) + tuple(bsh[i] for i in free_b))


def _parse_einsum(subscripts, shapes):
    """Explicit subscripts with '...' replaced by letters: (list of input subs, output sub)."""
    s = subscripts.replace(" ", "")
    ins, _, out = s.partition("->")
    ins = ins.split(",")
    used = set(s) - set(".,->")
    spare = [c for c in _LETTERS if c not in used]
    nell = 0
    for sub, shp in zip(ins, shapes):
        if "..." in sub:
            nell = max(nell, len(shp) - (len(sub) - 3))
    ell = "".join(spare[:nell])
    new_ins = []
    for sub, shp in zip(ins, shapes):
        if "..." in sub:
            k = len(shp) - (len(sub) - 3)
            sub = sub.replace("...", ell[nell - k:] if k else "")
        new_ins.append(sub)
    if "->" not in s:
        letters = "".join(new_ins)
        out = ell + "".join(sorted(c for c in set(letters) - set(ell) if letters.count(c) == 1))
    else:
        out = out.replace("...", ell)
    return new_ins, out


@primitive
def _einsum(*operands, subscripts):
    return np.einsum(subscripts, *operands)


def _einsum_vjp(i, g, out, *operands, subscripts):
    ins, outsub = _parse_einsum(subscripts, [np.shape(o) for o in operands])
    target = ins[i]
    if len(set(target)) != len(target):
        raise NotImplementedError(f"einsum gradient for repeated index in {target!r}")
    others = [(s, o) for j, (s, o) in enumerate(zip(ins, operands)) if j != i]
    avail = set(outsub).union(*[set(s) for s, _ in others]) if others else set(outsub)
    kept = "".join(c for c in target if c in avail)
    expr = ",".join([outsub] + [s for s, _ in others]) + "->" + kept
    r = np.einsum(expr, g, *[o for _, o in others])
    if kept != target:  # letters summed only inside this operand: broadcast back
        shape = [np.shape(operands[i])[target.index(c)] if c in kept else 1 for c in target]
        r = np.broadcast_to(r.reshape(shape), np.shape(operands[i]))
    return r


defvjp_argnum(_einsum, _einsum_vjp)


def einsum(subscripts, *operands):
    """Einstein summation, as ``numpy.einsum`` (explicit or implicit output, ``...``)."""
    return _einsum(*operands, subscripts=subscripts)
