"""``keras.datasets``: the small datasets Keras tutorials start from, downloaded once into
Keras's cache (``~/.keras/datasets``) with the same URLs, hashes, shuffling, dtypes and shapes
as Keras 3 ``keras/src/datasets/``.

``keras.datasets`` loads on first use (``import chainrule.keras`` does not import it); each
dataset module is small and imports nothing beyond the standard library and NumPy.
"""

from __future__ import annotations

from . import (
    boston_housing,
    california_housing,
    cifar10,
    cifar100,
    fashion_mnist,
    imdb,
    mnist,
    reuters,
)

__all__ = ["boston_housing", "california_housing", "cifar10", "cifar100", "fashion_mnist",
           "imdb", "mnist", "reuters"]  # fmt: skip


def __dir__():
    return sorted(__all__)
