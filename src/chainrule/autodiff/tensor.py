"""``Tensor``: an array plus what reverse-mode autodiff needs (``requires_grad``, ``grad``, the
``Node`` that made it). Operators (``+``, ``@``, indexing, ...) are attached by ``chainrule.ops``
so this module stays independent of the op library.
"""

from __future__ import annotations

from .. import backend
from ..backend import np
from . import grad_mode

__all__ = ["Tensor", "tensor", "as_array"]


def as_array(data, dtype=None):
    """Convert ``data`` to a backend array with chainrule's dtype rules.

    Python floats and (nested) lists of floats become ``floatx()`` (float32); NumPy arrays keep
    their dtype unless ``dtype`` is given; integers stay integer; booleans stay boolean.

    Raises:
        TypeError: for strings, objects or other data that is not numeric.
    """
    if isinstance(data, Tensor):
        data = data.data
    if backend.is_array(data):
        arr = data
    else:
        arr = np.asarray(data)
        if arr.dtype == np.float64 and dtype is None:
            arr = arr.astype(backend.floatx())
    if dtype is not None:
        dtype = np.dtype(dtype)
        if arr.dtype != dtype:
            arr = arr.astype(dtype)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"tensor data must be numeric (bool, int or float), received {type(data).__name__} "
            f"with dtype {arr.dtype}"
        )
    if isinstance(arr, np.generic):
        arr = np.asarray(arr)
    return arr


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    Attributes:
        data: the backend array (NumPy, or CuPy on a GPU).
        grad: the accumulated gradient (an array of ``data``'s shape), or None.
        requires_grad: whether gradients flow to this tensor.

    Create tensors with :func:`chainrule.tensor`. Leaf tensors (made by the user) accumulate
    ``grad`` over ``backward()`` calls until it is set to None.

    The graph keeps references to the arrays each op saw, with no version check: changing
    ``data`` in place (``t.data[0] = 1``, ``Variable.assign``) between the forward and
    ``backward`` changes the gradients computed. Assign after ``backward``, as optimizers do.
    Iterating gives the rows (``t[0]``, ``t[1]``, ...); a 0-d tensor cannot be iterated.
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "__weakref__")
    __array_priority__ = 1000  # NumPy defers `ndarray op Tensor` to our reflected operators

    def __init__(self, data, dtype=None, requires_grad=False):
        arr = as_array(data, dtype)
        if requires_grad and arr.dtype.kind != "f":
            raise TypeError(
                f"only float tensors can require grad, received dtype {arr.dtype}; "
                "convert with dtype='float32' first"
            )
        self.data = arr
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._node = None

    # -- properties -----------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        # NOTE: without this, Python iterates through __getitem__ until IndexError, which for a
        # 0-d tensor is at once: a silent empty loop.
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self.data.shape[0]):
            yield self[i]

    def numpy(self):
        """The data as a NumPy array (a copy from the GPU under CuPy; the array itself on CPU)."""
        d = self.data
        return d.get() if hasattr(d, "get") and not isinstance(d, np.ndarray) else d

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, received shape {self.shape}")
        return self.data.item()

    def detach(self) -> "Tensor":
        """A tensor sharing this data that does not require grad and has no history."""
        return Tensor._wrap(self.data, False)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only float tensors can require grad, received dtype {self.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def backward(self, grad=None) -> None:
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad.

        Args:
            grad: the upstream gradient, shape ``self.shape``. May be omitted only for a
                one-element tensor (it is then 1).

        Raises:
            RuntimeError: if this tensor does not require grad, or if it has more than one
                element and ``grad`` is not given.
        """
        from .engine import backward  # noqa: PLC0415 - engine imports Tensor

        backward(self, grad)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    # The NumPy ufuncs behind Python operators, mapped to ops by ``chainrule.ops``, so that
    # ``ndarray + tensor`` records the graph like ``tensor + ndarray``.
    _ufunc_ops: dict = {}

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """NumPy ufuncs on Tensors.

        Operators (``+ - * / ** @``, comparisons) with an array or NumPy scalar on the left
        give a Tensor, as with the Tensor on the left. Any other ufunc (``np.exp(t)``) works
        on the data and returns a NumPy array, which would cut ``t`` out of the graph: so it
        raises TypeError while grad mode is on and an input requires grad. Use the chainrule
        op (``chainrule.exp``), or pass ``t.detach()`` for the numbers alone.
        """
        op = self._ufunc_ops.get(ufunc) if method == "__call__" and not kwargs else None
        if op is not None:
            return op(*inputs)
        out = kwargs.get("out", ())
        if grad_mode.STATE.enabled and any(
            isinstance(a, Tensor) and a.requires_grad for a in (*inputs, *out)
        ):
            name = ufunc.__name__ + ("" if method == "__call__" else f".{method}")
            raise TypeError(
                f"np.{name} on a Tensor that requires grad would return a NumPy array cut "
                f"off from the graph; use chainrule.{ufunc.__name__} (if it exists), or "
                f"np.{name}(tensor.detach()) for the numbers alone"
            )
        arrays = [a.data if isinstance(a, Tensor) else a for a in inputs]
        if out:
            kwargs["out"] = tuple(o.data if isinstance(o, Tensor) else o for o in out)
        return getattr(ufunc, method)(*arrays, **kwargs)

    def __repr__(self):
        body = np.array2string(
            np.asarray(self.numpy()), separator=", ", prefix="tensor(", threshold=20
        )
        extra = f", dtype={self.dtype}"
        if self._node is not None:
            extra += f", grad_fn={self._node.op.name}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous"
            )
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, got {self.dtype}")
        return int(self.item())

    def __hash__(self):
        return id(self)

    @staticmethod
    def _wrap(arr, requires_grad=False, node=None) -> "Tensor":
        t = Tensor.__new__(Tensor)
        t.data = arr
        t.grad = None
        t.requires_grad = requires_grad
        t._node = node
        return t


def tensor(data, dtype=None, requires_grad=False) -> Tensor:
    """Make a tensor.

    Python floats and lists become float32 (``floatx()``); NumPy arrays keep their dtype
    (float64 stays float64); integer data stays integer and cannot require grad.

    Args:
        data: a number, nested list, NumPy array or Tensor (copied by reference).
        dtype: optional dtype to cast to.
        requires_grad: whether to record gradients for this leaf. Default False.

    Raises:
        TypeError: for non-numeric data, or ``requires_grad=True`` on integer data.

    >>> import chainrule as cr
    >>> cr.tensor([1.0, 2.0]).dtype
    dtype('float32')
    """
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)
