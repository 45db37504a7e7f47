"""``keras.callbacks.CallbackList``: calls each hook on every callback, in order.

Matches Keras 3 ``keras/src/callbacks/callback_list.py`` (without its thread-pool dispatch:
our hooks run in the training thread). Adds ``has_*_batch_hooks`` flags so that the trainer can
skip per-batch dispatch when no callback in the list overrides a per-batch hook.
"""

from __future__ import annotations

from .callback import Callback
from .history import History
from .progbar_logger import ProgbarLogger

__all__ = ["CallbackList", "pythonify_logs"]


def pythonify_logs(logs: dict | None) -> dict:
    """A new dict of ``logs`` with sorted keys, nested dicts flattened and values as floats.

    Values that cannot be converted (strings, arrays of several elements) are kept as they are.
    Matches Keras 3 ``keras/src/utils/python_utils.py`` ``pythonify_logs``.
    """
    result = {}
    if not logs:
        return result
    for key, value in sorted(logs.items()):
        if type(value) is float:  # the common case, kept cheap for per-batch calls
            result[key] = value
            continue
        if isinstance(value, dict):
            result.update(pythonify_logs(value))
            continue
        try:
            if hasattr(value, "numpy"):
                value = value.numpy()
            value = float(value)
        except (TypeError, ValueError):
            pass
        result[key] = value
    return result


# The legacy hook that each default train-batch hook forwards to.
_LEGACY = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


def _flatten(callbacks) -> list:
    out = []
    for cb in callbacks:
        if isinstance(cb, (list, tuple)):
            out.extend(_flatten(cb))
        else:
            out.append(cb)
    return out


class CallbackList(Callback):
    """A list of callbacks called together: ``cbs.on_epoch_end(e, logs)`` calls each one's hook.

    Each hook converts ``logs`` once (see :func:`pythonify_logs`) and hands the same dict to every
    callback in order, so a key added by one callback (``learning_rate`` from
    :class:`LearningRateScheduler`) is seen by the ones after it (``History``, ``ProgbarLogger``).

    Args:
        callbacks: a list (possibly nested) of :class:`Callback` instances (default None: empty).
        add_history: append a :class:`History` if the list has none (default False).
        add_progbar: append a :class:`ProgbarLogger` if the list has none (default False). It is
            not added when ``params["verbose"] == 0``, since it would print nothing.
        model: the model, passed to every callback's ``set_model`` (default None).
        **params: training parameters (``verbose``, ``epochs``, ``steps``) passed to every
            callback's ``set_params``.

    Attributes:
        has_train_batch_hooks, has_test_batch_hooks, has_predict_batch_hooks, has_batch_hooks:
            whether some callback needs the per-batch hooks of ``fit``, ``evaluate``,
            ``predict``, or any of them. The trainer may skip per-batch calls when False.

    Raises:
        TypeError: if an element of ``callbacks`` is not a :class:`Callback`.

    Matches Keras 3 ``keras/src/callbacks/callback_list.py``.

    >>> from chainrule.keras.callbacks import LambdaCallback
    >>> cbs = CallbackList([LambdaCallback(on_epoch_end=lambda e, logs: print(e, logs))])
    >>> cbs.on_epoch_end(0, {"val_loss": 2, "loss": 1})
    0 {'loss': 1.0, 'val_loss': 2.0}
    >>> cbs.has_batch_hooks
    False
    """

    def __init__(
        self,
        callbacks=None,
        add_history: bool = False,
        add_progbar: bool = False,
        model=None,
        **params,
    ) -> None:
        super().__init__()
        self._targets: dict = {}
        self.callbacks = _flatten(callbacks) if callbacks else []
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    "callbacks must be keras.callbacks.Callback instances, received "
                    f"{cb!r} of type {type(cb).__name__}"
                )
        self._add_default_callbacks(add_history, add_progbar and params.get("verbose", 1) != 0)
        self.set_model(model)
        self.set_params(params)

    def _add_default_callbacks(self, add_history: bool, add_progbar: bool) -> None:
        self._history = next((cb for cb in self.callbacks if isinstance(cb, History)), None)
        self._progbar = next((cb for cb in self.callbacks if isinstance(cb, ProgbarLogger)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)

    def append(self, callback: Callback) -> None:
        """Add ``callback`` at the end, giving it this list's model and params."""
        if not isinstance(callback, Callback):
            raise TypeError(f"callback must be a Callback, received {type(callback).__name__}")
        self.callbacks.append(callback)
        self._targets.clear()
        if self._model is not None:
            callback.set_model(self._model)
        if self.params:
            callback.set_params(self.params)

    def set_params(self, params: dict) -> None:
        self.params = params
        if params:
            for cb in self.callbacks:
                cb.set_params(params)

    def set_model(self, model) -> None:
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for cb in self.callbacks:
            cb.set_model(model)

    @property
    def has_train_batch_hooks(self) -> bool:
        return any(cb.needs_train_batch_hooks for cb in self.callbacks)

    @property
    def has_test_batch_hooks(self) -> bool:
        return any(cb.needs_test_batch_hooks for cb in self.callbacks)

    @property
    def has_predict_batch_hooks(self) -> bool:
        return any(cb.needs_predict_batch_hooks for cb in self.callbacks)

    @property
    def has_batch_hooks(self) -> bool:
        return self.has_train_batch_hooks or self.has_test_batch_hooks or (
            self.has_predict_batch_hooks
        )

    # The container overrides every hook, so its own needs_* flags mean "some member needs it".
    needs_train_batch_hooks = has_train_batch_hooks
    needs_test_batch_hooks = has_test_batch_hooks
    needs_predict_batch_hooks = has_predict_batch_hooks

    def on_batch_begin(self, batch, logs=None):
        logs = pythonify_logs(logs)
        for cb in self.callbacks:
            cb.on_batch_begin(batch, logs=logs)

    def on_batch_end(self, batch, logs=None):
        logs = pythonify_logs(logs)
        for cb in self.callbacks:
            cb.on_batch_end(batch, logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        logs = pythonify_logs(logs)
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        logs = pythonify_logs(logs)
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def _batch_targets(self, hook: str) -> list:
        """The callbacks that override ``hook`` (or the legacy hook its default calls)."""
        cached = self._targets.get(hook)
        if cached is None or cached[0] != len(self.callbacks):
            names = (hook, _LEGACY[hook]) if hook in _LEGACY else (hook,)
            cached = (len(self.callbacks), [cb for cb in self.callbacks if cb._uses_hooks(names)])
            self._targets[hook] = cached
        return cached[1]

    # Batch hooks reach only the callbacks that override them: calling the do-nothing defaults
    # (and converting the logs for them) would cost every batch for nothing.
    def on_train_batch_begin(self, batch, logs=None):
        targets = self._batch_targets("on_train_batch_begin")
        if targets:
            logs = pythonify_logs(logs)
            for cb in targets:
                cb.on_train_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        targets = self._batch_targets("on_train_batch_end")
        if targets:
            logs = pythonify_logs(logs)
            for cb in targets:
                cb.on_train_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        targets = self._batch_targets("on_test_batch_begin")
        if targets:
            logs = pythonify_logs(logs)
            for cb in targets:
                cb.on_test_batch_begin(batch, logs=logs)

    def on_test_batch_end(self, batch, logs=None):
        targets = self._batch_targets("on_test_batch_end")
        if targets:
            logs = pythonify_logs(logs)
            for cb in targets:
                cb.on_test_batch_end(batch, logs=logs)

    def on_predict_batch_begin(self, batch, logs=None):
        targets = self._batch_targets("on_predict_batch_begin")
        if targets:
            logs = pythonify_logs(logs)
            for cb in targets:
                cb.on_predict_batch_begin(batch, logs=logs)

    def on_predict_batch_end(self, batch, logs=None):
        # NOTE: predict logs hold output arrays, which pythonify_logs leaves as they are.
        targets = self._batch_targets("on_predict_batch_end")
        if targets:
            logs = pythonify_logs(logs)
            for cb in targets:
                cb.on_predict_batch_end(batch, logs=logs)

    def on_train_begin(self, logs=None):
        logs = pythonify_logs(logs)
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_train_end(self, logs=None):
        logs = pythonify_logs(logs)
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def on_test_begin(self, logs=None):
        logs = pythonify_logs(logs)
        for cb in self.callbacks:
            cb.on_test_begin(logs)

    def on_test_end(self, logs=None):
        logs = pythonify_logs(logs)
        for cb in self.callbacks:
            cb.on_test_end(logs)

    def on_predict_begin(self, logs=None):
        logs = pythonify_logs(logs)
        for cb in self.callbacks:
            cb.on_predict_begin(logs)

    def on_predict_end(self, logs=None):
        logs = pythonify_logs(logs)
        for cb in self.callbacks:
            cb.on_predict_end(logs)

    def __iter__(self):
        return iter(self.callbacks)
