"""chainrule: a small, fast deep-learning framework with reverse-mode autodiff on NumPy.

>>> import chainrule as cr
>>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> y = (x * x).sum()
>>> y.backward()
>>> x.grad
array([2., 4., 6.], dtype=float32)
"""

from . import backend
from . import ops as _ops
from .autodiff import (
    Tensor,
    backward,
    defvjp,
    defvjp_all,
    defvjp_argnum,
    enable_grad,
    grad,
    gradcheck,
    is_grad_enabled,
    no_grad,
    nondifferentiable,
    numerical_grad,
    primitive,
    set_grad_enabled,
    tensor,
)
from .backend import floatx, set_floatx, set_random_seed

# The ops, bound here without loading the lazy families (conv, recurrent; see chainrule.ops).
globals().update({_name: getattr(_ops, _name) for _name in _ops._EAGER})

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "grad", "backward", "no_grad", "enable_grad", "is_grad_enabled",
    "set_grad_enabled", "primitive", "defvjp", "defvjp_argnum", "defvjp_all", "nondifferentiable",
    "gradcheck", "numerical_grad", "set_random_seed", "floatx", "set_floatx", "backend",
    *_ops.__all__,
]  # fmt: skip


def __getattr__(name):
    # `chainrule.keras` and the lazy op families load on first use so `import chainrule` stays
    # light.
    if name == "keras":
        import importlib  # noqa: PLC0415

        return importlib.import_module(".keras", __name__)
    if name in _ops._LAZY_NAMES:
        value = globals()[name] = getattr(_ops, name)
        return value
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *__all__})
