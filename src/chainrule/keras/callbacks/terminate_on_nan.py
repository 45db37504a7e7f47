"""``keras.callbacks.TerminateOnNaN``: stop training after a batch whose loss is NaN or inf."""

from __future__ import annotations

import math

from .callback import Callback, print_msg

__all__ = ["TerminateOnNaN"]


class TerminateOnNaN(Callback):
    """Stop ``fit`` after the first training batch whose ``logs["loss"]`` is NaN or ±inf.

    By default it prints ``Batch {batch}: Invalid loss, terminating training`` and sets
    ``model.stop_training = True`` (the trainer finishes that batch, then ends training with the
    usual ``on_train_end`` calls). With ``raise_error=True`` it raises instead.

    Args:
        raise_error: raise RuntimeError instead of stopping gracefully (default False).

    Raises:
        RuntimeError: with ``raise_error=True``, naming the batch and the loss value.

    Matches Keras 3 ``keras/src/callbacks/terminate_on_nan.py``.

    >>> class Model:
    ...     stop_training = False
    >>> cb = TerminateOnNaN()
    >>> cb.set_model(Model())
    >>> cb.on_train_batch_end(3, {"loss": float("nan")})
    Batch 3: Invalid loss, terminating training
    >>> cb.model.stop_training
    True
    """

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = bool(raise_error)

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if math.isnan(loss) or math.isinf(loss):
            if self.raise_error:
                raise RuntimeError(
                    f"NaN or Inf loss encountered at batch {batch}. "
                    f"Loss value: {loss}. Terminating training immediately."
                )
            print_msg(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
