"""The differentiable op library, and the Tensor operators built on it.

The convolution/pooling and recurrent families load on first use (PEP 562 ``__getattr__``):
``import chainrule.keras`` does not need them, and compiling and loading them was a fifth of
its import time. ``chainrule.ops.conv2d``-style access, ``from chainrule.ops import lstm_scan``
and ``from chainrule.ops import *`` all work as if they were imported eagerly.
"""

import importlib
import sys
import types

from ..autodiff.tensor import Tensor
from .elementwise import *  # noqa: F403
from .elementwise import __all__ as _ew
from .linalg import *  # noqa: F403
from .linalg import __all__ as _la
from .nn import *  # noqa: F403
from .nn import __all__ as _nn
from .reduction import *  # noqa: F403
from .reduction import __all__ as _red
from .shape import *  # noqa: F403
from .shape import __all__ as _sh
from .shape import _shape_arg, _unwrap_index

# The public names of the lazily loaded submodules (a test checks them against their __all__).
_LAZY = {
    "conv": ("conv", "conv_transpose", "depthwise_conv", "separable_conv", "conv_padding",
             "conv_output_size"),
    "pooling": ("max_pool", "average_pool"),
    "recurrent": ("simple_rnn_scan", "lstm_scan", "gru_scan"),
}  # fmt: skip
_LAZY_NAMES = {name: module for module, names in _LAZY.items() for name in names}
_EAGER = [*_ew, *_la, *_nn, *_red, *_sh]
__all__ = [*_EAGER, *_LAZY_NAMES]


def _bind(module):
    """Bind a lazily loaded submodule's public names here. Runs after the import system has
    set the submodule as an attribute, so the op ``conv`` replaces the module ``conv``."""
    for name in module.__all__:
        globals()[name] = getattr(module, name)


class _OpsModule(types.ModuleType):
    """``chainrule.ops`` itself: when the import system attaches a lazy submodule (on first use,
    or on a direct ``import chainrule.ops.conv``), its ops are bound at once."""

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name in _LAZY and isinstance(value, types.ModuleType):
            _bind(value)


sys.modules[__name__].__class__ = _OpsModule


def __getattr__(name):
    module = _LAZY_NAMES.get(name, name if name in _LAZY else None)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    importlib.import_module(f".{module}", __name__)  # binds its ops through _OpsModule
    return globals()[name]


def __dir__():
    return sorted({*globals(), *__all__})


def _install_operators():
    """Attach Python operators and NumPy-style methods to Tensor."""
    T = Tensor
    T.__add__ = add  # noqa: F405
    T.__radd__ = lambda a, b: add(b, a)  # noqa: F405
    T.__sub__ = subtract  # noqa: F405
    T.__rsub__ = lambda a, b: subtract(b, a)  # noqa: F405
    T.__mul__ = multiply  # noqa: F405
    T.__rmul__ = lambda a, b: multiply(b, a)  # noqa: F405
    T.__truediv__ = divide  # noqa: F405
    T.__rtruediv__ = lambda a, b: divide(b, a)  # noqa: F405
    T.__pow__ = power  # noqa: F405
    T.__rpow__ = lambda a, b: power(b, a)  # noqa: F405
    T.__matmul__ = matmul  # noqa: F405
    T.__rmatmul__ = lambda a, b: matmul(b, a)  # noqa: F405
    T.__neg__ = negative  # noqa: F405
    T.__pos__ = lambda a: a
    T.__abs__ = lambda a: abs(a)  # noqa: F405
    T.__eq__ = lambda a, b: equal(a, b)  # noqa: F405
    T.__ne__ = lambda a, b: not_equal(a, b)  # noqa: F405
    T.__lt__ = lambda a, b: less(a, b)  # noqa: F405
    T.__le__ = lambda a, b: less_equal(a, b)  # noqa: F405
    T.__gt__ = lambda a, b: greater(a, b)  # noqa: F405
    T.__ge__ = lambda a, b: greater_equal(a, b)  # noqa: F405
    T.__getitem__ = lambda a, idx: getitem(a, _unwrap_index(idx))  # noqa: F405
    T.__hash__ = lambda a: id(a)
    T.T = property(lambda a: transpose(a))  # noqa: F405
    T.reshape = lambda a, *shape: reshape(a, _shape_arg(shape))  # noqa: F405
    T.transpose = lambda a, *axes: transpose(a, _shape_arg(axes) or None)  # noqa: F405
    T.astype = lambda a, dtype: astype(a, dtype)  # noqa: F405
    T.flatten = lambda a: flatten(a)  # noqa: F405
    for name in ("sum", "mean", "max", "min", "prod", "var", "std", "argmax", "argmin",
                 "squeeze", "swapaxes", "clip", "exp", "log", "sqrt", "tanh", "sigmoid", "relu",
                 "softmax", "log_softmax", "logsumexp", "norm", "expand_dims", "square",
                 "repeat", "abs", "sign", "sin", "cos", "take"):  # fmt: skip
        setattr(T, name, _method(globals()[name]))


def _method(fn):
    """A Tensor method for ``fn``. NumPy's ``np.sum(t)`` and friends call ``t.sum(axis=...,
    dtype=None, out=None)``: the unused NumPy-only arguments are accepted when None."""

    def method(a, *args, **kw):
        if kw.get("out", None) is not None:
            raise TypeError(f"Tensor.{fn.__name__}() does not support out=")
        if kw.get("dtype", None) is not None:
            raise TypeError(f"Tensor.{fn.__name__}() does not support dtype=; use astype")
        kw.pop("out", None)
        kw.pop("dtype", None)
        return fn(a, *args, **kw)

    method.__name__ = fn.__name__
    method.__doc__ = fn.__doc__
    return method


_install_operators()
