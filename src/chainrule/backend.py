"""The array backend: the one module that imports NumPy (and, lazily, CuPy).

Every op is written once against an array module ``xp`` returned by :func:`array_module`
(the Chainer ``get_array_module`` idea). The default float type is float32, as in Keras 3
and PyTorch. :func:`set_random_seed` seeds the one generator every random draw in
chainrule uses.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "np",
    "array_module",
    "floatx",
    "set_floatx",
    "epsilon",
    "set_random_seed",
    "rng",
    "is_array",
]

_FLOATX = np.dtype("float32")
_EPSILON = 1e-7
_cupy = None  # imported on first request by ``use_cupy``
# Made on the first draw: ``numpy.random`` (and the ``secrets``, ``hashlib`` and ``threading``
# it imports) costs ~25 ms, a tenth of ``import chainrule.keras``, and NumPy 2 loads it lazily.
_RNG = None


def array_module(x):
    """Return the array module (``numpy`` or ``cupy``) that owns ``x``."""
    if _cupy is not None and isinstance(x, _cupy.ndarray):
        return _cupy
    return np


def use_cupy():
    """Import CuPy so that CuPy arrays are recognised; raises ImportError if it is missing."""
    global _cupy
    import cupy  # noqa: PLC0415 - optional dependency, imported on request

    _cupy = cupy
    return cupy


def is_array(x) -> bool:
    """True for a NumPy (or CuPy) array or NumPy scalar."""
    if isinstance(x, (np.ndarray, np.generic)):
        return True
    return _cupy is not None and isinstance(x, _cupy.ndarray)


def floatx() -> str:
    """The default float type name, ``"float32"`` unless changed by :func:`set_floatx`."""
    return _FLOATX.name


def set_floatx(dtype) -> None:
    """Set the default float type (``"float16"``, ``"float32"`` or ``"float64"``)."""
    global _FLOATX
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise ValueError(f"floatx must be a float dtype, received dtype={dtype!r}")
    _FLOATX = dt


def epsilon() -> float:
    """The fuzz factor of losses and metrics: 1e-7 (matches Keras 3 ``keras.config.epsilon``)."""
    return _EPSILON


def rng() -> np.random.Generator:
    """The generator behind every random draw in chainrule (initializers, dropout, shuffling)."""
    global _RNG
    if _RNG is None:
        _RNG = np.random.default_rng()
    return _RNG


def set_random_seed(seed: int) -> None:
    """Make every random draw reproducible: seeds chainrule's generator, NumPy's global one and
    Python's ``random`` (as ``keras.utils.set_random_seed`` does).

    Raises:
        ValueError: if ``seed`` is not a non-negative integer.
    """
    import random  # noqa: PLC0415 - only seeding needs it; kept off the import path

    global _RNG
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, received seed={seed!r}")
    seed = int(seed)
    _RNG = np.random.default_rng(seed)
    np.random.seed(seed % (2**32))
    random.seed(seed)
