"""``keras.callbacks.Callback``: the base class with every training, test and predict hook.

Matches Keras 3 ``keras/src/callbacks/callback.py``. Each default hook carries a marker so
that :class:`CallbackList` can tell, without calling anything, whether a callback overrides a
per-batch hook; the trainer skips per-batch dispatch entirely when none does.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["Callback"]

# Per-batch hook names, grouped by the loop that calls them. The legacy ``on_batch_*`` hooks are
# reached through the default ``on_train_batch_*`` ones, so they count as train hooks.
TRAIN_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")
TEST_BATCH_HOOKS = ("on_test_batch_begin", "on_test_batch_end")
PREDICT_BATCH_HOOKS = ("on_predict_batch_begin", "on_predict_batch_end")


def _default(method):
    """Mark a hook as the do-nothing default, so overrides can be detected cheaply."""
    method._is_default = True
    return method


def is_default(method) -> bool:
    """True if ``method`` (bound or not) is a default hook of :class:`Callback`."""
    return getattr(method, "_is_default", False)


def print_msg(message: str, line_break: bool = True) -> None:
    """Write ``message`` to the current ``sys.stdout`` (looked up at call time, for capture)."""
    out = sys.stdout
    out.write(f"{message}\n" if line_break else str(message))
    out.flush()


def to_float(value: Any) -> float:
    """A learning rate or log value as a Python float (Tensor, NumPy scalar or number)."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    return float(value)


class Callback:
    """Base class for objects that hook into ``fit``, ``evaluate`` and ``predict``.

    Subclass it and override the hooks you need. ``logs`` is a dict of Python floats: the running
    metric values for batch hooks, the epoch's metrics (validation ones prefixed ``val_``) for
    ``on_epoch_end``.

    Attributes:
        model: the model being trained (set by :meth:`set_model`; ``None`` before).
        params: dict of training parameters (``verbose``, ``epochs``, ``steps``), set by
            :meth:`set_params`; ``None`` before.

    Matches Keras 3 ``keras/src/callbacks/callback.py``.

    >>> class Count(Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         print(epoch, logs["loss"])
    >>> Count().on_epoch_end(0, {"loss": 0.5})
    0 0.5
    """

    def __init__(self) -> None:
        self.params = None
        self._model = None

    def set_params(self, params: dict) -> None:
        """Store the training parameters (``verbose``, ``epochs``, ``steps``)."""
        self.params = params

    def set_model(self, model) -> None:
        """Store the model these hooks act on."""
        self._model = model

    @property
    def model(self):
        return self._model

    @model.setter
    def model(self, model) -> None:
        self._model = model

    @_default
    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Legacy alias, called by the default :meth:`on_train_batch_begin`."""

    @_default
    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Legacy alias, called by the default :meth:`on_train_batch_end`."""

    @_default
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Called at the start of epoch ``epoch`` (0-based) in ``fit``."""

    @_default
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        """Called at the end of epoch ``epoch`` with the epoch's metrics (and ``val_`` ones)."""

    @_default
    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before training batch ``batch`` (0-based within the epoch)."""
        self.on_batch_begin(batch, logs=logs)

    @_default
    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after training batch ``batch`` with the running metrics of the epoch."""
        self.on_batch_end(batch, logs=logs)

    @_default
    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before an ``evaluate`` (or validation) batch."""

    @_default
    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after an ``evaluate`` (or validation) batch with the running metrics."""

    @_default
    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Called before a ``predict`` batch."""

    @_default
    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Called after a ``predict`` batch (``logs`` may hold the batch outputs)."""

    @_default
    def on_train_begin(self, logs: dict | None = None) -> None:
        """Called once at the start of ``fit``."""

    @_default
    def on_train_end(self, logs: dict | None = None) -> None:
        """Called once at the end of ``fit`` with the last epoch's logs."""

    @_default
    def on_test_begin(self, logs: dict | None = None) -> None:
        """Called at the start of ``evaluate`` or of a validation pass."""

    @_default
    def on_test_end(self, logs: dict | None = None) -> None:
        """Called at the end of ``evaluate`` or of a validation pass with its metrics."""

    @_default
    def on_predict_begin(self, logs: dict | None = None) -> None:
        """Called at the start of ``predict``."""

    @_default
    def on_predict_end(self, logs: dict | None = None) -> None:
        """Called at the end of ``predict``."""

    def _uses_hooks(self, names) -> bool:
        """Whether any of the named hooks is overridden (by the class or on the instance)."""
        return any(not is_default(getattr(self, name)) for name in names)

    @property
    def needs_train_batch_hooks(self) -> bool:
        """Whether this callback does anything in per-batch training hooks."""
        return self._uses_hooks(TRAIN_BATCH_HOOKS)

    @property
    def needs_test_batch_hooks(self) -> bool:
        """Whether this callback does anything in per-batch evaluation hooks."""
        return self._uses_hooks(TEST_BATCH_HOOKS)

    @property
    def needs_predict_batch_hooks(self) -> bool:
        """Whether this callback does anything in per-batch predict hooks."""
        return self._uses_hooks(PREDICT_BATCH_HOOKS)
