"""MNIST handwritten digits (matches Keras 3 ``keras/src/datasets/mnist.py``)."""

from __future__ import annotations

from ...backend import np
from ..utils.file_utils import get_file
from ._common import TF_KERAS_DATASETS

__all__ = ["load_data"]

ORIGIN_FOLDER = TF_KERAS_DATASETS
FILE_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"  # sha256


def load_data(path: str = "mnist.npz"):
    """Load MNIST: 60,000 training and 10,000 test 28x28 grayscale digit images.

    Downloads ``mnist.npz`` once into ``~/.keras/datasets`` (or ``$KERAS_HOME/datasets``) and
    checks its sha256.

    Args:
        path: the cached file's name in the datasets folder (default "mnist.npz").

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 arrays of shapes ``(60000, 28, 28)``,
        ``(60000,)``, ``(10000, 28, 28)``, ``(10000,)``; pixels in 0..255, labels in 0..9.

    Raises:
        OSError: when the download fails (naming the URL).
        ValueError: when the downloaded file's hash does not match.

    Matches Keras 3 ``keras/src/datasets/mnist.py``. License: Yann LeCun and Corinna Cortes,
    CC BY-SA 3.0.
    """
    path = get_file(fname=path, origin=f"{ORIGIN_FOLDER}mnist.npz", file_hash=FILE_HASH)
    with np.load(path, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
