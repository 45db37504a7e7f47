"""``BackupAndRestore``: resume an interrupted ``fit`` from the last backup (matches Keras 3
``keras/src/callbacks/backup_and_restore.py``).

The backup is ``<backup_dir>/latest.weights.h5`` (weights and optimizer state) plus
``training_metadata.json`` (``{"epoch", "batch"}``), Keras's names. The epoch counter is also
stored as attributes of the weights file, written in the same atomic rename, so weights and
counter can never disagree after a crash; the JSON file is kept for Keras compatibility.
"""

from __future__ import annotations

import json
import numbers
import os
import shutil

from ..saving import saving_lib
from .callback import Callback

__all__ = ["BackupAndRestore"]


class BackupAndRestore(Callback):
    """Back up the training state at the end of every epoch (or every ``save_freq`` batches)
    and, when ``fit`` starts again after an interruption, restore it and continue from the
    epoch after the last completed one.

    Args:
        backup_dir: the folder for the backup (must not be empty; created on first save).
        save_freq: "epoch" (default) or an integer number of batches. A mid-epoch backup
            restores that epoch's weights and restarts the epoch from its first batch (as Keras).
        double_checkpoint: default False; keep the previous backup as ``*.bkp`` too, used when
            the latest cannot be read.
        delete_checkpoint: default True: delete ``backup_dir`` when training ends normally.

    Raises:
        ValueError: an empty ``backup_dir``, or a ``save_freq`` that is neither "epoch" nor
            a positive int; at the start of ``fit``, an unbuilt model.
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True) -> None:  # fmt: skip
        super().__init__()
        if not backup_dir:
            raise ValueError(f"Empty `backup_dir` argument passed, received {backup_dir!r}")
        if save_freq != "epoch" and (isinstance(save_freq, bool)
                                     or not isinstance(save_freq, numbers.Integral)
                                     or save_freq < 1):  # fmt: skip
            raise ValueError(
                f"Invalid value for argument `save_freq`. Received: save_freq={save_freq!r}. "
                "Expected either 'epoch' or a positive integer value."
            )
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._weights_path = os.path.join(self.backup_dir, "latest.weights.h5")
        self._training_metadata_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._prev_weights_path = f"{self._weights_path}.bkp"
        self._prev_training_metadata_path = f"{self._training_metadata_path}.bkp"
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0

    @property
    def needs_train_batch_hooks(self) -> bool:
        return self.save_freq != "epoch"

    # -- restore ------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        try:
            self._load(self._weights_path, self._training_metadata_path)
        except (OSError, ValueError):
            if not os.path.exists(self._prev_weights_path):
                raise
            self._load(self._prev_weights_path, self._prev_training_metadata_path)

    def _load(self, weights_path, metadata_path) -> None:
        model = self.model
        if not model.built:
            raise ValueError(
                "To use the BackupAndRestore callback, your model must be built before you "
                f"call `fit()`. Model {model.name!r} is unbuilt. You can build it beforehand "
                "by calling it on a batch of data."
            )
        if not os.path.exists(weights_path):
            return
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_weights)
        attrs = saving_lib.read_weights_attrs(weights_path)
        model.load_weights(weights_path)
        epoch = attrs.get("epoch")
        if epoch is None and os.path.exists(metadata_path):  # a backup written by Keras
            with open(metadata_path) as f:
                epoch = json.load(f)["epoch"]
        self._current_epoch = int(epoch or 0)
        model._initial_epoch = self._current_epoch

    # -- backup -------------------------------------------------------------------------------
    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save()

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        added = batch + 1 if batch <= self._last_batch_seen else batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save()

    def _save(self) -> None:
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint:
            for src, dst in ((self._weights_path, self._prev_weights_path),
                             (self._training_metadata_path, self._prev_training_metadata_path)):
                if os.path.exists(src):
                    with open(src, "rb") as f:
                        saving_lib.atomic_write(dst, f.read())
        meta = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        saving_lib.save_weights(self.model, self._weights_path, overwrite=True, attrs=meta)
        saving_lib.atomic_write(self._training_metadata_path, json.dumps(meta).encode())

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)
