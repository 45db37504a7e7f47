"""``keras.callbacks.LearningRateScheduler``: set the learning rate from a function of the epoch."""

from __future__ import annotations

from ...backend import np
from .callback import Callback, print_msg, to_float

__all__ = ["LearningRateScheduler"]


class LearningRateScheduler(Callback):
    """At each epoch start set ``optimizer.learning_rate = schedule(epoch, lr)``.

    ``epoch`` is the 0-based epoch index and ``lr`` the current rate as a float. A
    one-argument ``schedule(epoch)`` is also accepted (tried when the two-argument call raises
    TypeError, as Keras does). At each epoch end ``logs["learning_rate"]`` is set to the rate.

    Args:
        schedule: callable ``(epoch, lr) -> float``.
        verbose: 0 silent, 1 prints the rate set at each epoch (default 0).

    Raises:
        TypeError: if ``schedule`` is not callable.
        ValueError: if ``schedule`` returns something other than a float (as Keras: an int
            is rejected too), or the optimizer has no ``learning_rate``.

    Matches Keras 3 ``keras/src/callbacks/learning_rate_scheduler.py``.

    >>> class Opt:
    ...     learning_rate = 0.1
    >>> class Model:
    ...     optimizer = Opt()
    >>> cb = LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    >>> cb.set_model(Model())
    >>> cb.on_epoch_begin(0); cb.on_epoch_begin(1)
    >>> Model.optimizer.learning_rate
    0.025
    """

    def __init__(self, schedule, verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                f"schedule must be a callable (epoch, lr) -> float, received {schedule!r}"
            )
        self.schedule = schedule
        self.verbose = verbose

    def _optimizers(self) -> list:
        opt = self.model.optimizer
        return list(getattr(opt, "optimizers", None) or [opt])

    def _update(self, optimizer, epoch: int) -> float:
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        try:
            lr = self.schedule(epoch, to_float(optimizer.learning_rate))
        except TypeError:  # the older one-argument form, schedule(epoch)
            lr = self.schedule(epoch)
        if not isinstance(lr, (float, np.floating)):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {lr}")
        optimizer.learning_rate = lr
        return lr

    def on_epoch_begin(self, epoch, logs=None):
        opts = self._optimizers()
        several = opts[0] is not self.model.optimizer
        for opt in opts:
            lr = self._update(opt, epoch)
            if self.verbose > 0:
                which = f"{opt.name} learning rate" if several else "learning rate"
                print_msg(f"\nEpoch {epoch + 1}: LearningRateScheduler setting {which} to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if not logs:
            # Keras writes into a fresh dict when logs are empty, so nobody else sees the key.
            return
        opts = self._optimizers()
        if opts[0] is not self.model.optimizer:
            for opt in opts:
                logs[f"learning_rate_{opt.name}"] = to_float(opt.learning_rate)
        else:
            logs["learning_rate"] = to_float(opts[0].learning_rate)
