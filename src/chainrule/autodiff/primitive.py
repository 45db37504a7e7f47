"""Primitives and their vector-Jacobian products (VJPs): the one op table.

A primitive is a plain function on arrays. ``@primitive`` turns it into an op on Tensors: it
unwraps Tensor arguments, runs the function, wraps the result, and records a ``Node`` when grad
mode is on and some input requires grad. ``defvjp`` attaches one gradient rule per positional
array argument::

    @primitive
    def multiply(x, y):
        return x * y

    defvjp(multiply,
           lambda g, out, x, y: g * y,      # d/dx
           lambda g, out, x, y: g * x)      # d/dy

A VJP receives the upstream gradient ``g``, the forward output ``out``, the forward's
positional arguments as arrays and its keyword arguments. It returns an array that may still
have the broadcast shape: the engine sums it back to the input's shape (see ``engine.py``).
"""

from __future__ import annotations

import inspect
import itertools
import numbers

from .. import backend
from ..backend import np
from . import grad_mode
from .tensor import Tensor

__all__ = ["primitive", "defvjp", "defvjp_argnum", "defvjp_all", "Node", "Op",
           "nondifferentiable", "records"]

_STATE = grad_mode.STATE
_FAST = frozenset((float, int, bool))  # passed through without checks
_NUMBER_TYPES = (numbers.Number, np.generic, np.ndarray, type(None), slice)


class Op:
    """The record of one primitive: its name, forward function and VJPs (one per argument)."""

    __slots__ = ("name", "fn", "vjps", "vjp_argnum", "vjp_all", "nargs", "differentiable")

    def __init__(self, fn, name, nargs, differentiable):
        self.name = name
        self.fn = fn
        self.vjps = ()
        self.vjp_argnum = None  # for variadic ops: vjp_argnum(i, g, out, *args, **kwargs)
        self.vjp_all = None  # vjp_all(needs, g, out, *args, **kwargs) -> one gradient per arg
        self.nargs = nargs
        self.differentiable = differentiable

    def __repr__(self):
        return f"<op {self.name}>"


_SEQUENCE = itertools.count()


class Node:
    """One recorded application of an op: the input tensors, their arrays, kwargs and output.

    ``seq`` numbers nodes in creation order. A node is created after the nodes of all its
    inputs, so decreasing ``seq`` is a reverse topological order: the backward pass walks the
    graph in that order without sorting it first.
    """

    __slots__ = ("op", "parents", "args", "kwargs", "out", "seq")

    def __init__(self, op, parents, args, kwargs, out):
        self.op = op
        self.parents = parents  # (position, Tensor) for each input that requires grad
        self.args = args  # the arrays (or plain values) the forward saw
        self.kwargs = kwargs
        self.out = out
        self.seq = next(_SEQUENCE)


def _coerce(value, opname):
    """Turn a non-Tensor positional argument into something the forward can use."""
    if isinstance(value, (complex, np.complexfloating)):  # numbers.Number lets these through
        raise TypeError(
            f"{opname}() received the complex number {value!r}; chainrule supports real "
            "(bool, int, float) data only"
        )
    if isinstance(value, _NUMBER_TYPES) or backend.is_array(value):
        if isinstance(value, np.ndarray) and value.dtype.kind not in "biuf":
            raise TypeError(f"{opname}() received an array of unsupported dtype {value.dtype}")
        return value
    if isinstance(value, (list, tuple)):
        try:
            arr = np.asarray(value)
        except ValueError as err:
            raise TypeError(f"{opname}() received a ragged {type(value).__name__}") from err
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"{opname}() received an unsupported type: {type(value).__name__} of "
                f"{arr.dtype} (expected numbers, arrays or Tensors)"
            )
        if arr.dtype == np.float64:
            arr = arr.astype(backend.floatx())
        return arr
    raise TypeError(
        f"{opname}() received an unsupported type: {type(value).__name__} "
        "(expected a Tensor, NumPy array or number)"
    )


def primitive(fn=None, *, name=None, nargs=None, differentiable=True):
    """Make ``fn`` (arrays in, one array out) an op on Tensors that autodiff can trace.

    Args:
        fn: the forward function.
        name: the op name used in errors and ``repr`` (default ``fn.__name__``).
        nargs: how many leading positional arguments are arrays (default: all). The others
            are passed through unchanged (shapes, axes).
        differentiable: False for ops with no gradient (argmax, comparisons): their result
            never requires grad.

    Returns:
        A function on Tensors, arrays and numbers returning a Tensor.
    """
    if fn is None:
        return lambda f: primitive(f, name=name, nargs=nargs, differentiable=differentiable)

    op = Op(fn, name or fn.__name__, nargs, differentiable)
    state = _STATE
    opname = op.name
    differentiable = op.differentiable
    new = object.__new__
    generic, asarray, ndarray = np.generic, np.asarray, np.ndarray

    def apply(*args, **kwargs):
        inputs = None  # (position, tensor) for each input that requires grad
        raw = []
        push = raw.append
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                push(a.data)
                if a.requires_grad:
                    if inputs is None:
                        inputs = [(i, a)]
                    else:
                        inputs.append((i, a))
            elif (type(a) is ndarray and a.dtype.kind in "biuf") or type(a) in _FAST or (
                    nargs is not None and i >= nargs):  # fmt: skip
                push(a)  # (arrays first: after Tensors, what training steps pass)
            else:
                push(_coerce(a, opname))
        try:
            out = fn(*raw, **kwargs)
        except ValueError as err:
            shapes = ", ".join(str(getattr(r, "shape", ())) for r in raw[: nargs or len(raw)])
            raise ValueError(f"{opname}(): {err} (input shapes: {shapes})") from None
        if isinstance(out, generic):
            out = asarray(out)  # NumPy returns scalars from 0-d ops; keep arrays throughout
        t = new(Tensor)
        t.data = out
        t.grad = None
        if inputs is not None and state.enabled and differentiable:
            if not op.vjps and op.vjp_argnum is None and op.vjp_all is None:
                raise NotImplementedError(f"op {opname!r} has no gradient rule (defvjp)")
            t.requires_grad = True
            t._node = Node(op, inputs, raw, kwargs, out)
        else:
            t.requires_grad = False
            t._node = None
        return t

    apply.op = op
    apply.__name__ = op.name
    apply.__qualname__ = op.name
    # pickle finds an op by module and name: the module that defines it (and binds the
    # wrapper under that name), not this one
    apply.__module__ = getattr(fn, "__module__", None) or __name__
    apply.__doc__ = fn.__doc__
    apply.__wrapped__ = fn
    return apply


def records(*args) -> bool:
    """Whether a primitive applied to ``args`` now would record a node: grad mode is on and
    some argument is a Tensor that requires grad. Ops ask it to skip the work only a backward
    pass needs (keeping what the forward found for the gradient)."""
    return _STATE.enabled and any(isinstance(a, Tensor) and a.requires_grad for a in args)


def defvjp(op_fn, *vjps):
    """Attach gradient rules to a primitive, one per positional array argument, in order.

    Each rule is ``vjp(g, out, *args, **kwargs) -> array``; use ``None`` for an argument that
    has no gradient (an integer index, a boolean condition). Fewer rules than arguments is
    allowed: using a trailing argument without a rule under grad raises at backward time.

    Raises:
        ValueError: if there are more rules than the forward has array arguments.
    """
    op = op_fn.op
    limit = _array_arity(op)
    if limit is not None and len(vjps) > limit:
        raise ValueError(
            f"defvjp({op.name}) received {len(vjps)} gradient rules but the forward takes "
            f"{limit} positional array argument{'s' if limit != 1 else ''}"
        )
    op.vjps = tuple(vjps)
    return op_fn


def _array_arity(op):
    """How many positional array arguments ``op``'s forward takes (None: any number)."""
    if op.nargs is not None:
        return op.nargs
    try:
        params = inspect.signature(op.fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature
        return None
    kinds = [p.kind for p in params]
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        return None
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(k in positional for k in kinds)


def defvjp_argnum(op_fn, vjp_argnum):
    """Attach one gradient rule for all arguments of a variadic primitive (concatenate,
    stack): ``vjp_argnum(i, g, out, *args, **kwargs)`` returns the gradient for argument ``i``."""
    op_fn.op.vjp_argnum = vjp_argnum
    return op_fn


def defvjp_all(op_fn, vjp_all):
    """Attach one gradient rule that returns every argument's gradient in one call.

    ``vjp_all(needs, g, out, *args, **kwargs)`` returns a sequence with one entry per
    positional array argument: the gradient for each position in ``needs`` (a tuple of the
    positions that require grad), anything (None) elsewhere. Use it when the arguments'
    gradients share work, as a fused op's do (a mask, a reshaped ``g``): computed once, not
    once per argument. It takes precedence over ``defvjp`` rules.
    """
    op_fn.op.vjp_all = vjp_all
    return op_fn


def nondifferentiable(fn=None, *, name=None, nargs=None):
    """Declare a primitive with no gradient: its result never requires grad."""
    return primitive(fn, name=name, nargs=nargs, differentiable=False)
