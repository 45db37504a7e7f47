"""Keras models: ``Model``, ``Sequential`` and functional models."""

from .functional import Functional
from .model import Model
from .sequential import Sequential

__all__ = ["Model", "Sequential", "Functional"]
