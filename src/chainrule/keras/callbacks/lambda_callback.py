"""``keras.callbacks.LambdaCallback``: a callback built from plain functions."""

from __future__ import annotations

from .callback import Callback

__all__ = ["LambdaCallback"]

_HOOKS = (
    "on_epoch_begin", "on_epoch_end", "on_train_begin", "on_train_end", "on_train_batch_begin",
    "on_train_batch_end", "on_batch_begin", "on_batch_end", "on_test_begin", "on_test_end",
    "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
    "on_predict_batch_begin", "on_predict_batch_end",
)  # fmt: skip


class LambdaCallback(Callback):
    """A callback whose hooks are the functions given: ``LambdaCallback(on_epoch_end=f)``.

    The functions take the same positional arguments as the hooks they replace:
    ``on_epoch_begin/end(epoch, logs)``, ``on_train_begin/end(logs)``,
    ``on_train_batch_begin/end(batch, logs)`` and so on for every hook of :class:`Callback`.
    Hooks not given do nothing (and the trainer skips per-batch calls if no batch hook is
    given).

    Args:
        on_epoch_begin, on_epoch_end, on_train_begin, on_train_end, on_train_batch_begin,
            on_train_batch_end: functions, or None (default) for no action.
        **kwargs: any other hook of :class:`Callback` by name (e.g. ``on_test_end=f``).

    Raises:
        ValueError: for a keyword that is not a hook name; TypeError for a non-callable.

    Matches Keras 3 ``keras/src/callbacks/lambda_callback.py`` (which accepts any keyword;
    we reject misspelt hook names instead of silently ignoring them).

    >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: print("end", epoch))
    >>> cb.on_epoch_end(4, {})
    end 4
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ) -> None:
        super().__init__()
        hooks = dict(
            on_epoch_begin=on_epoch_begin,
            on_epoch_end=on_epoch_end,
            on_train_begin=on_train_begin,
            on_train_end=on_train_end,
            on_train_batch_begin=on_train_batch_begin,
            on_train_batch_end=on_train_batch_end,
            **kwargs,
        )
        for name, fn in hooks.items():
            if name not in _HOOKS:
                raise ValueError(
                    f"LambdaCallback got {name}=..., which is not a callback hook; expected one "
                    f"of {', '.join(_HOOKS)}"
                )
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(f"{name} must be callable, received {fn!r}")
            setattr(self, name, fn)
