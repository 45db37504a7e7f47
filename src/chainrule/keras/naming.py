"""Object names as Keras makes them (Keras 3 ``keras/src/utils/naming.py``)."""

from __future__ import annotations

import re

__all__ = ["to_snake_case"]


def to_snake_case(name: str) -> str:
    """``"BatchNormalization"`` -> ``"batch_normalization"``, ``"Conv2D"`` -> ``"conv2d"``,
    ``"RMSprop"`` -> ``"rm_sprop"`` (non-word characters are dropped first)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
