"""Connectionist temporal classification: ``keras.losses.ctc`` and ``keras.losses.CTC``.

Labels are integers padded with 0, which is also the blank; predictions are logits over every
frame. The per-sample loss is the primitive ``_ctc_op.ctc_loss`` (Graves et al. 2006), as Keras 3
``keras/src/losses/losses.py:ctc`` calls ``keras.ops.ctc_loss``.
"""

from __future__ import annotations

from ...autodiff.tensor import Tensor
from ...backend import np
from ._ctc_op import ctc_loss
from .loss import BuiltinLoss, _as_pred, _data

__all__ = ["ctc", "CTC"]

_MASK_INDEX = 0


def _labels(y_true):
    """``y_true`` as an int64 ``(batch, max_length)`` array, labels first and 0 padding after.

    Raises:
        ValueError: for a rank other than 2 (Keras's message), non-integral values, or a label
            after a 0 (padding in the middle would silently shorten the sequence).
    """
    lab = np.asarray(_data(y_true))
    if lab.ndim != 2:
        raise ValueError(
            "Targets `y_true` are expected to be a tensor of shape `(batch_size, max_length)` "
            f"in integer format. Received: y_true.shape={lab.shape}"
        )
    if lab.dtype.kind == "f":
        bad = ~np.isfinite(lab) | (lab != np.round(lab))
        if bad.any():
            value = lab[bad].flat[0].item()
            raise ValueError(f"ctc: y_true must hold integer labels, received the value {value!r}")
    elif lab.dtype.kind not in "iub":
        raise ValueError(f"ctc: y_true must hold integer labels, received dtype {lab.dtype}")
    lab = lab.astype(np.int64)
    padding = lab == _MASK_INDEX
    late = ~padding & (np.cumsum(padding, axis=1) > 0)  # a label after some padding
    if late.any():
        b, j = (int(i) for i in np.argwhere(late)[0])
        raise ValueError(
            "ctc: each row of y_true must hold its labels first and its 0 padding after them "
            f"(0 is the blank/mask index), received label {int(lab[b, j])} at y_true[{b}, {j}] "
            "after a 0"
        )
    return lab


def ctc(y_true, y_pred) -> Tensor:
    """CTC loss per sample: ``-log p(y_true | y_pred)`` with blank 0 (Graves et al. 2006).

    ``label_length = sum(y_true != 0, axis=-1)``, every frame of ``y_pred`` is used
    (``input_length = max_length``), and ``_ctc_op.ctc_loss(y_true, y_pred, label_length,
    input_length, mask_index=0)`` sums ``prod_t softmax(y_pred[b, t])[path_t]`` over the paths
    that collapse (merge repeats, drop blanks) to the labels.

    Args:
        y_true: integer labels ``(batch_size, max_label_length)``; 0 is the blank and the
            padding, so classes are ``1 .. num_classes - 1``; labels come before padding.
        y_pred: logits ``(batch_size, max_length, num_classes)``, not softmax-normalised.

    Returns:
        Tensor ``(batch_size,)``, float32 for any float ``y_pred`` (as Keras); ``inf`` for labels
        no path of ``max_length`` frames can produce (zero gradient there).

    Raises:
        ValueError: for ``y_true`` not of rank 2 or ``y_pred`` not of rank 3 (Keras's
            messages), non-integer labels, a label after padding, a label ``>= num_classes``
            or negative, or batch sizes that differ.

    Matches Keras 3 ``keras/src/losses/losses.py:ctc`` (torch backend), except that Keras
    returns a number for out-of-range labels or padding between labels, and a ``nan``
    gradient where the loss is ``inf``.

    >>> import numpy as np
    >>> logits = np.zeros((1, 2, 3), dtype=np.float32)  # uniform: 3 of 9 paths give [1]
    >>> ctc([[1, 0]], logits).numpy()
    array([1.0986123], dtype=float32)
    """
    labels = _labels(y_true)
    if np.ndim(_data(y_pred)) != 3:
        raise ValueError(
            "Logits `y_pred` are expected to be a tensor of shape `(batch_size, max_length, "
            f"num_classes)`. Received: y_pred.shape={np.shape(_data(y_pred))}"
        )
    y_pred = _as_pred(y_pred)
    batch, steps, classes = y_pred.shape
    bad = (labels < 0) | (labels >= classes)
    if bad.any():
        b, j = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"ctc: y_true labels must be class indices in [1, {classes}) (num_classes="
            f"{classes}; 0 is the blank and the padding), received y_true[{b}, {j}]="
            f"{int(labels[b, j])}"
        )
    label_length = np.sum(labels != _MASK_INDEX, axis=-1)
    input_length = np.full((batch,), steps, dtype=np.int64)
    return ctc_loss(labels, y_pred, label_length, input_length, mask_index=_MASK_INDEX)


class CTC(BuiltinLoss):
    """CTC (connectionist temporal classification) loss; see :func:`ctc`.

    ``loss = reduce(ctc(y_true, y_pred) * sample_weight)``.

    Args:
        reduction: default ``"sum_over_batch_size"`` (the mean over the batch); ``"sum"``,
            ``"mean"``, ``"mean_with_sample_weight"``, ``"none"``/``None``.
        name: default ``"ctc"``.
        dtype: default ``floatx()`` (float32); ``y_pred`` and the per-sample values are cast
            to it.

    Shapes: ``y_true (batch, max_label_length)`` integers, ``y_pred (batch, max_length,
    num_classes)`` logits; the result is a scalar, or ``(batch,)`` with no reduction.

    Raises:
        ValueError: for an unknown ``reduction``; at call time as :func:`ctc`.

    Matches Keras 3 ``keras/src/losses/losses.py:CTC``; ``get_config()`` is
    ``{"name", "reduction"}`` as there.

    >>> import numpy as np
    >>> logits = np.zeros((2, 2, 3), dtype=np.float32)
    >>> float(CTC()([[1, 0], [0, 0]], logits))  # (log 3 + log 9) / 2
    1.647918462753296
    """

    def __init__(self, reduction="sum_over_batch_size", name="ctc", dtype=None):
        super().__init__(ctc, reduction=reduction, name=name, dtype=dtype)
