"""Keras models: ``Model``, ``Sequential`` and functional models."""

from .functional import Functional
from .io import clone_model, load_model, model_from_json
from .model import Model
from .sequential import Sequential

__all__ = ["Model", "Sequential", "Functional", "load_model", "model_from_json", "clone_model"]
