"""``keras.utils.PyDataset``: a Python object that serves ready batches by index
(Keras 3 ``keras/src/trainers/data_adapters/py_dataset_adapter.py``).

Subclass it, implement ``__len__`` (or the ``num_batches`` property) and ``__getitem__(index)``
returning ``x``, ``(x, y)`` or ``(x, y, sample_weight)``, and pass the object to ``fit``,
``evaluate`` or ``predict``. ``fit(shuffle=True)`` visits the batches in a fresh random order
each epoch, as Keras; ``on_epoch_begin``/``on_epoch_end`` are called around each pass.

>>> import numpy as np
>>> class Batches(PyDataset):
...     def __init__(self, x, y, batch_size, **kwargs):
...         super().__init__(**kwargs)
...         self.x, self.y, self.batch_size = x, y, batch_size
...     def __len__(self):
...         return -(-len(self.x) // self.batch_size)
...     def __getitem__(self, i):
...         s = slice(i * self.batch_size, (i + 1) * self.batch_size)
...         return self.x[s], self.y[s]
>>> len(Batches(np.zeros((10, 2)), np.zeros(10), 4))
3
"""

from __future__ import annotations

import itertools

__all__ = ["PyDataset"]


class PyDataset:
    """Base class for datasets that return whole batches by index.

    Args:
        workers: accepted for Keras compatibility (default 1); batches are read in the
            calling thread.
        use_multiprocessing: accepted for Keras compatibility (default False).
        max_queue_size: accepted for Keras compatibility (default 10).

    Raises:
        ValueError: ``workers`` or ``max_queue_size`` not a positive integer.
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10) -> None:  # fmt: skip
        for name, value in (("workers", workers), ("max_queue_size", max_queue_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, received {name}={value!r}")
        self._workers = workers
        self._use_multiprocessing = bool(use_multiprocessing)
        self._max_queue_size = max_queue_size

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def use_multiprocessing(self) -> bool:
        return self._use_multiprocessing

    @property
    def max_queue_size(self) -> int:
        return self._max_queue_size

    def __getitem__(self, index):
        """The batch at position ``index``; subclasses implement it."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement __getitem__(index) returning a batch"
        )

    @property
    def num_batches(self):
        """The number of batches (``len(self)``), or None for an endless dataset.

        Raises:
            NotImplementedError: when neither ``__len__`` nor ``num_batches`` is defined.
        """
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(
            f"{type(self).__name__} must define __len__ or the num_batches property"
        )

    def __iter__(self):
        try:
            n = self.num_batches
        except NotImplementedError:
            n = None
        for index in itertools.count() if n is None else range(n):
            yield self[index]

    def on_epoch_begin(self) -> None:
        """Called before each pass over the batches."""

    def on_epoch_end(self) -> None:
        """Called after each pass over the batches."""
