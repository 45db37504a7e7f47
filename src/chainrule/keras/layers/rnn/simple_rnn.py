"""``SimpleRNNCell`` and ``SimpleRNN`` (Keras 3 ``keras/src/layers/rnn/simple_rnn.py``)."""

from __future__ import annotations

from .... import ops
from .lstm import _flat_config
from .rnn import RNN, RNNCellBase, _get

__all__ = ["SimpleRNNCell", "SimpleRNN"]


class SimpleRNNCell(RNNCellBase):
    """One fully connected recurrent step (Elman 1990; matches Keras 3 ``SimpleRNNCell``)::

        h = activation(x @ kernel + bias + h_prev @ recurrent_kernel)

    Args:
        units: positive int. activation="tanh", use_bias=True,
        kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
        bias_initializer="zeros", regularizers and constraints, dropout=0.0,
        recurrent_dropout=0.0, seed=None.

    Weights: kernel ``(input_dim, units)``, recurrent_kernel ``(units, units)``, bias
    ``(units,)``. State: ``[h]``.

    Raises:
        ValueError: ``units`` not a positive integer; a dropout rate outside [0, 1].
    """

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):  # fmt: skip
        super().__init__(units, activation, None, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, kernel_regularizer,
                         recurrent_regularizer, bias_regularizer, kernel_constraint,
                         recurrent_constraint, bias_constraint, dropout, recurrent_dropout,
                         seed, **kwargs)  # fmt: skip

    def build(self, input_shape):
        self._build_weights(input_shape[-1], (self.units,))

    def _step(self, zx, states, rmask=None):
        h = states[0] if rmask is None else states[0] * rmask
        h = self.activation(zx + ops.matmul(h, self.recurrent_kernel))
        return h, [h]

    def _scan(self, zx, states, mask):
        if self.activation is not _get("act", "tanh"):
            return None
        seq = ops.simple_rnn_scan(zx, states[0], self.recurrent_kernel, mask)
        return seq, [seq[:, -1]]

    def get_config(self):
        cfg = super().get_config()
        cfg.pop("recurrent_activation")
        return cfg


class SimpleRNN(RNN):
    """Fully connected RNN whose output is fed back as the next step's state (matches Keras 3
    ``keras/src/layers/rnn/simple_rnn.py``).

    Args:
        units and the arguments of :class:`SimpleRNNCell` (same defaults), plus
        activity_regularizer, return_sequences=False, return_state=False, go_backwards=False,
        stateful=False (only), unroll=False.

    Shape: ``(B, T, D) -> (B, units)`` or ``(B, T, units)``; with ``return_state``
    ``(output, h)``.

    Raises:
        ValueError: non-positive ``units``; input not of rank 3.
    """

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, seed=None,
                 **kwargs):  # fmt: skip
        cell = SimpleRNNCell(units, activation=activation, use_bias=use_bias,
                             kernel_initializer=kernel_initializer,
                             recurrent_initializer=recurrent_initializer,
                             bias_initializer=bias_initializer,
                             kernel_regularizer=kernel_regularizer,
                             recurrent_regularizer=recurrent_regularizer,
                             bias_regularizer=bias_regularizer,
                             kernel_constraint=kernel_constraint,
                             recurrent_constraint=recurrent_constraint,
                             bias_constraint=bias_constraint, dropout=dropout,
                             recurrent_dropout=recurrent_dropout, seed=seed,
                             dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True),
                             name="simple_rnn_cell")  # fmt: skip
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)  # fmt: skip

    def get_config(self):
        cfg = _flat_config(self)
        del cfg["seed"]  # Keras 3.15.1's SimpleRNN does not write it (its LSTM and GRU do)
        return cfg
