"""Grad mode: whether ops record the graph.

``no_grad()`` and ``enable_grad()`` work as context managers and as decorators, like PyTorch's.
The flag is a module attribute read by every primitive call, so checking it costs one lookup.
"""

from __future__ import annotations

import contextlib
import functools
import inspect

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
    """Turn graph recording on or off: as a plain call, a ``with`` block or a decorator.

    As in PyTorch, ``set_grad_enabled(False)`` on its own sets the mode until changed;
    ``with set_grad_enabled(m):`` and ``@set_grad_enabled(m)`` set it only inside (decorating
    does not change the mode). A decorated generator runs each step under the mode and gives
    the caller's mode back between steps. Grad mode is one global flag: not thread-safe.
    """

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._prev = []
        self._before = None  # the mode a plain call replaced, until a `with` or decorator
        if type(self) is set_grad_enabled:
            self._before = STATE.enabled
            STATE.enabled = self.mode

    def __enter__(self):
        prev = STATE.enabled if self._before is None else self._before
        self._before = None
        self._prev.append(prev)
        STATE.enabled = self.mode
        return self

    def __exit__(self, *exc):
        STATE.enabled = self._prev.pop()
        return False

    def __call__(self, fn):
        if self._before is not None:  # decorating is not a plain call: undo it
            STATE.enabled = self._before
            self._before = None
        if inspect.isgeneratorfunction(fn):
            return self._wrap_generator(fn)
        return super().__call__(fn)

    def _wrap_generator(self, fn):
        # NOTE: ContextDecorator would enter and leave the mode when the generator object is
        # made, before its body runs; instead every resume of the body runs inside the mode.
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            gen = fn(*args, **kwargs)
            try:
                with self:
                    value = next(gen)
                while True:
                    try:
                        sent = yield value
                    except GeneratorExit:
                        with self:
                            gen.close()
                        raise
                    except BaseException as exc:  # noqa: BLE001 - forwarded into the body
                        with self:
                            value = gen.throw(exc)
                    else:
                        with self:
                            value = gen.send(sent)
            except StopIteration as stop:
                return stop.value

        return wrapper


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
