"""The array backend: the one module that imports NumPy (and, lazily, CuPy).

Every op is written once against an array module ``xp`` returned by :func:`array_module`
(the Chainer ``get_array_module`` idea). The default float type is float32, as in Keras 3
and PyTorch. :func:`set_random_seed` seeds the one generator every random draw in
chainrule uses.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "np",
    "array_module",
    "use_array_module",
    "use_cupy",
    "asarray_like",
    "erf",
    "floatx",
    "set_floatx",
    "epsilon",
    "set_random_seed",
    "rng",
    "is_array",
]

_FLOATX = np.dtype("float32")
_EPSILON = 1e-7


def _tune_allocator() -> bool:
    """Keep freed arrays of up to 32 MiB in the process instead of unmapping them (Linux glibc).

    NOTE: measured, not guessed. glibc's malloc hands blocks over its mmap threshold (128 KiB
    at first) back to the kernel when freed and maps fresh zeroed pages for the next one. A
    training step allocates and frees the same few-MB arrays every step (activations, im2col
    windows, gradients), so each step paid 900-1,500 page faults, 5-7 ms of a ~22 ms CNN step
    (PyTorch's step: 17-128 faults). Raising the mmap threshold to 32 MiB and the trim
    threshold to 256 MiB lets the allocator reuse those blocks; faults drop to ~0. Both are
    set: either alone turns off glibc's dynamic threshold and is slower. The cost is that up to
    256 MiB of freed memory can stay with the process. ``CHAINRULE_MALLOC_TUNING=0`` in the
    environment leaves the allocator alone. Returns True when the settings were applied.
    """
    import os  # noqa: PLC0415
    import sys  # noqa: PLC0415

    if not sys.platform.startswith("linux") or os.environ.get("CHAINRULE_MALLOC_TUNING") == "0":
        return False
    try:
        import ctypes  # noqa: PLC0415 - NumPy has imported it already

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt  # glibc only: musl has none (AttributeError)
        return bool(mallopt(-3, 32 << 20)) and bool(mallopt(-1, 256 << 20))  # MMAP, TRIM
    except (OSError, AttributeError):
        return False


MALLOC_TUNED = _tune_allocator()
# The one non-NumPy array module whose arrays ops accept (CuPy, set by ``use_cupy``; a test
# stand-in), and its elementwise erf. None: NumPy only.
_xp = None
_xp_erf = None
_np_erf = np.frompyfunc(math.erf, 1, 1)
# Made on the first draw: ``numpy.random`` (and the ``secrets``, ``hashlib`` and ``threading``
# it imports) costs ~25 ms, a tenth of ``import chainrule.keras``, and NumPy 2 loads it lazily.
_RNG = None


def array_module(x):
    """Return the array module (``numpy``, or the registered one such as ``cupy``) of ``x``."""
    if _xp is not None and isinstance(x, _xp.ndarray):
        return _xp
    return np


def use_array_module(xp, erf=None):
    """Make ops accept the arrays of ``xp`` (a module with ``ndarray`` and ``asarray``, such as
    ``cupy``) besides NumPy's, and keep their results in ``xp``; ``None`` goes back to NumPy only.

    Ops call NumPy functions, which dispatch to ``xp`` through ``__array_ufunc__`` and
    ``__array_function__``. ``erf`` is ``xp``'s elementwise error function (NumPy has none;
    default ``xp.erf`` if it exists), used by ``gelu``.

    Returns:
        The module registered before (None for NumPy only), so a caller can restore it.

    Raises:
        TypeError: if ``xp`` has no ``ndarray`` type or no ``asarray`` function.
    """
    global _xp, _xp_erf
    if xp is not None and not (isinstance(getattr(xp, "ndarray", None), type)
                               and callable(getattr(xp, "asarray", None))):  # fmt: skip
        raise TypeError(
            "xp must be an array module with an ndarray type and an asarray function, "
            f"received {xp!r}"
        )
    previous = _xp
    _xp = xp
    _xp_erf = erf if erf is not None or xp is None else getattr(xp, "erf", None)
    return previous


def use_cupy():
    """Import CuPy so that CuPy arrays are recognised; raises ImportError if it is missing."""
    import cupy  # noqa: PLC0415 - optional dependency, imported on request
    from cupyx.scipy.special import erf  # noqa: PLC0415

    use_array_module(cupy, erf)
    return cupy


def is_array(x) -> bool:
    """True for a NumPy (or CuPy) array or NumPy scalar."""
    if isinstance(x, (np.ndarray, np.generic)):
        return True
    return _xp is not None and isinstance(x, _xp.ndarray)


def asarray_like(x, ref):
    """``x`` (a number, list or NumPy array) as an array of ``ref``'s module: NumPy's
    ``asarray`` for a NumPy ``ref``, ``cupy.asarray`` (a copy to the device) for a CuPy one.

    Use it where an op makes data on the host (an ``arange`` of indices, a constant table)
    that must meet ``ref``'s arrays: CuPy refuses to mix the two.
    """
    return array_module(ref).asarray(x)


def erf(x):
    """Elementwise error function of a NumPy (or registered module's) array, in its dtype.

    Raises:
        TypeError: for an array of a registered module that gave no ``erf``.
    """
    if array_module(x) is not np:
        if _xp_erf is None:
            raise TypeError(f"no erf was registered for {type(x).__module__} arrays")
        return _xp_erf(x)
    if np.ndim(x) == 0:
        return np.asarray(math.erf(x), dtype=x.dtype)
    return _np_erf(x).astype(x.dtype)


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


def seeded_rng(seed) -> np.random.Generator | None:
    """A layer's own generator for its ``seed`` argument, or None (draw from :func:`rng`) for
    None. A negative integer is taken modulo 2**64: Keras accepts any integer seed."""
    return None if seed is None else np.random.default_rng(int(seed) % 2**64)


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
