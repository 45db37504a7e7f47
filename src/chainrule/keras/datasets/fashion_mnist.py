"""Fashion-MNIST: Zalando's article images, a drop-in replacement for MNIST (matches Keras 3
``keras/src/datasets/fashion_mnist.py``)."""

from __future__ import annotations

import gzip
import os

from ...backend import np
from ..utils.file_utils import get_file
from ._common import TF_KERAS_DATASETS

__all__ = ["load_data"]

ORIGIN_FOLDER = TF_KERAS_DATASETS
FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")  # fmt: skip
_LABELS_MAGIC, _IMAGES_MAGIC = 2049, 2051  # idx headers: unsigned bytes, 1 and 3 dimensions


def _read_idx(path: str, magic: int, header: int):
    with gzip.open(path, "rb") as f:
        raw = bytearray(f.read())  # a bytearray, so the arrays are writable
    found = int.from_bytes(raw[:4], "big") if len(raw) >= header else None
    if found != magic:
        raise ValueError(f"{path} is not an idx file of {'labels' if magic == 2049 else 'images'}"
                         f": expected magic number {magic}, received {found}; delete it to "
                         "download it again")  # fmt: skip
    return np.frombuffer(raw, np.uint8, offset=header), raw


def _labels(path: str):
    return _read_idx(path, _LABELS_MAGIC, 8)[0]


def _images(path: str, count: int):
    pixels, raw = _read_idx(path, _IMAGES_MAGIC, 16)
    dims = [int.from_bytes(raw[i : i + 4], "big") for i in (4, 8, 12)]
    if dims != [count, 28, 28] or pixels.size != count * 28 * 28:
        raise ValueError(f"{path} does not hold {count} 28x28 images (its header says "
                         f"{dims}, it has {pixels.size} pixels); delete it to download it "
                         "again")  # fmt: skip
    return pixels.reshape(count, 28, 28)


def load_data():
    """Load Fashion-MNIST: 60,000 training and 10,000 test 28x28 grayscale images of 10 kinds
    of clothing (0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt,
    7 Sneaker, 8 Bag, 9 Ankle boot).

    Downloads four gzipped idx files once into ``~/.keras/datasets/fashion-mnist``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: uint8 arrays of shapes ``(60000, 28, 28)``,
        ``(60000,)``, ``(10000, 28, 28)``, ``(10000,)``.

    Raises:
        OSError: when a download fails (naming the URL).
        ValueError: when a file is not the idx file it should be (Keras has no hash to check
            these files against, so their headers are checked instead).

    Matches Keras 3 ``keras/src/datasets/fashion_mnist.py`` (our arrays are writable; Keras's
    are read-only views of the file's bytes). License: Zalando SE, MIT.
    """
    folder = os.path.join("datasets", "fashion-mnist")
    paths = [get_file(name, origin=ORIGIN_FOLDER + name, cache_subdir=folder) for name in FILES]
    y_train, y_test = _labels(paths[0]), _labels(paths[2])
    x_train, x_test = _images(paths[1], len(y_train)), _images(paths[3], len(y_test))
    return (x_train, y_train), (x_test, y_test)
