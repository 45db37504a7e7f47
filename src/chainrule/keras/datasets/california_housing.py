"""California housing prices, a regression dataset (matches Keras 3
``keras/src/datasets/california_housing.py``)."""

from __future__ import annotations

from ...backend import np
from ..utils.file_utils import get_file
from ._common import TF_KERAS_DATASETS, check_test_split, shuffle_and_split

__all__ = ["load_data"]

ORIGIN_FOLDER = TF_KERAS_DATASETS
FILE_HASH = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"  # sha256
SMALL = 600  # rows kept by version="small"


def load_data(version: str = "large", path: str = "california_housing.npz",
              test_split: float = 0.2, seed: int = 113):  # fmt: skip
    """Load the California housing data (1990 census block groups): 8 features (MedInc,
    HouseAge, AveRooms, AveBedrms, Population, AveOccup, Latitude, Longitude), target the
    median house value in dollars.

    The rows (all 20,640, or the first 600 for ``version="small"``) are shuffled with
    ``np.random.RandomState(seed)`` and the first ``int(n * (1 - test_split))`` are the
    training set.

    Args:
        version: "large" (default, 20,640 rows) or "small" (600 rows).
        path: the cached file's name (default "california_housing.npz").
        test_split: fraction held out for testing, in [0, 1) (default 0.2).
        seed: the shuffle's seed (default 113).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``(n, 8)`` and ``(n,)`` arrays (dtypes as
        stored in the file).

    Raises:
        ValueError: for ``test_split`` outside [0, 1) or another ``version`` (both before
            downloading; Keras checks ``version`` after), or when the download's hash does
            not match.
        OSError: when the download fails (naming the URL).

    Matches Keras 3 ``keras/src/datasets/california_housing.py``.
    """
    check_test_split(test_split)
    if version not in ("small", "large"):
        raise ValueError("Argument `version` must be one of 'small', 'large'. "
                         f"Received: version={version}")  # fmt: skip
    path = get_file(path, origin=f"{ORIGIN_FOLDER}california_housing.npz", file_hash=FILE_HASH)
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    if version == "small":
        x, y = x[:SMALL], y[:SMALL]
    return shuffle_and_split(x, y, test_split, seed)
