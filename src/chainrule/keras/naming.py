"""Object names as Keras makes them (Keras 3 ``keras/src/utils/naming.py``)."""

from __future__ import annotations

import re
from collections import defaultdict

__all__ = ["to_snake_case", "unique_name", "auto_name", "reset_uids"]

# NOTE: one counter per prefix for every object Keras names (layers, symbolic tensors, metrics,
# optimizers), as Keras's ``backend.get_uid``; ``keras.backend.clear_session`` empties it.
_UIDS: defaultdict = defaultdict(int)


def unique_name(prefix: str) -> str:
    """``prefix``, then ``prefix_1``, ``prefix_2``... (Keras's ``backend.get_uid`` naming)."""
    n = _UIDS[prefix]
    _UIDS[prefix] += 1
    return prefix if n == 0 else f"{prefix}_{n}"


def auto_name(class_name: str) -> str:
    """A default object name: ``"Precision"`` -> ``"precision"``, then ``"precision_1"``...
    (Keras's ``auto_name``)."""
    return unique_name(to_snake_case(class_name))


def reset_uids() -> None:
    """Forget the names handed out so far (what ``keras.backend.clear_session`` does)."""
    _UIDS.clear()


def to_snake_case(name: str) -> str:
    """``"BatchNormalization"`` -> ``"batch_normalization"``, ``"Conv2D"`` -> ``"conv2d"``,
    ``"RMSprop"`` -> ``"rm_sprop"`` (non-word characters are dropped first)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
