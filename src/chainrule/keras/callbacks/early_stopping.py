"""``keras.callbacks.EarlyStopping``: stop ``fit`` when a monitored quantity stops improving."""

from __future__ import annotations

import warnings

from ...backend import np
from ._checks import check_int, check_number
from .callback import print_msg
from .monitor_callback import MonitorCallback

__all__ = ["EarlyStopping"]


class EarlyStopping(MonitorCallback):
    """Set ``model.stop_training = True`` once ``monitor`` has not improved for ``patience`` epochs.

    At each epoch end (from epoch ``start_from_epoch`` on, and only when ``monitor`` is in the
    logs), as in Keras 3::

        wait += 1
        if best is None or improves(current, best):      # see MonitorCallback
            best, best_epoch = current, epoch            # (and best_weights, if restoring)
            if baseline is None or improves(current, baseline):
                wait = 0
        elif wait >= patience and epoch > 0:
            model.stop_training = True

    With ``restore_best_weights=True`` the weights of the best epoch (the first monitored epoch
    if none improved) are put back at ``on_train_end`` **whenever** some epoch was monitored,
    also when training ran to its last epoch without stopping early (Keras 3 behaviour; Keras 2
    restored only after an early stop).

    Args:
        monitor: the logs key to watch (default "val_loss").
        min_delta: smallest change that counts as an improvement (default 0).
        patience: epochs without improvement before stopping (default 0).
        verbose: 0 silent, 1 prints when it stops and when it restores weights (default 0).
        mode: "auto", "min" or "max" (default "auto"; "auto" minimises the loss and, for a
            compiled metric of that name, follows its direction: accuracy and AUC up, errors
            down. A per-output name such as ``val_cls_accuracy`` needs a mode, as in Keras).
        baseline: a value to beat; if no epoch beats it, training stops after ``patience``
            epochs (default None).
        restore_best_weights: restore the best epoch's weights at the end (default False).
        start_from_epoch: epochs to wait before monitoring starts (default 0).

    Raises:
        ValueError: for a negative ``patience`` or ``start_from_epoch``; in "auto" mode, at the
            first epoch end, when the direction of ``monitor`` is unknown.
    Warns:
        UserWarning: at an epoch end whose logs lack ``monitor``.

    Matches Keras 3 ``keras/src/callbacks/early_stopping.py``.

    >>> class Model:
    ...     stop_training = False
    >>> es = EarlyStopping(monitor="loss", patience=1)
    >>> es.set_model(Model())
    >>> es.on_train_begin()
    >>> for epoch, loss in enumerate([1.0, 0.5, 0.6, 0.7]):
    ...     es.on_epoch_end(epoch, {"loss": loss})
    ...     if es.model.stop_training:
    ...         break
    >>> es.stopped_epoch, es.best
    (2, 0.5)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = check_int("patience", patience)
        self.start_from_epoch = check_int("start_from_epoch", start_from_epoch)
        if baseline is not None:
            check_number("baseline", baseline)
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        # Reset, so that one instance can serve several fit() calls.
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def _snapshot(self) -> list:
        # Copies: our optimizers update weight arrays in place, so references would follow them.
        return [np.array(w, copy=True) for w in self.model.get_weights()]

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            # Resolved late, when the model's metrics exist.
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self._snapshot()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self._snapshot()
            # Patience restarts only when the baseline is beaten too.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print_msg(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        """The monitored value from ``logs``, or None (with a warning) if it is missing."""
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                f"Available metrics are: {','.join(list(logs.keys()))}",
                stacklevel=2,
            )
        return value
