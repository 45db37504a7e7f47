"""``ModelCheckpoint``: save the model or its weights during ``fit`` (matches Keras 3
``keras/src/callbacks/model_checkpoint.py``).

Every save is atomic (temporary file, fsync, rename; see ``keras.saving``): a crash during a
save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import numbers
import os
import warnings

from ...backend import np
from .callback import print_msg
from .monitor_callback import MonitorCallback

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(MonitorCallback):
    """Save the model (``.keras``) or weights (``.weights.h5``) every epoch or every
    ``save_freq`` batches, optionally only when ``monitor`` improves.

    ``filepath`` may hold ``{epoch}`` (1-based), ``{batch}`` (1-based, batch-level saving) and
    any logs key, with format specs: ``"ckpt-{epoch:02d}-{val_loss:.2f}.keras"``.

    Args:
        filepath: where to save; must end in ``.keras``, or in ``.weights.h5`` when
            ``save_weights_only=True``.
        monitor: the logs key watched for ``save_best_only`` (default "val_loss").
        verbose: 0 (default) silent, 1 prints a line per save.
        save_best_only: default False; when True, save only when ``monitor`` improves on the
            best value so far (a missing ``monitor`` warns and saves).
        save_weights_only: default False.
        mode: "auto" (default), "min" or "max": the direction of improvement.
        save_freq: "epoch" (default) or an integer number of batches.
        initial_value_threshold: default None; the best value to beat at the start.

    Raises:
        ValueError: a ``save_freq`` that is neither "epoch" nor an int, or a file extension
            that does not match ``save_weights_only``.
        KeyError: when ``filepath`` names a key missing from the logs (at save time).
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None) -> None:  # fmt: skip
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        if save_freq != "epoch" and (isinstance(save_freq, bool)
                                     or not isinstance(save_freq, numbers.Integral)
                                     or save_freq < 1):  # fmt: skip
            raise ValueError(
                f"Unrecognized save_freq: {save_freq!r}. Expected save_freq are 'epoch' or a "
                "positive integer number of batches"
            )
        self.save_freq = save_freq
        if self.save_weights_only and not self.filepath.endswith(".weights.h5"):
            raise ValueError(
                "When using `save_weights_only=True` in `ModelCheckpoint`, the filepath "
                "provided must end in `.weights.h5` (Keras weights format). Received: "
                f"filepath={self.filepath}"
            )
        if not self.save_weights_only and not self.filepath.endswith(".keras"):
            raise ValueError(
                "The filepath provided must end in `.keras` (Keras model format). Received: "
                f"filepath={self.filepath}"
            )
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            added = batch + 1  # a new epoch: batches are counted from 0
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save_model(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op_safe()
        if self.save_freq == "epoch":
            self._save_model(epoch, None, logs)

    # The per-batch hook is needed only for batch-level saving.
    @property
    def needs_train_batch_hooks(self) -> bool:
        return self.save_freq != "epoch"

    def _set_monitor_op_safe(self):
        try:
            self._set_monitor_op()
        except ValueError:
            if self.save_best_only:
                raise

    def _file_path(self, epoch, batch, logs) -> str:
        logs = dict(logs or {})
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". Reason: {e}'
            ) from None

    def _should_save(self, epoch, logs, filepath) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                print_msg(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.",
                          stacklevel=3)  # fmt: skip
            return True
        if np.ndim(current) > 0:
            warnings.warn(
                f"Can save best model only when `monitor` is a scalar value. Received: "
                f"{current}. Falling back to `save_best_only=False`.",
                stacklevel=3,
            )
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print_msg(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                          f"{current:.5f}, saving model to {filepath}")  # fmt: skip
            self.best = current
            return True
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save_model(self, epoch, batch, logs) -> None:
        filepath = self._file_path(epoch, batch, logs)
        if not self._should_save(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise OSError(
                "Please specify a non-directory filepath for ModelCheckpoint. Filepath used is "
                f"an existing directory: {filepath}"
            )
        folder = os.path.dirname(filepath)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")
