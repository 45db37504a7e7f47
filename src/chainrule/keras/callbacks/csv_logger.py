"""``keras.callbacks.CSVLogger``: one CSV row per epoch, flushed as it is written."""

from __future__ import annotations

import collections.abc
import csv
import os

from ...backend import np
from .callback import Callback

__all__ = ["CSVLogger"]


def _cell(value):
    """A log value as a CSV cell: strings as is, 1-D iterables as ``"[a, b]"``, else the value."""
    if isinstance(value, str):
        return value
    if isinstance(value, collections.abc.Iterable) and not (
        isinstance(value, np.ndarray) and value.ndim == 0
    ):
        return f'"[{", ".join(map(str, value))}]"'
    return value


class CSVLogger(Callback):
    """Write each epoch's logs as a CSV row: ``epoch`` then the log keys in sorted order.

    The columns are fixed at the first epoch end. If those logs have no ``val_`` key, ``val_``
    columns for every key are added anyway (filled with ``NA``), as Keras does, so that a later
    run with validation keeps the same layout. Each row is flushed to disk as soon as it is
    written, so an interrupted run loses nothing. The file is opened at ``on_train_begin`` and
    closed at ``on_train_end``; rows use the ``csv.excel`` dialect (``\\r\\n`` line ends).

    Args:
        filename: path of the CSV file (str or os.PathLike).
        separator: the one-character field delimiter (default ",").
        append: append to an existing file (writing the header only if it is empty) instead of
            overwriting it (default False).

    Raises:
        TypeError: if ``filename`` is not a path or ``separator`` not a one-character string.

    Matches Keras 3 ``keras/src/callbacks/csv_logger.py``.
    """

    def __init__(self, filename, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        if not isinstance(filename, (str, os.PathLike)):
            raise TypeError(f"filename must be a str or os.PathLike, received {filename!r}")
        if not isinstance(separator, str) or len(separator) != 1:
            raise TypeError(
                f"separator must be a one-character string, received separator={separator!r}"
            )
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = bool(append)
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, newline="") as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode, newline="")  # noqa: SIM115 - kept open per fit
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs.keys())
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys.extend([f"val_{k}" for k in self.keys])
        if self.writer is None:
            dialect = type("CSVLoggerDialect", (csv.excel,), {"delimiter": self.sep})
            self.writer = csv.DictWriter(
                self.csv_file, fieldnames=["epoch", *self.keys], dialect=dialect
            )
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _cell(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None
