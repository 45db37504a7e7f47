"""Attention layers: ``MultiHeadAttention`` and ``Attention`` (Keras 3
``keras/src/layers/attention/``)."""

from __future__ import annotations

import math
import string

from ... import ops
from ...backend import np, rng, seeded_rng
from .core import _ser
from .layer import Layer
from .rnn.masking import as_array, attach_mask, get_mask

__all__ = ["MultiHeadAttention", "Attention"]

_BIG = 1e9  # Keras's large negative score for masked positions (float32)


def _positive_int(name, value, allow_none=False):
    if allow_none and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, received {name}={value!r}")
    return int(value)


def _dropout(x, rate, training, gen):
    if not training or rate <= 0:
        return x
    keep = gen.random(tuple(x.shape)) >= rate
    return x * (keep.astype(x.dtype) / np.asarray(1 - rate, x.dtype))


class _Projection(Layer):
    """Keras's ``EinsumDense`` as used by attention: contracts the last ``n_in`` input axes
    with a kernel of shape ``(*in_dims, *out_dims)`` and adds a bias of shape ``out_dims``."""

    def __init__(self, out_dims, n_in, use_bias, kernel_initializer, bias_initializer,
                 kernel_regularizer, bias_regularizer, kernel_constraint, bias_constraint,
                 **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.out_dims = tuple(out_dims)
        self.n_in = n_in
        self.use_bias = use_bias
        self._cfg = (kernel_initializer, bias_initializer, kernel_regularizer,
                     bias_regularizer, kernel_constraint, bias_constraint)  # fmt: skip
        self.bias = None

    def build(self, input_shape):
        from .. import initializers  # noqa: PLC0415

        k_init, b_init, k_reg, b_reg, k_con, b_con = self._cfg
        in_dims = tuple(input_shape[-self.n_in :])
        # Fresh initializer objects per projection, as Keras clones them per sub-layer.
        k_init = initializers.get(_ser("initializers", k_init))
        self.kernel = self.add_weight(shape=(*in_dims, *self.out_dims), name="kernel",
                                      initializer=k_init, regularizer=k_reg,
                                      constraint=k_con)  # fmt: skip
        if self.use_bias:
            self.bias = self.add_weight(shape=self.out_dims, name="bias", initializer=b_init,
                                        regularizer=b_reg, constraint=b_con)  # fmt: skip
        self._n = int(math.prod(in_dims))
        self._m = int(math.prod(self.out_dims))
        self.built = True

    def call(self, x):
        lead = tuple(x.shape)[: x.ndim - self.n_in]
        flat = ops.reshape(x, (*lead, self._n)) if self.n_in != 1 else x
        kernel = ops.reshape(self.kernel, (self._n, self._m))
        if self.bias is None:
            out = ops.matmul(flat, kernel)
        else:
            out = ops.dense(flat, kernel, ops.reshape(self.bias, (self._m,)))
        return ops.reshape(out, (*lead, *self.out_dims))


def _attention_equations(rank, attn_axes):
    """einsum equations for scores ``(key, query) -> (batch..., T..., S...)`` and for
    combining ``(scores, value) -> query layout``, for projected tensors of ``rank``."""
    letters = string.ascii_lowercase
    target = letters[:rank]
    batch = [i for i in range(rank) if i not in attn_axes and i != rank - 1]
    source, nxt = "", rank
    for i in range(rank):
        if i in batch or i == rank - 1:
            source += target[i]
        else:
            source += letters[nxt]
            nxt += 1
    product = "".join([target[i] for i in batch] + [target[i] for i in attn_axes]
                      + [source[i] for i in attn_axes])  # fmt: skip
    return f"{source},{target}->{product}", f"{product},{source}->{target}", len(product)


class MultiHeadAttention(Layer):
    """Multi-head scaled dot-product attention (Vaswani et al. 2017; matches Keras 3
    ``keras/src/layers/attention/multi_head_attention.py``).

    ::

        q = query @ Wq + bq;  k = key @ Wk + bk;  v = value @ Wv + bv     # (B, T|S, H, K|V)
        scores = softmax(einsum(k, q / sqrt(key_dim)) masked with -1e9)   # (B, H, T, S)
        out = einsum(dropout(scores), v) @ Wo + bo                        # (B, T, out_dim)

    Args:
        num_heads: positive int. key_dim: positive int (query/key size per head).
        value_dim: per-head value size (default ``key_dim``). dropout: on the attention
            probabilities in training (default 0.0). use_bias: default True.
        output_shape: the output's last dims (default the query's last dim).
        attention_axes: axes attended over (default all but batch, heads and features).
        kernel_initializer="glorot_uniform", bias_initializer="zeros", regularizers,
        constraints, seed=None.

    Weights (Keras order and shapes): query kernel ``(dim, H, key_dim)`` and bias
    ``(H, key_dim)``; key likewise; value ``(dim, H, value_dim)``, ``(H, value_dim)``; output
    kernel ``(H, value_dim, out_dim)`` and bias ``(out_dim,)``.

    Call args: ``query (B, T, dim)``, ``value (B, S, dim)``, ``key`` (default value),
    ``attention_mask`` (boolean ``(B, T, S)``, True = attend), ``return_attention_scores``,
    ``training``, ``use_causal_mask``; the masks that query/value/key carry (``mask_zero``)
    are applied as Keras does.

    Raises:
        ValueError: non-positive num_heads/key_dim/value_dim; key and value shapes differing
            except in the last axis.

    >>> import numpy as np
    >>> from chainrule import keras
    >>> mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    >>> mha(np.ones((1, 4, 5), "float32"), np.ones((1, 6, 5), "float32")).shape
    (1, 4, 5)
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, attention_axes=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 seed=None, **kwargs):  # fmt: skip
        from .. import constraints, initializers, regularizers  # noqa: PLC0415

        for k in ("sliding_window", "flash_attention", "use_gate"):
            if kwargs.pop(k, None):
                raise NotImplementedError(f"MultiHeadAttention: {k} is not supported")
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.num_heads = _positive_int("num_heads", num_heads)
        self.key_dim = _positive_int("key_dim", key_dim)
        self.value_dim = _positive_int("value_dim", value_dim, True) or self.key_dim
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not (
                0 <= dropout < 1):  # fmt: skip
            raise ValueError(f"dropout must be a float in [0, 1), received dropout={dropout!r}")
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        if isinstance(output_shape, int):
            output_shape = (output_shape,)
        self._out_shape = tuple(output_shape) if output_shape else None
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        self.attention_axes = tuple(attention_axes) if attention_axes is not None else None
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.seed = seed
        self._rng = seeded_rng(seed)
        self.supports_masking = True
        self._ready = False

    def _proj(self, out_dims, n_in, name):
        return _Projection(out_dims, n_in, self.use_bias, self.kernel_initializer,
                           self.bias_initializer, self.kernel_regularizer,
                           self.bias_regularizer, self.kernel_constraint, self.bias_constraint,
                           name=name, dtype=self.dtype)  # fmt: skip

    def build(self, query_shape, value_shape=None, key_shape=None):
        if value_shape is None:  # built on the first call, when value's shape is known
            self.built = True
            return
        key_shape = value_shape if key_shape is None else key_shape
        if tuple(value_shape[1:-1]) != tuple(key_shape[1:-1]):
            raise ValueError(
                f"All dimensions of value and key, except the last one, must be equal. "
                f"Received: value_shape={tuple(value_shape)} and key_shape={tuple(key_shape)}"
            )
        h = self.num_heads
        self.query_dense = self._proj((h, self.key_dim), 1, "query")
        self.query_dense.build(query_shape)
        self.key_dense = self._proj((h, self.key_dim), 1, "key")
        self.key_dense.build(key_shape)
        self.value_dense = self._proj((h, self.value_dim), 1, "value")
        self.value_dense.build(value_shape)
        out = self._out_shape or (query_shape[-1],)
        self.output_dense = self._proj(out, 2, "attention_output")
        self.output_dense.build((*query_shape[:-1], h, self.value_dim))
        rank = len(query_shape) + 1
        axes = self.attention_axes or tuple(range(1, rank - 2))
        self._axes = tuple(a % (rank - 1) for a in axes)
        self._dot_eq, self._combine_eq, srank = _attention_equations(rank, self._axes)
        self._norm_axes = tuple(range(srank - len(self._axes), srank))
        self._ready = True
        self.built = True

    def _mask(self, query, value, key, q_mask, v_mask, k_mask, attention_mask, causal):
        auto = None
        if q_mask is not None:
            auto = q_mask[..., :, None]
        for m in (v_mask, k_mask):
            if m is not None:
                m = m[..., None, :]
                auto = m if auto is None else auto & m
        if causal:
            t, s = query.shape[1], value.shape[1]
            m = np.tril(np.ones((t, s), dtype=bool))[None]
            auto = m if auto is None else auto & m
        if attention_mask is not None:
            attention_mask = as_array(attention_mask) != 0
            auto = attention_mask if auto is None else attention_mask & auto
        return auto

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None,
             attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False):  # fmt: skip
        key = value if key is None else key
        if not self._ready:
            self.build(tuple(query.shape), tuple(value.shape), tuple(key.shape))
        q_mask = get_mask(query, query_mask)
        mask = self._mask(query, value, key, q_mask, get_mask(value, value_mask),
                          get_mask(key, key_mask), attention_mask, use_causal_mask)  # fmt: skip
        q = self.query_dense(query)
        k = self.key_dense(key)
        v = self.value_dense(value)
        q = q * np.asarray(1.0 / math.sqrt(self.key_dim), q.dtype)
        scores = ops.einsum(self._dot_eq, k, q)
        if mask is not None:
            for _ in range(scores.ndim - mask.ndim):
                mask = np.expand_dims(mask, -len(self._axes) * 2 - 1)
            scores = ops.where(mask, scores, np.asarray(-_BIG, scores.dtype))
        probs = self._softmax(scores)
        dropped = _dropout(probs, self.dropout, training, self._rng or rng())
        out = self.output_dense(ops.einsum(self._combine_eq, dropped, v))
        out = attach_mask(out, q_mask)
        if return_attention_scores:
            return out, probs
        return out

    def _softmax(self, scores):
        if len(self._norm_axes) == 1:
            return ops.softmax(scores, axis=self._norm_axes[0])
        return ops.exp(scores - ops.logsumexp(scores, axis=self._norm_axes, keepdims=True))

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        query_shape = tuple(query_shape)
        if self._out_shape:
            return query_shape[:-1] + self._out_shape
        return query_shape

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "use_gate": False, "output_shape": self._out_shape,
                "attention_axes": self.attention_axes, "sliding_window": None,
                "kernel_initializer": _ser("initializers", self.kernel_initializer),
                "bias_initializer": _ser("initializers", self.bias_initializer),
                "kernel_regularizer": _ser("regularizers", self.kernel_regularizer),
                "bias_regularizer": _ser("regularizers", self.bias_regularizer),
                "activity_regularizer": _ser("regularizers", self.activity_regularizer),
                "kernel_constraint": _ser("constraints", self.kernel_constraint),
                "bias_constraint": _ser("constraints", self.bias_constraint),
                "seed": self.seed}  # fmt: skip


class Attention(Layer):
    """Dot-product (Luong-style) attention (Luong et al. 2015; matches Keras 3
    ``keras/src/layers/attention/attention.py``).

    ::

        scores = query @ key^T * scale                  # score_mode="dot"
        scores = c * sum(tanh(scale * (q_i + k_j)))     # score_mode="concat"
        scores = where(value_mask, scores, scores - 1e9) (and the causal mask)
        out = softmax(scores) @ value;  out = where(query_mask, out, 0)

    Args:
        use_scale: learn a scalar ``scale`` (init 1). Default False.
        score_mode: "dot" (default) or "concat" (adds a scalar ``concat_score_weight``).
        dropout: on the attention weights in training (default 0.0). seed: optional int.

    Call args: ``inputs = [query, value]`` or ``[query, value, key]``; ``mask = [query_mask,
    value_mask]`` (default the masks the inputs carry); ``return_attention_scores``;
    ``use_causal_mask``; ``training``.

    Shape: query ``(B, Tq, dim)``, value ``(B, Tv, dim)`` -> ``(B, Tq, dim)``.

    Raises:
        ValueError: an unknown score_mode; inputs not a list of 2 or 3 tensors; a mask list
            of the wrong length.
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(
                f"score_mode must be one of {{'dot', 'concat'}}, received "
                f"score_mode={score_mode!r}"
            )
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = float(dropout)
        self.seed = seed
        self._rng = seeded_rng(seed)
        self.scale = self.concat_score_weight = None

    @staticmethod
    def _validate(inputs, mask=None):
        if not isinstance(inputs, (list, tuple)) or len(inputs) not in (2, 3):
            raise ValueError(
                "Attention layer must be called on a list of inputs, namely [query, value] "
                f"or [query, value, key]. Received: {inputs!r}"
            )
        if mask is not None and (not isinstance(mask, (list, tuple)) or len(mask) not in (2, 3)):
            raise ValueError(
                "Attention layer mask must be a list of length 2, namely [query_mask, "
                f"value_mask]. Received: {mask!r}"
            )

    def build(self, input_shape):
        self._validate(input_shape)
        if self.use_scale:
            self.scale = self.add_weight(shape=(), name="scale", initializer="ones")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(shape=(), name="concat_score_weight",
                                                       initializer="ones")  # fmt: skip
        self.built = True

    def call(self, inputs, mask=None, training=None, return_attention_scores=False,
             use_causal_mask=False):  # fmt: skip
        self._validate(inputs, mask)
        q, v = inputs[0], inputs[1]
        k = inputs[2] if len(inputs) > 2 else v
        q_mask = get_mask(q, mask[0] if mask else None)
        v_mask = get_mask(v, mask[1] if mask else None)
        if self.score_mode == "dot":
            scores = ops.matmul(q, ops.swapaxes(k, -2, -1))
            if self.scale is not None:
                scores = scores * self.scale
        else:
            s = ops.expand_dims(q, -2) + ops.expand_dims(k, -3)
            if self.scale is not None:
                s = self.scale * s
            scores = self.concat_score_weight * ops.sum(ops.tanh(s), axis=-1)
        smask = v_mask[..., None, :] if v_mask is not None else None
        if use_causal_mask:
            tq, tv = scores.shape[-2], scores.shape[-1]
            causal = np.tril(np.ones((tq, tv), dtype=bool))[None]
            smask = causal if smask is None else smask & causal
        if smask is not None:
            scores = ops.where(smask, scores, scores - np.asarray(_BIG, scores.dtype))
        weights = ops.softmax(scores, axis=-1)
        dropped = _dropout(weights, self.dropout, training, self._rng or rng())
        out = ops.matmul(dropped, v)
        if q_mask is not None:
            out = attach_mask(ops.where(q_mask[..., None], out, np.zeros((), out.dtype)), q_mask)
        if return_attention_scores:
            return out, weights
        return out

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape[0])[:-1], input_shape[1][-1])

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale,
                "score_mode": self.score_mode, "dropout": self.dropout,
                "seed": self.seed}  # fmt: skip
