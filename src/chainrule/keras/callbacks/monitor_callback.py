"""``MonitorCallback``: the shared "is this value an improvement?" logic.

Used by :class:`EarlyStopping` and :class:`ReduceLROnPlateau`. Matches Keras 3
``keras/src/callbacks/monitor_callback.py``.
"""

from __future__ import annotations

import operator
import warnings

from ...backend import np
from .callback import Callback

__all__ = ["MonitorCallback", "metric_direction"]

# Directions of Keras 3's built-in metrics under their default names (the ``_direction`` each
# sets in ``keras/src/metrics/*.py``). Used only when the model's own metric objects do not say.
def _model_metrics(model) -> list:
    """The model's metric objects, with containers (objects holding ``.metrics``) opened."""
    found, todo = [], list(getattr(model, "metrics", None) or [])
    while todo:
        m = todo.pop(0)
        inner = getattr(m, "metrics", None)
        if isinstance(inner, (list, tuple)) and inner is not m:
            todo[:0] = list(inner)
        else:
            found.append(m)
    return found


def metric_direction(name: str, model=None) -> str | None:
    """``"up"`` or ``"down"`` for the monitored quantity ``name``, or None if unknown, as
    Keras 3's ``MonitorCallback._set_monitor_op`` decides in "auto" mode: ``"loss"`` (after
    dropping a ``val_`` prefix) goes down; otherwise a compiled metric of exactly that name
    decides, by its ``_direction``. (A per-output name such as ``val_cls_accuracy`` names no
    metric, whose own name is ``accuracy``: None, as in Keras.)"""
    base = name.removeprefix("val_")
    direction = "down" if base == "loss" else None
    for m in _model_metrics(model):
        if getattr(m, "name", None) == base:
            d = getattr(m, "_direction", None)
            if d in ("up", "down"):
                direction = d
    return direction


class MonitorCallback(Callback):
    """Base for callbacks that watch one logged quantity and compare it with the best so far.

    ``current`` improves on ``reference`` when ``current - min_delta < reference`` in "min"
    mode and ``current - min_delta > reference`` in "max" mode, where ``min_delta`` carries the
    sign that makes an improvement harder (``-|min_delta|`` in "min" mode). A ``None``
    reference is always improved on.

    Args:
        monitor: the logs key to watch (default "val_loss").
        mode: "auto", "min" or "max" (default "auto"). An unknown mode warns and falls back to
            "auto", as Keras does. "auto" resolves on the first epoch end (see
            :func:`metric_direction`).
        baseline: initial best value (default None).
        min_delta: the smallest change that counts as an improvement (default 0).

    Raises:
        ValueError: at the first epoch end, in "auto" mode, if the direction of ``monitor``
            cannot be determined.
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0) -> None:
        super().__init__()
        if not isinstance(monitor, str):
            raise TypeError(
                f"monitor must be a string (a logs key), received monitor={monitor!r}"
            )
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)):
            raise TypeError(f"min_delta must be a number, received min_delta={min_delta!r}")
        if mode not in ("auto", "min", "max"):
            warnings.warn(
                f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto mode.",
                stacklevel=2,
            )
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self) -> None:
        if self.mode == "auto":
            direction = metric_direction(self.monitor, self.model)
            if direction is None:
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor}, but "
                    "cannot tell whether that metric should be maximized or minimized. "
                    "Pass mode='max' to monitor the highest value, or mode='min' for the lowest."
                )
        else:
            direction = "up" if self.mode == "max" else "down"
        self.monitor_op = operator.gt if direction == "up" else operator.lt
        if direction == "down":
            # Minimising: "current - min_delta < best" must demand a drop of at least min_delta.
            self.min_delta *= -1

    def _is_improvement(self, monitor_value, reference_value) -> bool:
        if reference_value is None:
            return True
        # NOTE: Keras compares through ``keras.ops``, which casts Python floats to float32; we do
        # the same so that values equal in float32 (or both overflowing) are "no improvement".
        with np.errstate(over="ignore"):
            current = np.float32(monitor_value - self.min_delta)
            reference = np.float32(reference_value)
        return bool(self.monitor_op(current, reference))
