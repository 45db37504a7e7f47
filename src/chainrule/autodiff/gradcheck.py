"""Numerical gradient checking by float64 central differences, for users' own ops."""

from __future__ import annotations

from ..backend import np
from . import engine
from .tensor import Tensor

__all__ = ["numerical_grad", "gradcheck"]


def numerical_grad(fn, arrays, eps=1e-6):
    """Central-difference gradients of ``sum(fn(*arrays) * w)`` for a fixed random ``w``.

    Returns ``(grads, w)``: one float64 array per input and the projection weights used.
    """
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    first = fn(*[Tensor._wrap(a) for a in arrays])
    if not isinstance(first, Tensor):
        raise TypeError(f"fn must return a Tensor, received {type(first).__name__}")
    out = np.asarray(first.data, dtype=np.float64)
    w = np.random.default_rng(0).standard_normal(out.shape)
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        flat, gflat = a.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            orig = flat[i]
            flat[i] = orig + eps
            fp = np.sum(np.asarray(fn(*[Tensor._wrap(b) for b in arrays]).data) * w)
            flat[i] = orig - eps
            fm = np.sum(np.asarray(fn(*[Tensor._wrap(b) for b in arrays]).data) * w)
            flat[i] = orig
            gflat[i] = (fp - fm) / (2 * eps)
        grads.append(g)
    return grads, w


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, raise_exception=True) -> bool:
    """Compare autodiff gradients of ``fn`` with float64 central differences.

    ``fn`` takes Tensors and returns a Tensor. Inputs (integer ones too) are cast to float64;
    the output is projected onto a fixed random direction so non-scalar outputs are checked too.

    Args:
        fn: the function to check.
        inputs: the arrays (or Tensors) at which to check.
        eps: the finite-difference step (default 1e-6).
        atol, rtol: tolerances of the comparison (defaults 1e-5 and 1e-4).
        raise_exception: raise on mismatch (default True) instead of returning False.

    Returns:
        True when every gradient matches.

    Raises:
        AssertionError: on mismatch, naming the input, the first bad element, its value and
            both gradients there.
        TypeError: if ``fn`` does not return a Tensor.

    >>> import chainrule as cr
    >>> cr.gradcheck(lambda x: cr.tanh(x) * x, [[0.5, -1.0]])
    True
    """
    arrays = [np.array(a.data if isinstance(a, Tensor) else a, dtype=np.float64) for a in inputs]
    numeric, w = numerical_grad(fn, arrays, eps)
    ts = [Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    analytic = engine.grad(out, ts, [w.astype(out.dtype)])
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        close = np.isclose(a, n, atol=atol, rtol=rtol) if a.shape == n.shape else None
        if close is None or not close.all():
            if not raise_exception:
                return False
            if close is None:
                raise AssertionError(
                    f"gradcheck failed for input {i}: autodiff gradient has shape {a.shape}, "
                    f"numerical {n.shape}"
                )
            k = np.unravel_index(np.argmax(~close), a.shape)  # the first bad element
            raise AssertionError(
                f"gradcheck failed for input {i} at index {tuple(int(j) for j in k)} (value "
                f"{arrays[i][k]:.6g}): autodiff {a[k]:.6g}, numerical {n[k]:.6g} (tolerance "
                f"atol={atol}, rtol={rtol}; {int((~close).sum())} of {close.size} elements "
                f"differ). A kink or jump within eps={eps} of the point, or a non-finite "
                f"value, also makes the check fail.\nautodiff:\n{a}\nnumerical:\n{n}"
            )
    return True
