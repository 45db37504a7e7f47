"""``LSTMCell`` and ``LSTM`` (Keras 3 ``keras/src/layers/rnn/lstm.py``)."""

from __future__ import annotations

from .... import ops
from ....backend import np
from .rnn import RNN, RNNCellBase

__all__ = ["LSTMCell", "LSTM"]


class LSTMCell(RNNCellBase):
    """One LSTM step (Hochreiter & Schmidhuber 1997; matches Keras 3 ``LSTMCell``)::

        z = x @ kernel + h_prev @ recurrent_kernel + bias          # gate order i, f, c, o
        i, f, o = recurrent_activation(z_i), recurrent_activation(z_f), recurrent_activation(z_o)
        c = f * c_prev + i * activation(z_c);  h = o * activation(c)

    Args:
        units: positive int. activation="tanh", recurrent_activation="sigmoid",
        use_bias=True, kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
        bias_initializer="zeros", unit_forget_bias=True (the forget-gate bias starts at 1),
        regularizers and constraints for kernel, recurrent_kernel and bias,
        dropout=0.0 (on the inputs), recurrent_dropout=0.0 (on h_prev), seed=None.

    Weights: kernel ``(input_dim, 4*units)``, recurrent_kernel ``(units, 4*units)``, bias
    ``(4*units,)``. States: ``[h, c]``, each ``(batch, units)``.

    Raises:
        ValueError: ``units`` not a positive integer; a dropout rate outside [0, 1].
    """

    _gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):  # fmt: skip
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, kernel_regularizer,
                         recurrent_regularizer, bias_regularizer, kernel_constraint,
                         recurrent_constraint, bias_constraint, dropout, recurrent_dropout,
                         seed, **kwargs)  # fmt: skip
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]

    def build(self, input_shape):
        init = None
        if self.use_bias and self.unit_forget_bias:
            base, u = self.bias_initializer, self.units

            def init(shape, dtype=None):
                parts = [base((u,), dtype), np.ones((u,), dtype), base((2 * u,), dtype)]
                return np.concatenate([np.asarray(p, dtype) for p in parts])

        self._build_weights(input_shape[-1], (4 * self.units,), init)

    def _step(self, zx, states, rmask=None):
        h, c = states
        u = self.units
        hr = h if rmask is None else h * rmask
        z = zx + ops.matmul(hr, self.recurrent_kernel)
        ra, act = self.recurrent_activation, self.activation
        i = ra(z[:, :u])
        f = ra(z[:, u : 2 * u])
        g = act(z[:, 2 * u : 3 * u])
        o = ra(z[:, 3 * u :])
        c = f * c + i * g
        h = o * act(c)
        return h, [h, c]

    def _scan(self, zx, states, mask):
        if not self._default_activations():
            return None
        u = self.units
        packed = ops.lstm_scan(zx, states[0], states[1], self.recurrent_kernel, mask)
        last = packed[:, -1]
        return packed[:, :, :u], [last[:, :u], last[:, u : 2 * u]]

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class LSTM(RNN):
    """Long short-term memory layer (matches Keras 3 ``keras/src/layers/rnn/lstm.py``).

    Runs :class:`LSTMCell` over ``(batch, steps, features)``: the input projection of all
    steps is one matrix multiply, the recurrence is one fused primitive
    (``ops.lstm_scan``) for the default activations without recurrent dropout, and a loop of
    ops otherwise.

    Args:
        units and the cell arguments of :class:`LSTMCell` (same defaults), plus
        activity_regularizer, return_sequences=False, return_state=False, go_backwards=False,
        stateful=False (only), unroll=False, use_cudnn="auto" (ignored).

    Shape: ``(B, T, D) -> (B, units)``, or ``(B, T, units)`` with ``return_sequences``; with
    ``return_state`` a tuple ``(output, h, c)``.

    Raises:
        ValueError: non-positive ``units``; input not of rank 3
            ("expected ndim=3, found ndim=2. Full shape received: ...").

    >>> import numpy as np
    >>> from chainrule import keras
    >>> keras.layers.LSTM(4, return_sequences=True)(np.zeros((2, 5, 3), "float32")).shape
    (2, 5, 4)
    """

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False,
                 use_cudnn="auto", **kwargs):  # fmt: skip
        cell = LSTMCell(units, activation=activation, recurrent_activation=recurrent_activation,
                        use_bias=use_bias, kernel_initializer=kernel_initializer,
                        recurrent_initializer=recurrent_initializer,
                        bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
                        kernel_regularizer=kernel_regularizer,
                        recurrent_regularizer=recurrent_regularizer,
                        bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                        recurrent_constraint=recurrent_constraint,
                        bias_constraint=bias_constraint, dropout=dropout,
                        recurrent_dropout=recurrent_dropout, seed=seed,
                        dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True),
                        name="lstm_cell")  # fmt: skip
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)  # fmt: skip
        self.use_cudnn = use_cudnn

    def get_config(self):
        return _flat_config(self)


def _flat_config(layer):
    """Keras's recurrent-layer config: the RNN keys plus the cell's keys (no nested cell)."""
    from ..core import _ser  # noqa: PLC0415

    cfg = RNN.get_config(layer)
    del cfg["cell"]
    cell_cfg = layer.cell.get_config()
    for k in ("name", "trainable", "dtype"):
        cell_cfg.pop(k, None)
    cfg.update(cell_cfg)
    cfg["activity_regularizer"] = _ser("regularizers", layer.activity_regularizer)
    return cfg
