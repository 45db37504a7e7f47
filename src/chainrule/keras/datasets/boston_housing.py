"""Boston housing prices, a small regression dataset (matches Keras 3
``keras/src/datasets/boston_housing.py``)."""

from __future__ import annotations

from ...backend import np
from ..utils.file_utils import get_file
from ._common import TF_KERAS_DATASETS, check_test_split, shuffle_and_split

__all__ = ["load_data"]

ORIGIN_FOLDER = TF_KERAS_DATASETS
FILE_HASH = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"  # sha256


def load_data(path: str = "boston_housing.npz", test_split: float = 0.2, seed: int = 113):
    """Load the Boston housing data: 506 samples of 13 attributes, target the median home
    value in k$ (the data has a known ethical problem, its "B" attribute; Keras discourages
    its use outside illustrating that).

    The rows are shuffled with ``np.random.RandomState(seed)`` and the first
    ``int(506 * (1 - test_split))`` are the training set.

    Args:
        path: the cached file's name (default "boston_housing.npz").
        test_split: fraction held out for testing, in [0, 1) (default 0.2).
        seed: the shuffle's seed (default 113).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``(n, 13)`` and ``(n,)`` arrays as stored
        (404 and 102 rows at the default split).

    Raises:
        ValueError: for ``test_split`` outside [0, 1) (before downloading), or when the
            download's hash does not match.
        OSError: when the download fails (naming the URL).

    Matches Keras 3 ``keras/src/datasets/boston_housing.py``.
    """
    check_test_split(test_split)
    path = get_file(path, origin=f"{ORIGIN_FOLDER}boston_housing.npz", file_hash=FILE_HASH)
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    return shuffle_and_split(x, y, test_split, seed)
