"""A Keras 3 compatible API on chainrule's autodiff: ``from chainrule import keras``.

Submodules (layers, losses, optimizers, ...) load on first use, so ``import chainrule.keras``
stays fast.
"""

from __future__ import annotations

import importlib

from .variables import Variable

__version__ = "3.15.1"  # the Keras version whose behaviour we match

_SUBMODULES = {
    "layers", "models", "losses", "metrics", "optimizers", "callbacks", "initializers",
    "activations", "regularizers", "constraints", "utils", "saving", "ops", "backend",
    "config", "datasets",
}  # fmt: skip
_FROM = {
    "Sequential": "models",
    "Model": "models",
    "Input": "layers",
    "InputSpec": "layers",
    "Layer": "layers",
    "KerasTensor": "layers",
}


def version() -> str:
    """The Keras version chainrule's Keras API matches ("3.15.1", also ``__version__`` and the
    ``keras_version`` of saved files); matches Keras 3 ``keras.version()``
    (``keras/src/version.py``). chainrule's own version is ``chainrule.__version__``."""
    return __version__


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _FROM:
        return getattr(importlib.import_module(f".{_FROM[name]}", __name__), name)
    raise AttributeError(f"module 'chainrule.keras' has no attribute {name!r}")


def __dir__():
    return sorted([*_SUBMODULES, *_FROM, "Variable", "version"])


__all__ = ["Variable", "version", *sorted(_FROM)]
