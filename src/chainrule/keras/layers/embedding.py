"""``Embedding``: a trainable lookup table (Keras 3 ``keras/src/layers/core/embedding.py``)."""

from __future__ import annotations

from ...autodiff.primitive import defvjp, primitive
from ...backend import np
from .core import _no_lora, _ser
from .layer import Layer
from .rnn.masking import as_array, attach_mask

__all__ = ["Embedding"]


@primitive
def _gather_rows(table, indices):
    return table[indices]


def _scatter_rows(g, out, table, indices):
    # NOTE: repeated indices must accumulate. Sorting the indices and summing runs with
    # add.reduceat is much faster than np.add.at for (vocabulary, dim) tables.
    flat = indices.reshape(-1)
    gf = g.reshape(flat.size, -1)
    res = np.zeros(table.shape, dtype=g.dtype)
    if flat.size:
        order = np.argsort(flat, kind="stable")
        s = flat[order]
        starts = np.flatnonzero(np.concatenate([[True], s[1:] != s[:-1]]))
        res[s[starts]] = np.add.reduceat(gf[order], starts, axis=0)
    return res


defvjp(_gather_rows, _scatter_rows, None)


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(
            f"{name} must be a positive integer, received {name}={value!r} "
            f"(of type {type(value).__name__})"
        )
    return int(value)


class Embedding(Layer):
    """Maps integer indices to dense vectors: ``out[..., :] = embeddings[index]`` (matches
    Keras 3 ``keras/src/layers/core/embedding.py``).

    Args:
        input_dim: positive int, the vocabulary size (indices lie in ``[0, input_dim)``).
        output_dim: positive int, the vector size.
        embeddings_initializer: default "uniform", ``U(-0.05, 0.05)``.
        embeddings_regularizer, embeddings_constraint: optional.
        mask_zero: if True, index 0 is padding: the output carries the mask ``indices != 0``
            for the next layer (see ``rnn/masking.py``). Default False.
        weights: optional initial ``[embeddings]``.

    Shape: ``(batch, ...)`` integer (float inputs holding integers are cast, as Keras)
    -> ``(batch, ..., output_dim)``. The gradient scatters into the rows used, accumulating
    repeated indices.

    Raises:
        ValueError: ``input_dim`` or ``output_dim`` not a positive integer; an index outside
            ``[0, input_dim)`` (naming the index and the range; never wrapped around).

    >>> import numpy as np
    >>> from chainrule import keras
    >>> out = keras.layers.Embedding(10, 4, mask_zero=True)(np.array([[3, 1, 0]]))
    >>> out.shape, out._keras_mask.tolist()
    ((1, 3, 4), [[True, True, False]])
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, lora_alpha=None, quantization_config=None,
                 **kwargs):  # fmt: skip
        from .. import constraints, initializers, regularizers  # noqa: PLC0415

        kwargs.pop("input_length", None)
        super().__init__(**kwargs)
        self.input_dim = _positive_int("input_dim", input_dim)
        self.output_dim = _positive_int("output_dim", output_dim)
        _no_lora("Embedding", lora_rank, quantization_config)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.autocast = False
        if weights is not None:
            self.build()
            self.set_weights(weights if isinstance(weights, list) else [weights])

    def build(self, input_shape=None):
        if self.built:
            return
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          name="embeddings",
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint)  # fmt: skip
        self.built = True

    def _indices(self, inputs):
        idx = as_array(inputs)
        if idx.dtype.kind == "f":
            idx = idx.astype(np.int64)  # Keras casts to int (truncation)
        elif idx.dtype.kind not in "iu":
            raise ValueError(f"Embedding needs integer indices, received dtype {idx.dtype}")
        if idx.size:
            lo, hi = idx.min(), idx.max()
            if lo < 0 or hi >= self.input_dim:
                bad = lo if lo < 0 else hi
                raise ValueError(
                    f"Embedding {self.name!r}: index {bad} is out of range; indices must lie "
                    f"in [0, {self.input_dim}) for input_dim={self.input_dim}"
                )
        return idx

    def call(self, inputs):
        idx = self._indices(inputs)
        out = _gather_rows(self.embeddings, idx)
        return attach_mask(out, idx != 0) if self.mask_zero else out

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return as_array(inputs) != 0

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape), self.output_dim)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "embeddings_initializer": _ser("initializers", self.embeddings_initializer),
                "embeddings_regularizer": _ser("regularizers", self.embeddings_regularizer),
                "activity_regularizer": _ser("regularizers", self.activity_regularizer),
                "embeddings_constraint": _ser("constraints", self.embeddings_constraint),
                "mask_zero": self.mask_zero, "quantization_config": None}  # fmt: skip
