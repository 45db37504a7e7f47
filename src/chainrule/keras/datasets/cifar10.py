"""CIFAR-10 small colour images in 10 classes (matches Keras 3
``keras/src/datasets/cifar10.py``)."""

from __future__ import annotations

import os

from ...backend import np
from ..utils.file_utils import get_file
from .cifar import channels_last, labels_column, load_batch

__all__ = ["load_data"]

ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FILE_HASH = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"  # sha256


def load_data():
    """Load CIFAR-10: 50,000 training and 10,000 test 32x32 colour images of 10 classes
    (0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse, 8 ship,
    9 truck).

    Downloads ``cifar-10-python.tar.gz`` once (checking its sha256) and extracts it into
    ``~/.keras/datasets/cifar-10-batches-py-target``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 arrays of shapes
        ``(50000, 32, 32, 3)``, ``(50000, 1)``, ``(10000, 32, 32, 3)``, ``(10000, 1)``.

    Raises:
        OSError: when the download fails (naming the URL).
        ValueError: when the download's hash does not match or a batch is malformed.

    Matches Keras 3 ``keras/src/datasets/cifar10.py``: the five training batches in order
    ``data_batch_1`` .. ``data_batch_5`` (joined whatever their sizes, where Keras assumes
    10,000 images each), then ``test_batch``.
    """
    path = get_file(fname="cifar-10-batches-py-target", origin=ORIGIN, extract=True,
                    file_hash=FILE_HASH)  # fmt: skip
    path = os.path.join(path, "cifar-10-batches-py")
    batches = [load_batch(os.path.join(path, f"data_batch_{i}")) for i in range(1, 6)]
    x_train = np.concatenate([x for x, _ in batches]).astype("uint8", copy=False)
    y_train = np.concatenate([np.asarray(y, dtype="uint8") for _, y in batches])
    x_test, y_test = load_batch(os.path.join(path, "test_batch"))
    x_train, x_test = channels_last(x_train), channels_last(x_test.astype("uint8", copy=False))
    return (x_train, labels_column(y_train)), (x_test, labels_column(y_test, "uint8"))
