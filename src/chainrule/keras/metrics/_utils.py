"""Helpers shared by the metric modules: input conversion, rank alignment, naming."""

from __future__ import annotations

from ...autodiff.tensor import Tensor
from ...backend import floatx, np
from ..naming import reset_uids


def to_numpy(x, dtype=None, arg: str = "value"):
    """Return ``x`` (a Tensor, array, list or number) as a NumPy array, cast to ``dtype``.

    Raises:
        TypeError: naming ``arg`` when ``x`` is not numeric.
    """
    if isinstance(x, Tensor):
        x = x.data
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{arg} must be numeric (bool, int or float), received {type(x).__name__} "
            f"with dtype {arr.dtype}"
        )
    if dtype is not None and arr.dtype != np.dtype(dtype):
        arr = arr.astype(dtype)
    return arr


def to_float(x, dtype=None, arg: str = "value"):
    """``to_numpy`` cast to ``dtype``; without ``dtype``, floats keep theirs and the rest
    become ``floatx()``."""
    arr = to_numpy(x, dtype, arg)
    return arr if arr.dtype.kind == "f" else arr.astype(floatx())


def align_ranks(x1, x2, expand_rank_1: bool = True):
    """Make two arrays the same rank when they differ by one trailing size-1 axis.

    Matches Keras 3 ``keras/src/losses/loss.py`` ``squeeze_or_expand_to_same_rank``: the
    higher-rank array loses its trailing 1, except that a rank-1 partner is expanded instead
    (when ``expand_rank_1``), so ``(N,)`` against ``(N, 1)`` becomes ``(N, 1)`` on both sides.
    """
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def check_same_shape(y_true, y_pred, fn_name: str) -> None:
    """Raise a ValueError naming both shapes unless they are equal.

    # NOTE: Keras (and NumPy) would broadcast e.g. (N, 1) against (N, 3) and return a number
    # that is rarely what was meant; we refuse instead (house rule: no silent wrong answer).
    """
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{fn_name}: y_true and y_pred must have the same shape (after aligning a trailing "
            f"axis of size 1), received y_true.shape={y_true.shape} and "
            f"y_pred.shape={y_pred.shape}"
        )


def prepare_pair(y_true, y_pred, fn_name: str, dtype=None):
    """Float arrays of ``y_true`` and ``y_pred`` with aligned ranks and equal shapes."""
    y_pred = to_float(y_pred, dtype, "y_pred")
    y_true = to_numpy(y_true, y_pred.dtype, "y_true")
    y_true, y_pred = align_ranks(y_true, y_pred)
    check_same_shape(y_true, y_pred, fn_name)
    return y_true, y_pred


def sigmoid(x):
    """``1 / (1 + exp(-x))`` in ``x``'s dtype.

    # NOTE: evaluated as exp(-|x|) based halves, so large |x| neither overflows nor warns.
    """
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


def divide_no_nan(a, b):
    """``a / b`` with 0 wherever ``b == 0`` (Keras ``ops.divide_no_nan``)."""
    a = np.asarray(a)
    b = np.asarray(b)
    safe = np.where(b == 0, 1, b)
    return np.where(b == 0, 0, a / safe).astype(np.result_type(a, b))


def reset_name_uids() -> None:
    """Forget the names handed out so far (what ``keras.backend.clear_session`` does)."""
    reset_uids()
