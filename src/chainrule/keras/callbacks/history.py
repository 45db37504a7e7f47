"""``keras.callbacks.History``: records each epoch's logs; ``fit`` returns it."""

from __future__ import annotations

from .callback import Callback

__all__ = ["History"]


class History(Callback):
    """Record every epoch's logs: ``history.history[key]`` is the list of that key's values.

    ``history.epoch`` lists the (0-based) epochs seen since ``on_train_begin``. After each
    epoch the model's ``history`` attribute is set to this object.

    Matches Keras 3 ``keras/src/callbacks/history.py``.

    >>> h = History()
    >>> h.on_train_begin()
    >>> h.on_epoch_end(0, {"loss": 0.5})
    >>> h.on_epoch_end(1, {"loss": 0.25})
    >>> h.history, h.epoch
    ({'loss': [0.5, 0.25]}, [0, 1])
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        # The model's attribute tracks the latest History, as Keras does after every epoch.
        if self.model is not None and self.model.__dict__.get("history") is not self:
            self.model.history = self
