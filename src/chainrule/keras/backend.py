"""Keras 3's ``keras.backend`` functions that programs call: ``clear_session`` and the
settings of ``keras.config`` (Keras 3 ``keras/src/backend/common/global_state.py``)."""

from __future__ import annotations

import gc

from .config import backend, epsilon, floatx, image_data_format, set_floatx

__all__ = ["clear_session", "floatx", "set_floatx", "epsilon", "image_data_format", "backend",
           "is_keras_tensor"]  # fmt: skip


def clear_session(free_memory: bool = True) -> None:
    """Forget the automatic names handed out so far (the next ``Dense`` is ``dense`` again,
    as in Keras) and, with ``free_memory``, run the garbage collector. Models already made
    keep working."""
    from .naming import reset_uids  # noqa: PLC0415

    reset_uids()
    if free_memory:
        gc.collect()


def is_keras_tensor(x) -> bool:
    """Whether ``x`` is a symbolic tensor made by ``keras.Input`` or a layer called on one."""
    from .layers.input_layer import KerasTensor  # noqa: PLC0415

    return isinstance(x, KerasTensor)
