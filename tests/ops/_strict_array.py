"""A CPU stand-in for CuPy arrays: a duck array that NumPy functions dispatch on but that never
turns into a NumPy array by itself.

``StrictArray`` holds a NumPy array and behaves as ``cupy.ndarray`` does towards NumPy:

- ``__array_ufunc__`` (every method: ``__call__``, ``reduce``, ``accumulate``, ``at``, ...) and
  ``__array_function__`` unwrap their ``StrictArray`` arguments, call NumPy and wrap every array
  result (NumPy scalars too: CuPy reductions return 0-d arrays). Ufuncs and functions NumPy has
  under another name (``np.frompyfunc`` results) are not found, as CuPy looks them up by name.
- ``__array__`` raises ``TypeError``: ``np.asarray(x)``, ``np.array(x)``, ``np.empty(x.shape)``
  mixed with ``x``, are the implicit conversions CuPy forbids.
- A NumPy array mixed with a ``StrictArray`` in a ufunc or as data of a function raises
  ``TypeError`` (CuPy: "Unsupported type"); NumPy arrays as indices (``x[idx]``,
  ``np.add.at(x, idx, v)`` with one index array), axes and shapes are allowed, as CuPy copies
  those to the device; a NumPy ``repeats`` is refused, and so is a tuple index in ``np.add.at``
  (``cupy.add.at`` takes it), and ``*_like(shape=())`` keeps the model's shape: all three as
  CuPy 14.2 did on an H200.
- ``.flags`` has CuPy's three fields (no ``writeable``: CuPy arrays are never read-only);
  ``.base`` is the owning ``StrictArray`` of a view; ``.get()`` returns the NumPy array.

This module is also the array "module" registered with ``backend.use_array_module``: like
``cupy`` it has ``ndarray``, ``asarray``, ``add.at`` and (as ``cupyx.scipy.special``)
``erf``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["StrictArray", "ndarray", "asarray", "erf", "add", "to_numpy"]


def _reject(a, where):
    raise TypeError(
        f"Unsupported type {type(a).__module__}.{type(a).__name__} in {where}: a NumPy array "
        "cannot be mixed with a device array (CuPy raises here)"
    )


def _unwrap(a, where, host_ok=False):
    if isinstance(a, StrictArray):
        return a._a
    if isinstance(a, np.ndarray) and not host_ok:
        _reject(a, where)
    if isinstance(a, (list, tuple)):
        return type(a)(_unwrap(b, where, host_ok) for b in a)
    return a


def _unwrap_index(index):
    if isinstance(index, StrictArray):
        return index._a
    if isinstance(index, tuple):
        return tuple(i._a if isinstance(i, StrictArray) else i for i in index)
    return index


def _wrap(r, sources=()):
    """Wrap NumPy results; a view's ``.base`` is the ``StrictArray`` that owns its memory."""
    if isinstance(r, tuple):
        return tuple(_wrap(x, sources) for x in r)
    if isinstance(r, list):
        return [_wrap(x, sources) for x in r]
    if isinstance(r, np.generic):
        return StrictArray(np.asarray(r))
    if not isinstance(r, np.ndarray):
        return r
    out = StrictArray(r)
    owner = r.base
    while isinstance(owner, np.ndarray) and owner.base is not None:
        owner = owner.base
    if owner is not None:
        for s in sources:
            if isinstance(s, StrictArray) and (s._a is owner or s._owner_array() is owner):
                out._base = s if s._base is None else s._base
                break
    return out


def _sources(args):
    found = []
    for a in args:
        if isinstance(a, StrictArray):
            found.append(a)
        elif isinstance(a, (list, tuple)):
            found.extend(_sources(a))
    return found


# Functions whose arguments after the first may be NumPy arrays (axes, shapes), as CuPy accepts
# host sequences there. Not np.repeat: CuPy 14 refuses a NumPy ``repeats`` (seen on an H200).
_HOST_AFTER_FIRST = {np.transpose, np.take, np.moveaxis, np.reshape, np.tile, np.broadcast_to,
                     np.expand_dims, np.squeeze}  # fmt: skip
_AT_INDEX = 1  # ufunc.at(a, indices, b): the indices may be a NumPy array
# CuPy 14's *_like read shape=() as "not given" and keep the model's shape (seen on an H200)
_LIKE = {np.empty_like, np.zeros_like, np.ones_like, np.full_like}


class _Flags:
    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, a, owndata):
        self.c_contiguous = a.flags.c_contiguous
        self.f_contiguous = a.flags.f_contiguous
        self.owndata = owndata

    def __getitem__(self, key):
        return getattr(self, key.lower())


class StrictArray:
    """A NumPy array that NumPy functions dispatch on and that refuses implicit conversion."""

    __slots__ = ("_a", "_base")
    __array_priority__ = 100  # below Tensor's 1000: ``array op Tensor`` reaches the Tensor

    def __init__(self, a):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"StrictArray wraps a NumPy array, received {type(a).__name__}")
        self._a = a
        self._base = None

    def _owner_array(self):
        a = self._a
        while isinstance(a.base, np.ndarray):
            a = a.base
        return a

    # -- the conversions CuPy forbids, and the one it offers --------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to "
            "construct a NumPy array explicitly."
        )

    def get(self):
        """The data as a NumPy array (a copy, as CuPy's device-to-host transfer)."""
        return self._a.copy()

    # -- the NumPy protocols ---------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if getattr(np, ufunc.__name__, None) is not ufunc:
            return NotImplemented  # CuPy finds ufuncs by name: frompyfunc results are unknown
        at = method == "at"
        for a in inputs:
            # a Tensor: its reflected operator takes over. A tuple index of ufunc.at: CuPy
            # refuses it here too (seen on an H200); cupy.add.at itself takes it.
            if not isinstance(a, (StrictArray, np.ndarray, np.generic, numbers.Number)):
                return NotImplemented
        where = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        raw = [_unwrap_index(a) if at and i == _AT_INDEX else _unwrap(a, where)
               for i, a in enumerate(inputs)]  # fmt: skip
        out = kwargs.get("out")
        if out is not None:
            outs = out if isinstance(out, tuple) else (out,)
            if not all(isinstance(o, StrictArray) for o in outs):
                _reject(outs[0], f"{where}(out=)")
            kwargs["out"] = tuple(o._a for o in outs)
        if "where" in kwargs:
            kwargs["where"] = _unwrap(kwargs["where"], where)
        result = getattr(ufunc, method)(*raw, **kwargs)
        if method == "at":
            return None
        if out is not None:
            return out if isinstance(out, tuple) and len(out) > 1 else outs[0]
        return _wrap(result, inputs)

    def __array_function__(self, func, types, args, kwargs):
        for t in types:
            if not issubclass(t, (StrictArray, np.ndarray)):
                return NotImplemented
        where = f"np.{func.__name__}"
        if func in _LIKE and kwargs.get("shape") == ():
            kwargs = {k: v for k, v in kwargs.items() if k != "shape"}  # as CuPy 14 (an H200)
        if func in _HOST_AFTER_FIRST:
            raw = [_unwrap(a, where, host_ok=i > 0) for i, a in enumerate(args)]
            kw = {k: _unwrap(v, where, host_ok=True) for k, v in kwargs.items()}
        else:
            raw = [_unwrap(a, where) for a in args]
            kw = {k: _unwrap(v, where) for k, v in kwargs.items()}
        return _wrap(func(*raw, **kw), _sources(args))

    # -- attributes -------------------------------------------------------------------------
    @property
    def shape(self):
        return self._a.shape

    @property
    def dtype(self):
        return self._a.dtype

    @property
    def ndim(self):
        return self._a.ndim

    @property
    def size(self):
        return self._a.size

    @property
    def itemsize(self):
        return self._a.itemsize

    @property
    def nbytes(self):
        return self._a.nbytes

    @property
    def strides(self):
        return self._a.strides

    @property
    def flags(self):
        return _Flags(self._a, self._base is None and self._a.base is None)

    @property
    def base(self):
        return self._base

    @property
    def T(self):
        return _wrap(self._a.T, (self,))

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        for i in range(len(self._a)):
            yield self[i]

    def __repr__(self):
        return f"StrictArray({self._a!r})"

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def item(self, *args):
        return self._a.item(*args)

    def tolist(self):
        return self._a.tolist()

    def __getitem__(self, index):
        return _wrap(self._a[_unwrap_index(index)], (self,))

    def __setitem__(self, index, value):
        self._a[_unwrap_index(index)] = _unwrap(value, "__setitem__")

    # -- methods (each calls the NumPy method on the data and wraps the result) --------------
    def _call(self, name, *args, **kwargs):
        args = [_unwrap(a, f"ndarray.{name}", host_ok=True) for a in args]
        kwargs = {k: _unwrap(v, f"ndarray.{name}") for k, v in kwargs.items()}
        return _wrap(getattr(self._a, name)(*args, **kwargs), (self,))

    def copy(self, order="C"):
        return StrictArray(self._a.copy(order))

    def astype(self, dtype, copy=True, **kwargs):
        r = self._a.astype(dtype, copy=copy, **kwargs)
        return self if r is self._a else _wrap(r, (self,))

    def view(self, *args):
        return self._call("view", *args)

    def fill(self, value):
        self._a.fill(value)


def _method(name):
    def method(self, *args, **kwargs):
        return self._call(name, *args, **kwargs)

    method.__name__ = name
    return method


for _name in ("reshape", "transpose", "swapaxes", "squeeze", "ravel", "flatten", "sum", "mean",
              "max", "min", "prod", "cumsum", "cumprod", "any", "all", "argmax", "argmin", "std",
              "var", "clip", "dot", "nonzero", "round", "repeat", "take"):  # fmt: skip
    setattr(StrictArray, _name, _method(_name))


def _binary(ufunc, reflected=False):
    def op(self, other):
        if not isinstance(other, (StrictArray, np.ndarray, np.generic, numbers.Number)):
            return NotImplemented
        return ufunc(other, self) if reflected else ufunc(self, other)

    return op


def _inplace(ufunc):
    def op(self, other):
        if not isinstance(other, (StrictArray, np.generic, numbers.Number)):
            _reject(other, f"np.{ufunc.__name__}(out=)")
        ufunc(self, other, out=self)
        return self

    return op


_BINARY = (("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
           ("truediv", np.true_divide), ("floordiv", np.floor_divide), ("mod", np.remainder),
           ("pow", np.power), ("matmul", np.matmul), ("and", np.bitwise_and),
           ("or", np.bitwise_or), ("xor", np.bitwise_xor))  # fmt: skip
_COMPARE = (("eq", np.equal), ("ne", np.not_equal), ("lt", np.less), ("le", np.less_equal),
            ("gt", np.greater), ("ge", np.greater_equal))  # fmt: skip
for _name, _uf in _BINARY:
    setattr(StrictArray, f"__{_name}__", _binary(_uf))
    setattr(StrictArray, f"__r{_name}__", _binary(_uf, reflected=True))
    if _name != "matmul":
        setattr(StrictArray, f"__i{_name}__", _inplace(_uf))
for _name, _uf in _COMPARE:
    setattr(StrictArray, f"__{_name}__", _binary(_uf))
StrictArray.__neg__ = lambda self: np.negative(self)
StrictArray.__pos__ = lambda self: np.positive(self)
StrictArray.__abs__ = lambda self: np.absolute(self)
StrictArray.__invert__ = lambda self: np.invert(self)
StrictArray.__hash__ = None  # as ndarray: mutable, compares elementwise


# -- the module-level interface ``backend.use_array_module`` reads (as ``cupy``'s) -----------
ndarray = StrictArray


def asarray(a, dtype=None):
    """A ``StrictArray`` from a number, a NumPy array or a ``StrictArray`` (``cupy.asarray``)."""
    if isinstance(a, StrictArray):
        return a if dtype is None else a.astype(dtype, copy=False)
    return StrictArray(np.array(a, dtype=dtype))


class _Add:
    """``cupy.add``'s ``at``: unlike the ``np.add.at`` dispatch, it takes a tuple index."""

    @staticmethod
    def at(a, indices, b):
        np.add.at(a._a, _unwrap_index(indices), _unwrap(b, "add.at"))


add = _Add()
_erf = np.frompyfunc(math.erf, 1, 1)


def erf(x):
    """Elementwise error function (the role of ``cupyx.scipy.special.erf``)."""
    a = x._a
    return StrictArray(np.asarray(_erf(a), dtype=a.dtype))


def to_numpy(x):
    """The NumPy data of a ``StrictArray`` (a NumPy array is returned as is)."""
    return x.get() if isinstance(x, StrictArray) else x
