"""``keras.callbacks``: hooks into ``fit``, ``evaluate`` and ``predict``.

Matches Keras 3 ``keras/src/callbacks/``. The trainer drives a :class:`CallbackList`::

    callbacks = CallbackList(user_callbacks, add_history=True, add_progbar=verbose != 0,
                             model=model, verbose=verbose, epochs=epochs, steps=steps)
    callbacks.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callbacks.on_epoch_begin(epoch)
        batch_hooks = callbacks.has_train_batch_hooks   # skip per-batch calls when False
        for step, batch in enumerate(batches):
            if batch_hooks: callbacks.on_train_batch_begin(step)
            logs = train_step(batch)
            if batch_hooks: callbacks.on_train_batch_end(step, logs)
            if model.stop_training: break
        callbacks.on_epoch_end(epoch, epoch_logs)         # with val_ metrics
        if model.stop_training: break
    callbacks.on_train_end(epoch_logs)
"""

from .backup_and_restore import BackupAndRestore
from .callback import Callback
from .callback_list import CallbackList
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .history import History
from .lambda_callback import LambdaCallback
from .learning_rate_scheduler import LearningRateScheduler
from .model_checkpoint import ModelCheckpoint
from .monitor_callback import MonitorCallback
from .progbar_logger import ProgbarLogger
from .reduce_lr_on_plateau import ReduceLROnPlateau
from .terminate_on_nan import TerminateOnNaN

__all__ = [
    "BackupAndRestore",
    "Callback",
    "CallbackList",
    "CSVLogger",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "MonitorCallback",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]
