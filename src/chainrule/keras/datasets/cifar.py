"""What CIFAR-10 and CIFAR-100 share: reading one pickled batch (Keras 3
``keras/src/datasets/cifar.py``)."""

from __future__ import annotations

from ...backend import np
from ._npz import load_pickle

__all__ = ["load_batch"]


def load_batch(fpath, label_key: str = "labels"):
    """One CIFAR batch file as ``(data, labels)``: data ``(n, 3, 32, 32)`` uint8, labels as
    stored (a list of ints).

    Args:
        fpath: the batch file (a Python pickle of a dict with bytes keys).
        label_key: the labels' key (default "labels"; CIFAR-100 has "fine_labels" and
            "coarse_labels").

    Raises:
        ValueError: naming the file, when it lacks ``data`` or ``label_key``.
        pickle.UnpicklingError: when the file names anything but NumPy arrays.
    """
    batch = {k.decode("utf8") if isinstance(k, bytes) else k: v
             for k, v in load_pickle(fpath).items()}  # fmt: skip
    missing = [k for k in ("data", label_key) if k not in batch]
    if missing:
        raise ValueError(f"CIFAR batch {fpath} has no {missing} entry: expected the keys "
                         f"'data' and {label_key!r}, received {sorted(batch)}")  # fmt: skip
    data = batch["data"]
    return data.reshape(data.shape[0], 3, 32, 32), batch[label_key]


def channels_last(x):
    """``(n, 3, 32, 32) -> (n, 32, 32, 3)`` when the image data format is channels_last."""
    from ..config import image_data_format  # noqa: PLC0415

    return x.transpose(0, 2, 3, 1) if image_data_format() == "channels_last" else x


def labels_column(labels, dtype=None):
    """Labels as an ``(n, 1)`` column, as Keras returns them."""
    labels = np.asarray(labels) if dtype is None else np.asarray(labels, dtype=dtype)
    return np.reshape(labels, (len(labels), 1))
