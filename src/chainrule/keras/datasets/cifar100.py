"""CIFAR-100 small colour images in 100 fine or 20 coarse classes (matches Keras 3
``keras/src/datasets/cifar100.py``)."""

from __future__ import annotations

import os

from ..utils.file_utils import get_file
from .cifar import channels_last, labels_column, load_batch

__all__ = ["load_data"]

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
FILE_HASH = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"  # sha256


def load_data(label_mode: str = "fine"):
    """Load CIFAR-100: 50,000 training and 10,000 test 32x32 colour images.

    Downloads ``cifar-100-python.tar.gz`` once (checking its sha256) and extracts it into
    ``~/.keras/datasets/cifar-100-python-target``.

    Args:
        label_mode: "fine" (default: 100 classes) or "coarse" (20 superclasses).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images uint8 ``(50000, 32, 32, 3)`` and
        ``(10000, 32, 32, 3)``; labels int64 ``(50000, 1)`` and ``(10000, 1)`` (Keras keeps
        the stored Python ints, so int64, unlike CIFAR-10's uint8).

    Raises:
        ValueError: for another ``label_mode`` (before anything is downloaded), or when the
            download's hash does not match.
        OSError: when the download fails (naming the URL).

    Matches Keras 3 ``keras/src/datasets/cifar100.py``.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError('`label_mode` must be one of `"fine"`, `"coarse"`. '
                         f"Received: label_mode={label_mode}.")  # fmt: skip
    path = get_file(fname="cifar-100-python-target", origin=ORIGIN, extract=True,
                    file_hash=FILE_HASH)  # fmt: skip
    path = os.path.join(path, "cifar-100-python")
    key = f"{label_mode}_labels"
    x_train, y_train = load_batch(os.path.join(path, "train"), label_key=key)
    x_test, y_test = load_batch(os.path.join(path, "test"), label_key=key)
    return ((channels_last(x_train), labels_column(y_train)),
            (channels_last(x_test), labels_column(y_test)))  # fmt: skip
