"""``keras.callbacks.ProgbarLogger``: the progress display of ``fit``, ``evaluate``, ``predict``."""

from __future__ import annotations

from .callback import Callback, print_msg
from .progbar import Progbar

__all__ = ["ProgbarLogger"]


class ProgbarLogger(Callback):
    """Print training progress to stdout.

    Reads ``verbose``, ``epochs`` and ``steps`` from the params (``verbose="auto"`` means 1):

    - verbose=1: ``Epoch i/N`` (when N > 1), then a live bar per epoch (``tqdm`` if installed,
      else a text bar) with the step count, ETA, time per step and the running metrics; the
      final line of an epoch shows the epoch logs, ``val_`` metrics included. Outside a
      terminal only that final line is printed.
    - verbose=2: ``Epoch i/N`` (when N > 1), then one line per epoch as Keras prints it:
      ``32/32 - 0s - 1ms/step - loss: 0.1234 - val_loss: 0.2345``.
    - verbose=0: nothing (``CallbackList`` does not even add the logger then).

    Values are printed ``.4f`` if ``|v| > 1e-3`` else ``.4e``. Inside ``fit`` the validation
    pass is silent; a standalone ``evaluate`` or ``predict`` gets its own bar (without the epoch).

    Attributes:
        needs_train_batch_hooks etc.: True only when per-batch calls change the display
            (verbose=1, or verbose=2 with an unknown number of steps), so the trainer can skip
            per-batch dispatch otherwise.

    Matches Keras 3 ``keras/src/callbacks/progbar_logger.py`` and ``keras/src/utils/progbar.py``
    (verbose=1 draws with tqdm instead of Keras's own bar; the verbose=2 line is the same).
    """

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False
        self._desc = ""

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        if verbose == "auto":
            verbose = 1
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 'auto', 0, 1 or 2, received verbose={verbose!r}")
        self.verbose = verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    @property
    def needs_train_batch_hooks(self) -> bool:
        return self.verbose == 1 or (self.verbose == 2 and self.target is None)

    @property
    def needs_test_batch_hooks(self) -> bool:
        return not self._called_in_fit and self.needs_train_batch_hooks

    @property
    def needs_predict_batch_hooks(self) -> bool:
        return self.needs_train_batch_hooks

    def on_train_begin(self, logs=None):
        # Inside fit the validation pass is silent.
        self._called_in_fit = True

    def on_train_end(self, logs=None):
        # Unlike Keras, a logger reused for a later evaluate() shows its bar again.
        self._called_in_fit = False

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset_progbar("")

    def on_predict_begin(self, logs=None):
        self._reset_progbar("")

    def on_epoch_begin(self, epoch, logs=None):
        # As Keras: "Epoch i/N" on its own line (when N > 1), then the bar or the summary line.
        if self.verbose and self.epochs > 1:
            print_msg(f"Epoch {epoch + 1}/{self.epochs}")
        self._reset_progbar("")

    def on_train_batch_end(self, batch, logs=None):
        self._update_progbar(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        # The logs hold the predictions: not for display.
        self._update_progbar(batch, None)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize_progbar(logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_end(self, logs=None):
        self._finalize_progbar(logs)

    def _reset_progbar(self, desc: str) -> None:
        if self.progbar is not None:
            self.progbar.close()
        self.seen = 0
        self.progbar = None
        self._desc = desc
        if self.verbose == 2:
            self._maybe_init_progbar()  # start the clock now: verbose=2 sees no batch hooks

    def _maybe_init_progbar(self) -> None:
        if self.progbar is None:
            self.progbar = Progbar(target=self.target, verbose=self.verbose, desc=self._desc)

    def _update_progbar(self, batch, logs=None) -> None:
        self._maybe_init_progbar()
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, logs)

    def _finalize_progbar(self, logs) -> None:
        if self.verbose == 0:
            return
        self._maybe_init_progbar()
        if self.target is None:
            # Unknown length: the first pass fixes it for the following epochs.
            self.target = self.seen
            self.progbar.target = self.target
        self.progbar.update(self.target, logs, finalize=True)
