"""Reverse-mode automatic differentiation: Tensor, primitives, the engine and grad mode."""

from .engine import backward, grad
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import gradcheck, numerical_grad
from .primitive import Node, defvjp, defvjp_all, defvjp_argnum, nondifferentiable, primitive
from .tensor import Tensor, as_array, tensor

__all__ = [
    "Tensor",
    "tensor",
    "as_array",
    "backward",
    "grad",
    "gradcheck",
    "numerical_grad",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "set_grad_enabled",
    "primitive",
    "defvjp",
    "defvjp_argnum",
    "defvjp_all",
    "nondifferentiable",
    "Node",
]
