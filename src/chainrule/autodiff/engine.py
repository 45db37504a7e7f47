"""The backward pass: topological order, reverse walk, accumulate, un-broadcast.

Readable in one sitting, like micrograd's engine: everything about reverse mode is here.
"""

from __future__ import annotations

import heapq

from ..backend import is_array, np
from .tensor import Tensor, as_array

__all__ = ["backward", "grad", "unbroadcast"]


def unbroadcast(g, shape, opname=None, argnum=None):
    """Sum a gradient of a broadcast result back to an input's ``shape``.

    Leading axes the input did not have are summed away; axes where the input had size 1 are
    summed with ``keepdims``. This runs once here, so VJPs never repeat it.

    Raises:
        ValueError: naming the op and argument when ``g`` is not the shape of a broadcast of
            ``shape`` (a gradient rule returned the wrong shape). Broadcasting the gradient up
            instead would silently multiply it.
    """
    if g.shape == shape:
        return g
    given = g.shape
    if g.ndim > len(shape):
        g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    if g.ndim == len(shape):
        axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
        if axes:
            g = g.sum(axis=axes, keepdims=True)
    if g.shape != shape:
        where = f"op {opname!r}, argument {argnum}" if opname is not None else "a gradient"
        raise ValueError(
            f"the gradient rule of {where} returned shape {given}, which is not a broadcast "
            f"of the input's shape {shape}; a VJP must return the input's shape (or a "
            "broadcast of it)"
        )
    return g


def _not_an_array(op, i, pg, pdata):
    return TypeError(
        f"the gradient rule of op {op.name!r} for argument {i} returned "
        f"{type(pg).__name__}; expected an array of shape {pdata.shape}"
    )


def _cast(pg, dtype, op, i):
    if pg.dtype.kind == "c":
        raise TypeError(
            f"the gradient rule of op {op.name!r} for argument {i} returned a complex "
            f"gradient ({pg.dtype}) for a real input ({dtype}); casting would drop the "
            "imaginary part"
        )
    return pg.astype(dtype)


def input_grads(op, positions, g, out, args, kwargs):
    """The gradients of one application of ``op`` for the arguments at ``positions`` (a
    tuple, in increasing order), given the upstream gradient ``g``: each from the op's rule,
    summed back to its argument's shape and cast to its dtype.

    ``args`` are the arrays (and plain values) the forward received, ``out`` its result.
    """
    every = op.vjp_all
    if every is not None:
        every = every(positions, g, out, *args, **kwargs)
    by_argnum, vjps = op.vjp_argnum, op.vjps
    result = []
    for i in positions:
        if every is not None:
            pg = every[i]
        elif by_argnum is not None:
            pg = by_argnum(i, g, out, *args, **kwargs)
        else:
            vjp = vjps[i] if i < len(vjps) else None
            if vjp is None:
                raise NotImplementedError(
                    f"op {op.name!r} has no gradient for argument {i}, which requires grad"
                )
            pg = vjp(g, out, *args, **kwargs)
        pdata = args[i]
        try:
            gshape = pg.shape
        except AttributeError:
            raise _not_an_array(op, i, pg, pdata) from None
        if gshape != pdata.shape:
            pg = unbroadcast(pg, pdata.shape, op.name, i)
        if pg.dtype != pdata.dtype:
            pg = _cast(pg, pdata.dtype, op, i)
        result.append(pg)
    return result


# KEYS. The walk files a tensor's gradient under ``id(t._node)``, or ``id(t)`` for a leaf
# (``_node is None``). Tensors that share a node (a masked output and the op's own result, see
# ``keras/layers/rnn/masking.py attach_mask``) are one value: their gradients add up, the
# node's rule runs once, and ``grad`` with respect to either sees the total.


def _run(root, seed, wanted):
    """Walk the graph backwards from ``root`` with upstream gradient ``seed``.

    Tensors are taken from a heap in decreasing node ``seq`` (creation order): every consumer
    of a tensor was created after it, so when a tensor is taken its gradient is complete. Only
    tensors that receive a gradient are visited; no topological sort is built first.

    Returns ``(leaves, found)``: when ``wanted`` is None, the list of ``(leaf, gradient)`` for
    every leaf reached; otherwise the dict ``key -> gradient`` (see KEYS) for the keys in
    ``wanted``.
    """
    collect = wanted is not None
    found = {}
    rn = root._node
    grads = {id(root) if rn is None else id(rn): seed}
    reached = [root] if rn is None else []  # leaves, in the order first reached
    heap = [] if rn is None else [(-rn.seq, id(rn), root)]
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        _, k, t = pop(heap)
        g = grads.pop(k)
        if collect and k in wanted:
            found[k] = g
        node = t._node
        parents = node.parents
        pgs = input_grads(node.op, tuple([i for i, _ in parents]), g, node.out, node.args,
                          node.kwargs)  # fmt: skip
        for (_, p), pg in zip(parents, pgs):
            pn = p._node
            kp = id(p) if pn is None else id(pn)  # see KEYS
            if kp in grads:  # reached before: already waiting in the heap (or a leaf)
                grads[kp] = grads[kp] + pg
            else:
                grads[kp] = pg
                if pn is None:
                    reached.append(p)
                else:
                    push(heap, (-pn.seq, kp, p))  # the id breaks ties: never compares Tensors
    leaves = []
    for t in reached:
        k = id(t)
        g = grads.pop(k)
        if collect:
            if k in wanted:
                found[k] = g
        else:
            leaves.append((t, g))
    return leaves, found


_ONES = {}  # dtype -> a read-only 0-d array of 1: the seed of every scalar loss


def scalar_seed(dtype):
    """The upstream gradient of a scalar loss of ``dtype``: one shared read-only 0-d 1 (a
    result that is the seed itself gets copied before it is handed out)."""
    one = _ONES.get(dtype)
    if one is None:
        one = _ONES[dtype] = np.ones((), dtype)
        one.flags.writeable = False
    return one


def _seed(root, grad_output):
    if not isinstance(root, Tensor):
        raise TypeError(f"expected a Tensor output, received {type(root).__name__}")
    if not root.requires_grad:
        raise RuntimeError(
            f"this tensor (shape {root.shape}) does not require grad: no input of the "
            "computation had requires_grad=True, or it was computed under no_grad()"
        )
    if grad_output is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() needs a grad argument for a non-scalar tensor of shape "
                f"{root.shape}; pass grad= with that shape"
            )
        d = root.data
        if type(d) is np.ndarray:  # np.ones_like costs ~3 us of wrappers, on every step
            if d.ndim == 0:
                return scalar_seed(d.dtype)
            return np.ones(d.shape, d.dtype)
        return np.ones_like(d)  # CuPy arrays: dispatched to CuPy
    g = as_array(grad_output, root.dtype)
    if g.shape != root.shape:
        raise ValueError(f"grad has shape {g.shape} but the tensor has shape {root.shape}")
    return g


def _owner(a):
    """The array that owns ``a``'s memory (``a`` itself unless it is a view)."""
    while is_array(a.base):  # NumPy or CuPy views
        a = a.base
    return a


def _private(g, held):
    """``g``, or a copy of it when the caller may already hold its memory.

    VJPs pass ``g`` through unchanged (add, reshape), so two inputs' gradients, or an input's
    gradient and the caller's seed, can be one array; an in-place update of one (clipping,
    weight decay) would silently change the other. ``held`` has the ids of owners handed out.
    """
    if isinstance(g, np.generic):
        g = np.asarray(g)  # 0-d NumPy sums come back as scalars (CuPy's stay 0-d arrays)
    base = g.base
    key = id(g) if base is None else id(_owner(g))
    # read-only: a broadcast view (CuPy's flags have no `writeable`: its arrays always are)
    if key in held or not getattr(g.flags, "writeable", True):
        g = g.copy()
        key = id(g)
    held.add(key)
    return g


def backward(root: Tensor, grad_output=None) -> None:
    """Add d(root)/d(leaf) to ``leaf.grad`` for every leaf that requires grad.

    Gradients accumulate over calls until ``leaf.grad`` is set to None; the graph is kept,
    so calling ``backward`` twice gives the same gradients again (doubling ``.grad``). Each
    ``leaf.grad`` is an array of its own: it never shares memory with another leaf's gradient
    or with ``grad_output``.
    """
    seed = _seed(root, grad_output)
    leaves, _ = _run(root, seed, None)
    held = {id(_owner(seed))}
    for t, g in leaves:
        if t.grad is None:
            t.grad = _private(g, held)
        else:
            total = t.grad + g  # a new array: never mutate a shared one
            t.grad = np.asarray(total) if isinstance(total, np.generic) else total


def owned_results(inputs, keys, found, seed, missing=None):
    """``grad``'s result for one seed: the gradient in ``found`` under each input's key (see
    KEYS), zeros where there is none (their indices appended to ``missing``, if given), each
    array the caller's own (``_private``)."""
    held = {id(seed)}  # its own owner (for a scalar loss, a shared read-only 1)
    result = []
    for t, k in zip(inputs, keys):
        g = found.get(k)
        if g is None:
            if missing is not None:
                missing.append(len(result))
            g = np.zeros_like(t.data)
        elif (type(g) is np.ndarray and g.base is None and id(g) not in held
              and g.flags.writeable):  # fmt: skip
            held.add(id(g))  # NOTE: _private's common case inline: a fresh array of its own
        else:
            g = _private(g, held)
        result.append(g)
    return result


def grad(outputs, inputs, grad_outputs=None, missing=None):
    """The gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``.

    Args:
        outputs: a Tensor, or a list of Tensors whose gradients add up.
        inputs: a Tensor or a list of Tensors (leaves or intermediate results).
        grad_outputs: the upstream gradient for each output (default 1 for one-element
            outputs).
        missing: an optional list that receives the index of each input the outputs do not
            depend on (no path in the graph: PyTorch's None gradient; Keras's optimizers
            skip such variables).

    Returns:
        A list of arrays, one per input, each of that input's shape (zeros where the input
        does not influence the outputs). A single Tensor ``inputs`` still gives a list. Each
        array is the caller's own: writeable, sharing memory with no other result and no
        ``grad_outputs`` entry.

    Raises:
        RuntimeError: if an output does not require grad or is non-scalar with no grad given.
        TypeError: if an input is not a Tensor.
        ValueError: if ``grad_outputs`` does not have one entry per output, or an entry's
            shape differs from its output's.

    >>> import chainrule as cr
    >>> x = cr.tensor(3.0, requires_grad=True)
    >>> cr.grad(x * x, [x])[0]
    array(6., dtype=float32)
    """
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    keys = []  # each input's key (see KEYS), inline: this runs on every training step
    for t in inputs:
        if not isinstance(t, Tensor):
            raise TypeError(
                f"inputs[{len(keys)}] must be a Tensor, received {type(t).__name__}"
            )
        n = t._node
        keys.append(id(t) if n is None else id(n))
    if grad_outputs is None and isinstance(outputs, Tensor):
        # NOTE: the training step's case (one scalar loss), without the multi-output merging
        seed = _seed(outputs, None)
        found = _run(outputs, seed, set(keys))[1]
        return owned_results(inputs, keys, found, seed, missing)
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor) or not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        n = len(outputs)
        raise ValueError(
            f"grad_outputs has {len(grad_outputs)} entries but there "
            f"{'is 1 output' if n == 1 else f'are {n} outputs'}; give one per output"
        )
    wanted = set(keys)
    total = {}
    held = set()
    for out, go in zip(outputs, grad_outputs):
        seed = _seed(out, go)
        held.add(id(_owner(seed)))
        _, found = _run(out, seed, wanted)
        for k, g in found.items():
            total[k] = g if k not in total else total[k] + g
    result = []
    for t, k in zip(inputs, keys):
        g = total.get(k)
        if g is None and missing is not None:
            missing.append(len(result))
        result.append(np.zeros_like(t.data) if g is None else _private(g, held))
    return result
