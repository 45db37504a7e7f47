"""Grad mode: whether ops record the graph.

``no_grad()`` and ``enable_grad()`` work as context managers and as decorators, like PyTorch's.
The flag is a module attribute read by every primitive call, so checking it costs one lookup.
"""

from __future__ import annotations

import contextlib

__all__ = ["no_grad", "enable_grad", "is_grad_enabled", "set_grad_enabled"]


class _State:
    __slots__ = ("enabled",)

    def __init__(self):
        self.enabled = True


STATE = _State()


def is_grad_enabled() -> bool:
    """True while operations record the graph for ``backward``."""
    return STATE.enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Turn graph recording on or off inside a ``with`` block or a decorated function."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._prev = []

    def __enter__(self):
        self._prev.append(STATE.enabled)
        STATE.enabled = self.mode
        return self

    def __exit__(self, *exc):
        STATE.enabled = self._prev.pop()
        return False


class no_grad(set_grad_enabled):
    """Record no graph: results do not require grad. Use as ``with no_grad():`` or ``@no_grad()``.

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0], requires_grad=True)
    >>> with cr.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Record the graph again inside a ``no_grad`` region."""

    def __init__(self):
        super().__init__(True)
