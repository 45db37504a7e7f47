"""Keras layers (``keras.layers``)."""

from .core import Activation, Dense, Dropout, Flatten, Identity, Lambda, Reshape
from .input_layer import Input, InputLayer, KerasTensor
from .input_spec import InputSpec
from .layer import Layer

__all__ = [
    "Layer", "InputSpec", "Input", "InputLayer", "KerasTensor", "Dense", "Activation", "Dropout",
    "Flatten", "Reshape", "Identity", "Lambda",
]  # fmt: skip
