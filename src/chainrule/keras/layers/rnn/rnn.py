"""``RNN``: runs a cell over the time axis (Keras 3 ``keras/src/layers/rnn/rnn.py``), and the
shared base of chainrule's built-in cells.

How a built-in cell runs (``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``): the input projection
of every time step is one GEMM (``dense`` on the whole ``(batch, steps, features)`` input);
then either one fused primitive runs the recurrence (``ops.recurrent``: the default
activations and no recurrent dropout in training) or a per-step loop of ops does. The whole
sequence is one differentiable computation either way.

Masks follow Keras's ``backend.rnn``: at a masked step the states are carried over; the
output is the previous step's output (zeros before the first unmasked step), or zeros when
``zero_output_for_mask=True``.
"""

from __future__ import annotations

from .... import ops
from ....backend import np, rng, seeded_rng
from ..input_spec import InputSpec
from ..layer import Layer
from .masking import attach_mask, get_mask

__all__ = ["RNN", "RNNCellBase"]


def _get(kind, value):
    from ... import activations, constraints, initializers, regularizers  # noqa: PLC0415

    mods = {"act": activations, "init": initializers, "reg": regularizers, "con": constraints}
    return mods[kind].get(value)


def _ser(kind, value):
    from ..core import _ser as ser  # noqa: PLC0415

    return ser(kind, value)


def _rate(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a float in [0, 1], received {name}={value!r}")
    return float(value)


class RNNCellBase(Layer):
    """Config, weights and dropout shared by the built-in cells (Keras ``DropoutRNNCell``).

    Subclasses set ``_gates`` (gate blocks in the kernel) and define ``_step(zx_t, states,
    rmask)`` (one step from the projected input) and ``_scan(zx, states, mask)`` (the fused
    whole-sequence pass, or None when it does not apply).
    """

    _gates = 1

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None,
                 bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):  # fmt: skip
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"units must be a positive integer, received units={units!r}")
        kwargs.pop("implementation", None)
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = _get("act", activation)
        self.recurrent_activation = _get("act", recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _get("init", kernel_initializer)
        self.recurrent_initializer = _get("init", recurrent_initializer)
        self.bias_initializer = _get("init", bias_initializer)
        self.kernel_regularizer = _get("reg", kernel_regularizer)
        self.recurrent_regularizer = _get("reg", recurrent_regularizer)
        self.bias_regularizer = _get("reg", bias_regularizer)
        self.kernel_constraint = _get("con", kernel_constraint)
        self.recurrent_constraint = _get("con", recurrent_constraint)
        self.bias_constraint = _get("con", bias_constraint)
        self.dropout = _rate("dropout", dropout)
        self.recurrent_dropout = _rate("recurrent_dropout", recurrent_dropout)
        self.seed = seed
        self._rng = seeded_rng(seed)
        self.state_size = self.units
        self.output_size = self.units
        self.bias = None

    def _default_activations(self):
        return self.activation is _get("act", "tanh") and (
            self.recurrent_activation is _get("act", "sigmoid"))  # fmt: skip

    def _build_weights(self, input_dim, bias_shape, bias_initializer=None):
        n = self._gates * self.units
        self.kernel = self.add_weight(shape=(input_dim, n), name="kernel",
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)  # fmt: skip
        self.recurrent_kernel = self.add_weight(shape=(self.units, n), name="recurrent_kernel",
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint)  # fmt: skip
        if self.use_bias:
            self.bias = self.add_weight(shape=bias_shape, name="bias",
                                        initializer=bias_initializer or self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)  # fmt: skip
        self.built = True

    def _input_bias(self):
        return self.bias

    def _project(self, x):
        """``x @ kernel + bias`` for every step at once: ``(B, T, D) -> (B, T, G)``."""
        bias = self._input_bias()
        if bias is None:
            return ops.matmul(x, self.kernel)
        return ops.dense(x, self.kernel, bias)

    def _dropout_masks(self, batch, input_dim, dtype, training):
        """Inverted-dropout masks for the inputs and the recurrent state, drawn once per
        sequence and reused at every step (Gal & Ghahramani 2016, as Keras)."""
        if not training:
            return None, None
        gen = self._rng or rng()

        def draw(rate, n):
            if not 0 < rate < 1:
                return None
            keep = gen.random((batch, n)) >= rate
            return keep.astype(dtype) / np.asarray(1 - rate, dtype)

        return draw(self.dropout, input_dim), draw(self.recurrent_dropout, self.units)

    def get_initial_state(self, batch_size):
        sizes = self.state_size if isinstance(self.state_size, list) else [self.state_size]
        return [np.zeros((batch_size, s), dtype=self.dtype) for s in sizes]

    def call(self, inputs, states, training=None):
        """One step: ``(B, D), states -> (output, new_states)``."""
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        dmask, rmask = self._dropout_masks(inputs.shape[0], inputs.shape[-1], inputs.dtype,
                                           training)  # fmt: skip
        if dmask is not None:
            inputs = inputs * dmask
        return self._step(self._project(inputs), states, rmask)

    def get_config(self):
        from ... import activations  # noqa: PLC0415

        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "use_bias": self.use_bias,
                "kernel_initializer": _ser("initializers", self.kernel_initializer),
                "recurrent_initializer": _ser("initializers", self.recurrent_initializer),
                "bias_initializer": _ser("initializers", self.bias_initializer),
                "kernel_regularizer": _ser("regularizers", self.kernel_regularizer),
                "recurrent_regularizer": _ser("regularizers", self.recurrent_regularizer),
                "bias_regularizer": _ser("regularizers", self.bias_regularizer),
                "kernel_constraint": _ser("constraints", self.kernel_constraint),
                "recurrent_constraint": _ser("constraints", self.recurrent_constraint),
                "bias_constraint": _ser("constraints", self.bias_constraint),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "seed": self.seed}  # fmt: skip


def _as_list(states):
    if states is None:
        return None
    return list(states) if isinstance(states, (list, tuple)) else [states]


class RNN(Layer):
    """Runs ``cell`` over the time axis of ``(batch, steps, features)`` input (matches Keras 3
    ``keras/src/layers/rnn/rnn.py``).

    Args:
        cell: a built-in cell (``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``) or any layer with
            ``call(inputs, states) -> (output, new_states)`` and ``state_size``.
        return_sequences: return every step's output ``(B, T, units)`` instead of the last
            ``(B, units)``. Default False.
        return_state: also return the final states: ``(output, *states)``. Default False.
        go_backwards: process the sequence in reverse; the returned sequence is in processing
            order (as Keras). Default False.
        stateful: only False is supported. unroll: accepted and ignored (same numbers).
        zero_output_for_mask: output zeros at masked steps instead of the previous output.

    Call args: ``sequences``; ``initial_state`` (list of ``(B, size)``); ``mask`` (boolean
    ``(B, T)``; default the mask the input carries from ``Embedding(mask_zero=True)`` or
    ``Masking``); ``training``.

    Raises:
        NotImplementedError: ``stateful=True``. ValueError: input not of rank 3 (naming the
            expected and received shapes); a mask or initial state of the wrong shape.
    """

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):  # fmt: skip
        if stateful:
            raise NotImplementedError(
                "stateful=True is not supported by chainrule's recurrent layers; received "
                "stateful=True"
            )
        if not hasattr(cell, "state_size") or not callable(getattr(cell, "call", None)):
            raise ValueError(
                f"cell must be a layer with a call method and a state_size, received {cell!r}"
            )
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = False
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self.input_spec = InputSpec(ndim=3)

    @property
    def units(self):
        return self.cell.units

    def build(self, sequences_shape, initial_state_shape=None):
        if not self.cell.built:
            self.cell.build((sequences_shape[0], *sequences_shape[2:]))
            self.cell.built = True
        self.built = True

    def _initial_states(self, initial_state, batch, dtype):
        sizes = self.cell.state_size
        sizes = sizes if isinstance(sizes, (list, tuple)) else [sizes]
        states = _as_list(initial_state)
        if states is None:
            return [np.zeros((batch, s), dtype=dtype) for s in sizes]
        if len(states) != len(sizes) or any(
                tuple(s.shape) != (batch, n) for s, n in zip(states, sizes)):  # fmt: skip
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects initial_state of "
                f"{len(sizes)} array(s) of shapes {[(batch, n) for n in sizes]}, received "
                f"{[tuple(s.shape) for s in states]}"
            )
        return states

    def call(self, sequences, initial_state=None, mask=None, training=None):
        mask = in_mask = get_mask(sequences, mask)
        batch, steps = sequences.shape[0], sequences.shape[1]
        if mask is not None and tuple(mask.shape) != (batch, steps):
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: the mask must have shape (batch, steps) "
                f"= {(batch, steps)}, received {tuple(mask.shape)}"
            )
        dtype = np.dtype(self.cell.dtype)
        states = self._initial_states(initial_state, batch, dtype)
        x = sequences
        if self.go_backwards:
            x = ops.getitem(x, (slice(None), slice(None, None, -1)))
            mask = None if mask is None else mask[:, ::-1]
        if mask is not None and mask.all():
            mask = None  # NOTE: an all-true mask changes nothing; skip the where() calls
        outputs, states = self._run(x, states, mask, training)
        if mask is not None:
            # Keras: a masked step outputs the previous output (zeros before the first
            # unmasked step), or zeros with zero_output_for_mask.
            use = mask if self.zero_output_for_mask else np.logical_or.accumulate(mask, axis=1)
            outputs = ops.where(use[..., None], outputs, np.zeros((), outputs.dtype))
        if self.return_sequences:  # the mask goes on to the next layer (Keras compute_mask)
            output = attach_mask(outputs, in_mask)
        else:
            output = ops.getitem(outputs, (slice(None), -1))
        if self.return_state:
            return (output, *states)
        return output

    def _run(self, x, states, mask, training):
        cell = self.cell
        if not hasattr(cell, "_step"):
            return self._loop(lambda t, st: cell(ops.getitem(x, (slice(None), t)), st,
                                                 training=training), x, states, mask)  # fmt: skip
        dmask, rmask = cell._dropout_masks(x.shape[0], x.shape[-1], x.dtype, training)
        if dmask is not None:
            x = x * dmask[:, None, :]
        zx = cell._project(x)
        if rmask is None:
            fused = cell._scan(zx, states, mask)
            if fused is not None:
                return fused
        return self._loop(lambda t, st: cell._step(ops.getitem(zx, (slice(None), t)), st, rmask),
                          x, states, mask)  # fmt: skip

    def _loop(self, step, x, states, mask):
        """The composed path: one step at a time, masked as Keras's ``backend.rnn``."""
        outs = []
        for t in range(x.shape[1]):
            out, new = step(t, states)
            new = _as_list(new)
            if mask is not None:
                m = mask[:, t, None]
                new = [ops.where(m, n, s) for n, s in zip(new, states)]
                prev = outs[-1] if outs else np.zeros((), out.dtype)
                out = ops.where(m, out, prev)
            outs.append(out)
            states = new
        return ops.stack(outs, axis=1), states

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        units = self.cell.output_size
        b, t = sequences_shape[0], sequences_shape[1]
        out = (b, t, units) if self.return_sequences else (b, units)
        if not self.return_state:
            return out
        sizes = self.cell.state_size
        sizes = sizes if isinstance(sizes, (list, tuple)) else [sizes]
        return (out, *[(b, s) for s in sizes])

    def compute_mask(self, inputs, mask=None):
        mask = get_mask(inputs, mask)
        out = mask if self.return_sequences else None
        if self.return_state:
            sizes = self.cell.state_size
            return [out] + [None] * (len(sizes) if isinstance(sizes, (list, tuple)) else 1)
        return out

    def get_config(self):
        from ..serialization import serialize_layer  # noqa: PLC0415

        return {**super().get_config(), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "stateful": self.stateful, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask,
                "cell": serialize_layer(self.cell)}  # fmt: skip
