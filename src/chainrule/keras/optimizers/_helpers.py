"""Helpers shared by the optimizers: Keras-style names, argument checks, gradient clipping
(matches Keras 3 ``keras/src/optimizers/base_optimizer.py`` ``_clip_gradients``,
``clip_by_global_norm`` and ``keras/src/utils/naming.py``)."""

from __future__ import annotations

import math

from ...backend import np
from ..naming import auto_name

__all__ = ["auto_name", "check_number", "clip_gradients", "is_real"]


def is_real(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def check_number(
    name: str, value, low=None, high=None, low_open=False, high_open=False, allow_none=False
) -> None:
    """Raise ValueError naming ``name`` unless ``value`` is a finite real number in range."""
    if value is None and allow_none:
        return
    ok = is_real(value) and math.isfinite(float(value))
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "" if low is None else ("(" if low_open else "[") + f"{low}"
        hi = "" if high is None else f"{high}" + (")" if high_open else "]")
        rng = f" in {lo}, {hi}" if lo and hi else (f" >= {low}" if lo else "")
        raise ValueError(f"`{name}` must be a number{rng}, received {name}={value!r}")


def clip_gradients(grads: list, clipnorm=None, global_clipnorm=None, clipvalue=None) -> list:
    """Clip as Keras does; only the first option set (in this order) applies::

        clipnorm:        g * clipnorm / max(norm(g), clipnorm)            (per gradient)
        global_clipnorm: g * clipnorm * min(1/gn, 1/clipnorm), gn = sqrt(sum(norm(g)**2))
        clipvalue:       clip(g, -clipvalue, clipvalue)

    New arrays are returned; the inputs are never modified.
    """
    if clipnorm and clipnorm > 0:
        out = []
        # NOTE: a non-finite gradient gives NaN here, as in Keras; no RuntimeWarning for it.
        with np.errstate(over="ignore", invalid="ignore"):
            for g in grads:
                c = g.dtype.type(clipnorm)
                out.append(g * c / np.maximum(np.sqrt(np.sum(np.square(g))), c))
        return out
    if global_clipnorm and global_clipnorm > 0:
        c = np.float32(global_clipnorm)
        # NOTE: as Keras, a non-finite global norm makes every gradient NaN (loudly)
        # instead of silently skipping the step.
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            norm = np.sqrt(np.sum(np.stack([np.sum(np.square(g)) for g in grads])))
            scale = c * np.minimum(1 / norm, 1 / c) + (norm - norm)
            return [g * scale.astype(g.dtype) for g in grads]
    if clipvalue and clipvalue > 0:
        c = clipvalue
        return [np.clip(g, -c, c) for g in grads]
    return grads
