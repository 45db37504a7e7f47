"""A chain of primitives applied to arrays, and its backward pass, with no Tensor or graph node.

NOTE: for speed. A training step of a small model is mostly Python overhead: every primitive
call makes a Tensor and a ``Node``, and ``grad`` walks a heap of them. When a step is a straight
chain (each primitive takes the previous one's result, the weights and constants), the same
functions and gradient rules can run on the arrays directly: fit's array step
(``keras/trainers/array_step.py``) does that.

The arithmetic is the graph's, bit for bit: ``apply`` runs a primitive's own forward function
as ``@primitive`` does (Tensors read as their arrays, NumPy scalars made 0-d arrays), and
``backward`` runs the gradient rules through ``engine.input_grads``, the engine's own code,
in the order the engine would (last application first; within one, by argument position), so
gradients that add up add in the same order.
"""

from __future__ import annotations

from ..backend import np
from .engine import input_grads
from .tensor import Tensor

__all__ = ["ArrayTape"]


class ArrayTape:
    """The applications recorded by :meth:`apply`, for :meth:`backward`.

    >>> import numpy as np
    >>> from chainrule import ops
    >>> import chainrule as cr
    >>> w = cr.tensor(np.float32(3.0), requires_grad=True)
    >>> tape = ArrayTape()
    >>> x = np.float32([1.0, 2.0])
    >>> y, needs_grad = tape.apply(ops.multiply, (x, w), {}, x, x, False)
    >>> y, needs_grad
    (array([3., 6.], dtype=float32), True)
    >>> float(tape.backward(np.ones(2, np.float32))[id(w)])
    3.0
    """

    __slots__ = ("records",)

    def __init__(self):
        self.records = []

    def apply(self, primitive, args, kwargs, slot, x, x_grad):
        """``primitive(*args, **kwargs)`` on arrays.

        ``slot`` stands for the chain's current array ``x`` in ``args`` (found by identity; it
        may be ``x`` itself); ``x`` requires grad when ``x_grad`` is true. A Tensor argument is
        read as its array and requires grad as the Tensor does (it must be a leaf: no graph
        node); anything else is passed as it is.

        Returns:
            ``(out, requires_grad)``: the forward's array, and whether it depends on
            something that requires grad (then its application is recorded).

        Raises:
            TypeError: for a Tensor argument with a graph behind it (its gradient would have
                to flow on through the graph).
            NotImplementedError: if the result requires grad and the op has no gradient rule
                (as ``@primitive``).
        """
        op = primitive.op
        raw = []
        positions = []
        for i, a in enumerate(args):
            if a is slot:
                raw.append(x)
                if x_grad:
                    positions.append(i)
            elif isinstance(a, Tensor):
                if a._node is not None:
                    raise TypeError(
                        f"argument {i} of {op.name!r} is a Tensor computed by graph ops; an "
                        "ArrayTape takes leaf Tensors only (it files gradients by leaf)"
                    )
                raw.append(a.data)
                if a.requires_grad:
                    positions.append(i)
            else:
                raw.append(a)
        out = op.fn(*raw, **kwargs)
        if type(out) is not np.ndarray and isinstance(out, np.generic):
            out = np.asarray(out)
        if not positions or not op.differentiable:
            return out, False
        if not op.vjps and op.vjp_argnum is None and op.vjp_all is None:
            raise NotImplementedError(f"op {op.name!r} has no gradient rule (defvjp)")
        self.records.append((op, tuple(positions), args, slot, out, raw, kwargs))
        return out, True

    def record(self, op, position, out, raw, kwargs):
        """Record an application of ``op`` already computed elsewhere (a graph node's
        ``op``, ``out``, ``args`` and ``kwargs``) whose argument ``position`` is the chain's
        value, the only one that requires grad: :meth:`backward` then runs its rule as for
        one :meth:`apply` recorded."""
        slot = object()
        args = tuple(slot if i == position else a for i, a in enumerate(raw))
        self.records.append((op, (position,), args, slot, out, list(raw), kwargs))

    def backward(self, g):
        """Run the gradient rules from the last application back, ``g`` being the gradient
        of the chain's last value.

        Returns:
            ``{id(tensor): gradient}`` for each Tensor argument that required grad (several
            uses of one Tensor add up). The arrays may be shared with each other or with
            ``g``: ``engine.owned_results`` makes them the caller's own.
        """
        found = {}
        for op, positions, args, slot, out, raw, kwargs in reversed(self.records):
            if g is None:  # the chain's value before this point did not require grad
                break
            pgs = input_grads(op, positions, g, out, raw, kwargs)
            g = None
            for i, pg in zip(positions, pgs):
                t = args[i]
                if t is slot:
                    g = pg if g is None else g + pg
                else:
                    k = id(t)
                    found[k] = pg if k not in found else found[k] + pg
        return found
