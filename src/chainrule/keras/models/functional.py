"""Functional models: a graph of layer calls from ``keras.Input`` tensors to outputs
(Keras 3 ``keras/src/models/functional.py``)."""

from __future__ import annotations

from ..layers.input_layer import InputLayer, KerasTensor, _flatten, _map
from ..layers.layer import Layer
from .model import Model, adjust_input_rank

__all__ = ["Functional"]


def _walk(outputs):
    """Symbolic nodes in execution order (inputs first), found backwards from ``outputs``."""
    order, seen = [], set()

    def visit(kt):  # recursion depth = graph depth, which is small for layer graphs
        node, _ = kt._history
        if id(node) in seen:
            return
        seen.add(id(node))
        for t in node.input_tensors:
            visit(t)
        order.append(node)

    for kt in outputs:
        if not isinstance(kt, KerasTensor) or kt._history is None:
            raise ValueError(f"model outputs must be symbolic tensors from layer calls, "
                             f"received {kt!r}")  # fmt: skip
        visit(kt)
    return order


class Functional(Model):
    """A model defined by ``Model(inputs, outputs)``.

    Args:
        inputs: a KerasTensor from ``keras.Input``, or a list/dict of them.
        outputs: a KerasTensor produced from the inputs by layer calls, or a list/dict.
        name: default "functional", "functional_1", ...

    Raises:
        ValueError: if an output does not depend only on the given inputs (naming the
            disconnected input tensor).
    """

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        super().__init__(name=name, trainable=trainable)
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self.inputs = _flatten(inputs)
        self.outputs = _flatten(outputs)
        nodes = _walk(self.outputs)
        given = {id(t) for t in self.inputs}
        for node in nodes:
            if isinstance(node.layer, InputLayer) and id(node.outputs) not in given:
                raise ValueError(
                    f"graph disconnected: output depends on input tensor "
                    f"{node.outputs.name!r}, which is not among the model's inputs "
                    f"{[t.name for t in self.inputs]}"
                )
        self._nodes = [n for n in nodes if not isinstance(n.layer, InputLayer)]
        self._layer_list = []
        for t in self.inputs:
            self._layer_list.append(t._history[0].layer)
        for n in self._nodes:
            if not any(n.layer is la for la in self._layer_list):
                self._layer_list.append(n.layer)
        for la in self._layer_list:
            if not isinstance(la, InputLayer):
                self._tracked.append(la)
        self._build_input_shape = [t.shape for t in self.inputs] if len(self.inputs) > 1 else (
            self.inputs[0].shape)  # fmt: skip
        self.built = True

    @property
    def layers(self):
        return list(self._layer_list)

    @property
    def input_names(self):
        return [t._history[0].layer.name for t in self.inputs]

    @property
    def output_names(self):
        return [t._history[0].layer.name for t in self.outputs]

    def __call__(self, *args, **kwargs):
        return Layer.__call__(self, *args, **kwargs)

    def _inputs_as_list(self, inputs):
        if isinstance(inputs, dict):
            names = self.input_names
            missing = [n for n in names if n not in inputs]
            if missing:
                raise ValueError(
                    f"missing inputs {missing}: the model's inputs are {names}, received keys "
                    f"{list(inputs)}"
                )
            return [inputs[n] for n in names]
        flat = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(flat) != len(self.inputs):
            raise ValueError(
                f"model {self.name!r} expects {len(self.inputs)} input(s), received {len(flat)}"
            )
        return flat

    def call(self, inputs, training=None, mask=None):
        values = {}
        for kt, x in zip(self.inputs, self._inputs_as_list(inputs)):
            values[id(kt)] = adjust_input_rank(x, kt.shape, f"input {kt.name!r}")
        for node in self._nodes:
            args = _map(lambda v: values[id(v)] if isinstance(v, KerasTensor) else v,
                        node.call_args)  # fmt: skip
            kwargs = _map(lambda v: values[id(v)] if isinstance(v, KerasTensor) else v,
                          node.call_kwargs)  # fmt: skip
            if training is not None and node.layer._call_has_training:
                kwargs["training"] = training
            out = node.layer(*args, **kwargs)
            for kt, val in zip(_flatten(node.outputs), _flatten(out)):
                values[id(kt)] = val
        return _map(lambda kt: values[id(kt)], self._outputs_struct)
