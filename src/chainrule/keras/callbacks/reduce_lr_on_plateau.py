"""``keras.callbacks.ReduceLROnPlateau``: divide the learning rate when a metric plateaus."""

from __future__ import annotations

import warnings

from ...backend import np
from ._checks import check_int, check_number
from .callback import print_msg, to_float
from .monitor_callback import MonitorCallback

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(MonitorCallback):
    """Multiply the optimizer's learning rate by ``factor`` after ``patience`` flat epochs.

    At each epoch end ``logs["learning_rate"]`` is set to the current rate (so ``History``
    records it), then, if ``monitor`` is in the logs, as in Keras 3::

        if cooldown_counter > 0:
            cooldown_counter -= 1; wait = 0
        if best is None or improves(current, best):       # see MonitorCallback
            best = current; wait = 0
        elif cooldown_counter == 0:
            wait += 1
            if wait >= patience and float32(lr) > float32(min_lr):
                lr = max(lr * factor, min_lr)
                cooldown_counter = cooldown; wait = 0

    Args:
        monitor: the logs key to watch (default "val_loss").
        factor: ``new_lr = lr * factor`` (default 0.1); must satisfy ``0 <= factor < 1``.
        patience: epochs without improvement before reducing (default 10).
        verbose: 0 silent, 1 prints each reduction (default 0).
        mode: "auto", "min" or "max" (default "auto").
        min_delta: smallest change that counts as an improvement (default 1e-4).
        cooldown: epochs to wait after a reduction before counting again (default 0).
        min_lr: lower bound on the learning rate (default 0.0).

    Raises:
        ValueError: if ``factor >= 1.0`` (message as Keras) or negative, or ``patience``,
            ``cooldown`` or ``min_lr`` is negative.
        TypeError: for unknown keyword arguments.
    Warns:
        UserWarning: at an epoch end whose logs lack ``monitor``.

    Matches Keras 3 ``keras/src/callbacks/reduce_lr_on_plateau.py``.

    >>> class Opt:
    ...     learning_rate = 0.1
    >>> class Model:
    ...     optimizer = Opt()
    >>> cb = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1)
    >>> cb.set_model(Model())
    >>> cb.on_train_begin()
    >>> for epoch, loss in enumerate([1.0, 1.0, 1.0]):
    ...     cb.on_epoch_end(epoch, {"loss": loss})
    >>> Model.optimizer.learning_rate
    0.025
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
        **kwargs,
    ) -> None:
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau got unexpected keyword arguments: {sorted(kwargs)}")
        super().__init__(monitor, mode, min_delta=min_delta)
        check_number("factor", factor)
        if factor >= 1.0:
            raise ValueError(
                f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}"
            )
        if factor < 0:
            raise ValueError(f"factor must be in [0, 1), received factor={factor}")
        self.factor = factor
        self.min_lr = check_number("min_lr", min_lr, minimum=0.0)
        self.patience = check_int("patience", patience)
        self.cooldown = check_int("cooldown", cooldown)
        self.verbose = verbose
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self) -> None:
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _optimizers(self) -> list:
        opt = self.model.optimizer
        return list(getattr(opt, "optimizers", None) or [opt])

    def _reduce(self, optimizer, epoch: int, name: str = "") -> bool:
        old_lr = to_float(optimizer.learning_rate)
        # NOTE: Keras keeps the rate in a float32 variable and compares it with float32(min_lr);
        # comparing both in float32 stops at min_lr exactly as Keras does, however we store it.
        if np.float32(old_lr) <= np.float32(self.min_lr):
            return False
        new_lr = max(old_lr * self.factor, self.min_lr)
        optimizer.learning_rate = new_lr
        if self.verbose > 0:
            name_str = f" {name}" if name else ""
            print_msg(
                f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing{name_str} learning rate to "
                f"{new_lr}."
            )
        return True

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs or {}
        opts = self._optimizers()
        if len(opts) > 1 or opts[0] is not self.model.optimizer:
            for opt in opts:
                logs[f"learning_rate_{opt.name}"] = to_float(opt.learning_rate)
        else:
            logs["learning_rate"] = to_float(opts[0].learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not "
                f"available. Available metrics are: {','.join(list(logs.keys()))}.",
                stacklevel=2,
            )
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                several = opts[0] is not self.model.optimizer
                reduced = False
                for opt in opts:
                    reduced |= self._reduce(opt, epoch, opt.name if several else "")
                if reduced:
                    self.cooldown_counter = self.cooldown
                    self.wait = 0
