"""``keras.initializers``: the functions that give weights their first values.

An initializer is called as ``initializer(shape, dtype=None)`` and returns a NumPy array of that
shape (dtype ``floatx()``, float32, by default). Names, arguments, defaults and formulas match
Keras 3 ``keras/src/initializers/``.

Random draws: with ``seed=None`` every call draws from ``chainrule.backend.rng()``, so
``chainrule.set_random_seed`` makes a whole model reproducible and two calls give different
values. With an integer ``seed`` every call uses a fresh generator seeded from it, so the same
seed gives the same values on every call (as Keras's seeded initializers do).

>>> from chainrule.keras import initializers
>>> initializers.get("ones")((2, 2))
array([[1., 1.],
       [1., 1.]], dtype=float32)
"""

from __future__ import annotations

from ...backend import np
from .._serialization import deserialize_object, get_object, serialize_object
from .constant_initializers import Constant, Identity, Ones, Zeros
from .initializer import Initializer, _standardize_dtype, _standardize_shape
from .random_initializers import (
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    LecunNormal,
    LecunUniform,
    Orthogonal,
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
    VarianceScaling,
    compute_fans,
)

__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "Identity", "RandomNormal", "RandomUniform",
    "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform",
    "HeNormal", "LecunUniform", "LecunNormal", "Orthogonal", "compute_fans", "get",
    "serialize", "deserialize",
]  # fmt: skip


# -- names, get, serialize, deserialize -----------------------------------------------------

_CLASSES = (
    Initializer, Constant, Identity, Ones, Zeros, GlorotNormal, GlorotUniform, HeNormal,
    HeUniform, LecunNormal, LecunUniform, Orthogonal, RandomNormal, RandomUniform,
    TruncatedNormal, VarianceScaling,
)  # fmt: skip
_SNAKE = {
    "Initializer": "initializer", "Constant": "constant", "Identity": "identity",
    "Ones": "ones", "Zeros": "zeros", "GlorotNormal": "glorot_normal",
    "GlorotUniform": "glorot_uniform", "HeNormal": "he_normal", "HeUniform": "he_uniform",
    "LecunNormal": "lecun_normal", "LecunUniform": "lecun_uniform", "Orthogonal": "orthogonal",
    "RandomNormal": "random_normal", "RandomUniform": "random_uniform",
    "TruncatedNormal": "truncated_normal", "VarianceScaling": "variance_scaling",
}  # fmt: skip
ALL_OBJECTS_DICT = {cls.__name__: cls for cls in _CLASSES}
ALL_OBJECTS_DICT.update({_SNAKE[cls.__name__]: cls for cls in _CLASSES})
ALL_OBJECTS_DICT.update(
    {
        "IdentityInitializer": Identity,
        "OrthogonalInitializer": Orthogonal,
        "normal": RandomNormal,
        "uniform": RandomUniform,
        "one": Ones,
        "zero": Zeros,
    }
)

# Keras also exports each class under its snake_case name (`keras.initializers.he_normal`).
constant, identity, ones, zeros = Constant, Identity, Ones, Zeros
glorot_normal, glorot_uniform = GlorotNormal, GlorotUniform
he_normal, he_uniform = HeNormal, HeUniform
lecun_normal, lecun_uniform, orthogonal = LecunNormal, LecunUniform, Orthogonal
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
variance_scaling = VarianceScaling


def serialize(initializer: Initializer) -> dict:
    """The Keras 3 config dict of an initializer, e.g. ``{"module": "keras.initializers",
    "class_name": "GlorotUniform", "config": {"seed": None, ...}, "registered_name": None}``.

    Raises:
        ValueError: if ``initializer`` has no ``get_config``.
    """
    if not hasattr(initializer, "get_config"):
        raise ValueError(
            f"initializer must be an Initializer with get_config(), received {initializer!r}"
        )
    return serialize_object(initializer, "keras.initializers")


def deserialize(config, custom_objects: dict | None = None) -> Initializer:
    """An initializer from its name or ``serialize`` dict.

    Raises:
        ValueError: listing the valid names if the name is unknown.
    """
    return deserialize_object(config, ALL_OBJECTS_DICT, "initializer", custom_objects)


def get(identifier):
    """An initializer from a name ("glorot_uniform", "HeNormal", ...), a config dict, a class,
    a callable ``(shape, dtype=None) -> array``, or an array (returned as is for its own shape).

    ``None`` gives ``None``. Matches Keras 3 ``keras/src/initializers/__init__.py``.

    Raises:
        ValueError: listing the valid names if the identifier cannot be interpreted.
    """
    # np.str_ is a str: it is a name, not an array.
    if isinstance(identifier, (np.ndarray, np.generic)) and not isinstance(identifier, str):
        fixed = np.asarray(identifier)

        def initialize_fn(shape, dtype=None):
            if _standardize_shape(shape) != fixed.shape:
                raise ValueError(
                    f"Expected shape {fixed.shape} for an array used as initializer, received "
                    f"shape={tuple(shape)}"
                )
            return fixed.astype(_standardize_dtype(dtype))

        return initialize_fn
    return get_object(identifier, deserialize, "initializer", ALL_OBJECTS_DICT)
