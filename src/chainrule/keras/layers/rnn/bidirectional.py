"""``Bidirectional``: a recurrent layer run forwards and backwards (Keras 3
``keras/src/layers/rnn/bidirectional.py``)."""

from __future__ import annotations

from .... import ops
from ..layer import Layer, name_scope
from .masking import attach_mask, get_mask
from .rnn import RNN

__all__ = ["Bidirectional"]

_MODES = ("sum", "mul", "ave", "concat", None)


def _clone(layer, name, go_backwards):
    cfg = layer.get_config()
    cfg["name"] = name
    cfg["go_backwards"] = go_backwards
    if type(layer) is RNN:  # a generic RNN: rebuild its cell from its own config
        cell = type(layer.cell).from_config(layer.cell.get_config())
        cfg.pop("cell")
        return RNN(cell, **cfg)
    return type(layer).from_config(cfg)


def _strip(name, prefix):
    return name[len(prefix) :] if name.startswith(prefix) else name


class Bidirectional(Layer):
    """Runs ``layer`` over the sequence and a copy of it over the reversed sequence, then
    merges the two outputs (Schuster & Paliwal 1997; matches Keras 3
    ``keras/src/layers/rnn/bidirectional.py``).

    ``y = layer(x)``; ``y_rev = backward_layer(x)`` (with ``go_backwards=True``), flipped back
    along time when returning sequences; output ``merge(y, y_rev)``.

    Args:
        layer: an ``RNN``/``LSTM``/``GRU``/``SimpleRNN`` instance (copied as
            ``forward_<name>``; the copy ``backward_<name>`` has fresh weights).
        merge_mode: "concat" (default), "sum", "mul", "ave" or None (a tuple of both).
        backward_layer: optional explicit backward layer (must have the other go_backwards).

    Weights: the forward layer's, then the backward layer's. With a mask, both layers output
    zeros at masked steps when returning sequences (as Keras), and each sequence output
    carries the mask on to the next layer (``compute_mask``); a last-step output carries
    none.

    Shape: ``(B, T, D) -> (B, [T,] 2*units)`` for "concat", ``units`` otherwise; with
    ``return_state``: ``(output, *forward_states, *backward_states)``.

    Raises:
        ValueError: ``layer`` not a Layer, an unknown merge_mode, or forward and backward
            layers with the same ``go_backwards`` or different ``return_sequences``.
    """

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None,
                 **kwargs):  # fmt: skip
        if not isinstance(layer, Layer):
            raise ValueError(
                f"Bidirectional needs a keras.layers.Layer instance, received layer={layer!r}"
            )
        if merge_mode not in _MODES:
            raise ValueError(
                f"merge_mode must be one of {list(_MODES)}, received merge_mode={merge_mode!r}"
            )
        super().__init__(**kwargs)
        base = _strip(layer.name, "forward_")
        self.forward_layer = _clone(layer, f"forward_{base}", layer.go_backwards)
        if backward_layer is None:
            self.backward_layer = _clone(layer, f"backward_{_strip(layer.name, 'backward_')}",
                                         not layer.go_backwards)  # fmt: skip
        else:
            self.backward_layer = backward_layer
        f, b = self.forward_layer, self.backward_layer
        if f.go_backwards == b.go_backwards:
            raise ValueError(
                "Forward layer and backward layer should have different go_backwards values, "
                f"received {f.go_backwards} and {b.go_backwards}"
            )
        for attr in ("return_sequences", "return_state"):
            if getattr(f, attr) != getattr(b, attr):
                raise ValueError(
                    f"Forward and backward layers must have the same {attr}, received "
                    f"{getattr(f, attr)} and {getattr(b, attr)}"
                )
        for sub in (f, b):
            sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = f.return_sequences
        self.return_state = f.return_state
        self.stateful = False
        self.supports_masking = True
        if weights:
            n = len(weights) // 2
            self._initial_weights = (weights[:n], weights[n:])
        else:
            self._initial_weights = None

    def build(self, sequences_shape, initial_state_shape=None):
        for sub in (self.forward_layer, self.backward_layer):
            if not sub.built:
                with name_scope(sub):  # (its weights' paths: bidirectional/forward_lstm/...)
                    sub.build(sequences_shape)
                sub.built = True
        if self._initial_weights:
            self.forward_layer.set_weights(self._initial_weights[0])
            self.backward_layer.set_weights(self._initial_weights[1])
            self._initial_weights = None
        self.built = True

    def call(self, sequences, initial_state=None, mask=None, training=None):
        mask = get_mask(sequences, mask)
        fs = bs = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fs, bs = list(initial_state[:half]), list(initial_state[half:])
        y = self.forward_layer(sequences, initial_state=fs, mask=mask, training=training)
        y_rev = self.backward_layer(sequences, initial_state=bs, mask=mask, training=training)
        states = ()
        if self.return_state:
            states = (*y[1:], *y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = ops.getitem(y_rev, (slice(None), slice(None, None, -1)))
        mode = self.merge_mode
        if mode == "concat":
            out = ops.concatenate([y, y_rev], axis=-1)
        elif mode == "sum":
            out = y + y_rev
        elif mode == "ave":
            out = (y + y_rev) / 2
        elif mode == "mul":
            out = y * y_rev
        else:
            out = (y, y_rev)
        if self.return_sequences:  # the mask goes on with every sequence output
            out = tuple(attach_mask(o, mask) for o in out) if mode is None else attach_mask(
                out, mask)  # fmt: skip
        if self.return_state:
            return (*out, *states) if mode is None else (out, *states)
        return out

    def compute_mask(self, inputs, mask=None):
        """The mask of the outputs: the input's ``(batch, steps)`` mask for each sequence
        output (two with ``merge_mode=None``) when ``return_sequences``, else None.

        With ``return_state`` it is the same (the states carry no mask: Keras adds state
        masks only for a stateful layer, which Bidirectional here never is).

        Matches Keras 3 ``keras/src/layers/rnn/bidirectional.py`` (``compute_mask``).
        """
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        mask = get_mask(inputs, mask)
        out = mask if self.return_sequences else None
        return (out, out) if self.merge_mode is None else out

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        out = self.forward_layer.compute_output_shape(sequences_shape)
        states = ()
        if self.return_state:
            out, states = out[0], tuple(out[1:])
        if self.merge_mode == "concat":
            out = (*out[:-1], out[-1] * 2)
        elif self.merge_mode is None:
            out = (out, out)
        if self.return_state:
            head = tuple(out) if self.merge_mode is None else (out,)
            return head + states + states
        return out

    def get_config(self):
        from ..serialization import serialize_layer  # noqa: PLC0415

        cfg = {**super().get_config(), "merge_mode": self.merge_mode,
               "layer": serialize_layer(self.forward_layer)}  # fmt: skip
        cfg["backward_layer"] = serialize_layer(self.backward_layer)
        return cfg
