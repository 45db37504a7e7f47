"""``GRUCell`` and ``GRU`` (Keras 3 ``keras/src/layers/rnn/gru.py``)."""

from __future__ import annotations

from .... import ops
from ....backend import np
from .lstm import _flat_config
from .rnn import RNN, RNNCellBase

__all__ = ["GRUCell", "GRU"]


class GRUCell(RNNCellBase):
    """One gated recurrent unit step (Cho et al. 2014; matches Keras 3 ``GRUCell``), gate
    order z, r, h in the kernels::

        x_z, x_r, x_h = split(x @ kernel + input_bias)
        reset_after=True (default; bias (2, 3*units) = [input_bias, recurrent_bias]):
            u = h_prev @ recurrent_kernel + recurrent_bias
            z, r = recurrent_activation(x_z + u_z), recurrent_activation(x_r + u_r)
            hh = activation(x_h + r * u_h)
        reset_after=False (bias (3*units,)):
            z, r = recurrent_activation(x_{z,r} + h_prev @ recurrent_kernel_{z,r})
            hh = activation(x_h + (r * h_prev) @ recurrent_kernel_h)
        h = z * h_prev + (1 - z) * hh

    Args:
        units: positive int. activation="tanh", recurrent_activation="sigmoid",
        use_bias=True, kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
        bias_initializer="zeros", regularizers, constraints, dropout=0.0,
        recurrent_dropout=0.0, reset_after=True, seed=None.

    Raises:
        ValueError: ``units`` not a positive integer; a dropout rate outside [0, 1].
    """

    _gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, reset_after=True,
                 seed=None, **kwargs):  # fmt: skip
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, kernel_regularizer,
                         recurrent_regularizer, bias_regularizer, kernel_constraint,
                         recurrent_constraint, bias_constraint, dropout, recurrent_dropout,
                         seed, **kwargs)  # fmt: skip
        self.reset_after = bool(reset_after)

    def build(self, input_shape):
        n = 3 * self.units
        self._build_weights(input_shape[-1], (2, n) if self.reset_after else (n,))

    def _input_bias(self):
        if self.bias is None or not self.reset_after:
            return self.bias
        return self.bias[0]

    def _recurrent_bias(self):
        if self.bias is None:
            return np.zeros((3 * self.units,), dtype=self.dtype)
        return self.bias[1]

    def _step(self, zx, states, rmask=None):
        h = states[0]
        hr = h if rmask is None else h * rmask
        u, ra, act = self.units, self.recurrent_activation, self.activation
        rk = self.recurrent_kernel
        if self.reset_after:
            rec = ops.matmul(hr, rk) + self._recurrent_bias()
            z = ra(zx[:, :u] + rec[:, :u])
            r = ra(zx[:, u : 2 * u] + rec[:, u : 2 * u])
            hh = act(zx[:, 2 * u :] + r * rec[:, 2 * u :])
        else:
            rec = ops.matmul(hr, rk[:, : 2 * u])
            z = ra(zx[:, :u] + rec[:, :u])
            r = ra(zx[:, u : 2 * u] + rec[:, u:])
            hh = act(zx[:, 2 * u :] + ops.matmul(r * hr, rk[:, 2 * u :]))
        h = z * h + (1 - z) * hh
        return h, [h]

    def _scan(self, zx, states, mask):
        if not (self.reset_after and self._default_activations()):
            return None
        seq = ops.gru_scan(zx, states[0], self.recurrent_kernel, self._recurrent_bias(), mask)
        return seq, [seq[:, -1]]

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


class GRU(RNN):
    """Gated recurrent unit layer (matches Keras 3 ``keras/src/layers/rnn/gru.py``).

    Args:
        units and the arguments of :class:`GRUCell` (same defaults, ``reset_after=True``),
        plus activity_regularizer, return_sequences=False, return_state=False,
        go_backwards=False, stateful=False (only), unroll=False, use_cudnn="auto" (ignored).

    Shape: ``(B, T, D) -> (B, units)`` or ``(B, T, units)``; with ``return_state``
    ``(output, h)``.

    Raises:
        ValueError: non-positive ``units``; input not of rank 3.
    """

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, reset_after=True,
                 use_cudnn="auto", **kwargs):  # fmt: skip
        cell = GRUCell(units, activation=activation, recurrent_activation=recurrent_activation,
                       use_bias=use_bias, kernel_initializer=kernel_initializer,
                       recurrent_initializer=recurrent_initializer,
                       bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                       recurrent_regularizer=recurrent_regularizer,
                       bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                       recurrent_constraint=recurrent_constraint,
                       bias_constraint=bias_constraint, dropout=dropout,
                       recurrent_dropout=recurrent_dropout, reset_after=reset_after, seed=seed,
                       dtype=kwargs.get("dtype"), trainable=kwargs.get("trainable", True),
                       name="gru_cell")  # fmt: skip
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         activity_regularizer=activity_regularizer, **kwargs)  # fmt: skip
        self.use_cudnn = use_cudnn

    def get_config(self):
        return _flat_config(self)
