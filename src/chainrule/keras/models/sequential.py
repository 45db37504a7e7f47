"""``keras.Sequential``: a plain stack of layers (Keras 3 ``keras/src/models/sequential.py``)."""

from __future__ import annotations

import warnings

from ...backend import np
from ..layers.direct_calls import MISS, direct_step, input_key, replay
from ..layers.fused_calls import fuse_steps
from ..layers.input_layer import InputLayer, KerasTensor
from ..layers.layer import _CONCRETE, Layer, _is_symbolic, name_scope
from ..trainers import array_step
from ..variables import GENERATION
from .model import Model, adjust_input_rank, cast_input

_FLOAT = np.dtype("float32")  # what inputs without a dtype count as (they pass unchanged)

__all__ = ["Sequential"]


class Sequential(Model):
    """A linear stack of layers, each fed the previous one's output.

    Args:
        layers: optional list of layers (the first may be ``keras.Input(...)``, an
            ``InputLayer``, or a layer given ``input_shape=``).
        trainable: default True.
        name: default "sequential", "sequential_1", ...

    The model is built as soon as its input shape is known: from an Input, from
    ``input_shape=`` on the first layer, or from the first data it sees.

    Raises:
        TypeError: when something that is not a layer is added.
        ValueError: when a model with no layers is built, called, fit or used to predict
            (as Keras; it would otherwise return its input unchanged).
    """

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(trainable=trainable, name=name)
        self._stack = []
        self._input_layer = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_build_from_input()

    def add(self, layer, rebuild=True):
        """Append a layer (or set the input from ``keras.Input``).

        Raises:
            TypeError: if ``layer`` is not a Layer or an Input tensor.
        """
        if isinstance(layer, KerasTensor):
            node = layer._history[0] if layer._history else None
            if node is None or not isinstance(node.layer, InputLayer):
                raise TypeError("only keras.Input(...) tensors can be added to a Sequential")
            layer = node.layer
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential.add expects a Layer instance, received {type(layer).__name__}: "
                f"{layer!r}"
            )
        if isinstance(layer, InputLayer):
            if self._stack or self._input_layer is not None:
                raise ValueError("an InputLayer can only be the first layer of a Sequential")
            self._input_layer = layer
        else:
            if not self._stack and self._input_layer is None and layer._batch_input_shape:
                self._input_layer = InputLayer(batch_shape=layer._batch_input_shape)
            if any(layer is other for other in self._stack):
                raise ValueError(f"layer {layer.name!r} is already in this Sequential model")
            self._stack.append(layer)
            self._tracked.append(layer)
            GENERATION[0] += 1  # a running fit's cache (and the loss-clearing list) reread
        self.built = False
        if rebuild:
            self._maybe_build_from_input()

    def pop(self, rebuild=True):
        """Remove and return the last layer.

        Raises:
            IndexError: when there are no layers.
        """
        if not self._stack:
            raise IndexError("there are no layers to pop from this Sequential model")
        layer = self._stack.pop()
        self._tracked.remove(layer)
        GENERATION[0] += 1
        self.built = False
        if rebuild:
            self._maybe_build_from_input()
        return layer

    @property
    def layers(self):
        return list(self._stack)

    def _maybe_build_from_input(self):
        if self._input_layer is not None and self._stack:
            self.build(self._input_layer.batch_shape)

    def build(self, input_shape=None):
        if not self._stack:
            raise ValueError(
                f"Sequential model {self.name} cannot be built because it has no layers. "
                "Call `model.add(layer)`."
            )
        if input_shape is None:
            raise ValueError("Sequential.build needs input_shape")
        shape = tuple(input_shape)
        if self._input_layer is None:
            self._input_layer = InputLayer(batch_shape=(None, *shape[1:]))
        x = first = KerasTensor(shape, dtype=self._input_layer.dtype)
        with name_scope(self):
            for layer in self._stack:
                x = layer(x)
        self._build_input_shape = shape
        self._output_shape = x.shape if isinstance(x, KerasTensor) else None
        # the graph the layers were built on: `inputs` and `outputs`, as Keras's Sequential
        # has them, so that Model(model.inputs, layer.output) makes a feature extractor
        self._graph_io = (first, x) if isinstance(x, KerasTensor) else None
        self.built = True

    _graph_io = None

    @property
    def inputs(self):
        """The symbolic input the layers were built on, as a one-element list (Keras 3);
        AttributeError until the model is built."""
        return self._graph_end(0, "inputs")

    @property
    def outputs(self):
        """The symbolic output of the last layer, as a one-element list (Keras 3);
        AttributeError until the model is built."""
        return self._graph_end(1, "outputs")

    def _graph_end(self, end, name):
        if self._graph_io is None:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        return [self._graph_io[end]]

    @property
    def input_shape(self):
        if self._input_layer is None:
            raise AttributeError(f"model {self.name!r} has no defined input shape yet")
        return self._input_layer.batch_shape

    def __call__(self, inputs, training=None, mask=None, **kwargs):
        if type(inputs) not in _CONCRETE and _is_symbolic(inputs):
            if not self.built and self._stack and self._input_layer is None:
                # build on the symbolic shape (unknown batch), not on the placeholder batch
                # the symbolic call runs with: the layers record (None, ...) shapes, as Keras
                self.build(tuple(inputs.shape))
            return Layer.__call__(self, inputs, training=training, **kwargs)
        if isinstance(inputs, (list, tuple)) and len(inputs) == 1 and hasattr(inputs[0], "shape"):
            # as Keras: a one-input model takes a one-element list, with a warning
            warnings.warn(
                f"The structure of `inputs` doesn't match the expected structure: model "
                f"{self.name!r} takes one array; received a {type(inputs).__name__} of one, "
                "used as that array.",
                stacklevel=2,
            )
            inputs = inputs[0]
        elif isinstance(inputs, (list, tuple, dict)):
            raise ValueError(
                f"Sequential model {self.name!r} takes one input, an array or Tensor (or a "
                f"list of one); received a {type(inputs).__name__}. For a batch written as "
                "nested lists, pass np.asarray(...) of it (Keras also refuses it)"
            )
        if not self.built:
            if not self._stack:
                self.build(None)  # raises: a model with no layers would return its input
            shape = tuple(inputs.shape) if hasattr(inputs, "shape") else None
            if self._input_layer is None and shape is not None:
                self.build((None, *shape[1:]))
            elif self._input_layer is not None:
                self.build(self._input_layer.batch_shape)
        return self._counted_call(self.call, inputs, training=training)  # as Layer.__call__

    _rank_ok = None  # (input batch_shape, data shapes found to need no adjustment)

    def call(self, inputs, training=None, mask=None):
        return self._run_stack(self._checked_input(inputs), training)

    def _checked_input(self, inputs):
        """``inputs`` with the input layer's rank (``adjust_input_rank``) and, when they are
        not floats, its dtype."""
        if self._input_layer is not None:
            ref = self._input_layer.batch_shape
            shape = getattr(inputs, "shape", None)
            # Every batch of a fit has the same shape: check it once, not per step.
            ok = self._rank_ok
            if ok is None or ok[0] != ref or shape not in ok[1]:
                adjusted = adjust_input_rank(inputs, ref, f"input {self._input_layer.name!r}")
                if adjusted is inputs and shape is not None:
                    if ok is None or ok[0] != ref or len(ok[1]) > 8:
                        ok = self._rank_ok = (ref, set())
                    ok[1].add(shape)  # a smaller last batch makes a second shape
                inputs = adjusted
            if getattr(inputs, "dtype", _FLOAT).kind != "f":  # bool/int data: cast once
                inputs = cast_input(inputs, self._input_layer.dtype)
        return inputs

    def _run_stack(self, x, training):
        """Each layer on the last one's output. The first call for an input type, shape,
        dtype and ``training`` goes through every layer's ``__call__``; when each layer's
        direct call (``layers/direct_calls.py``) could stand in for it, later calls like it
        run those."""
        records = self._call_records()
        key = input_key((x,), training)
        steps = records.get(key)
        generation = GENERATION[0]
        if steps is not None:
            for step in steps:
                y = replay(step, x, generation)
                x = step[0](x, training=training) if y is MISS else y
            return x
        steps = None if key is None else []
        kwargs = {"training": training}
        for layer in self._stack:
            y = layer(x, **kwargs)
            if steps is not None:
                step = direct_step(layer, x, y, kwargs)
                if step is None:
                    steps = None
                else:
                    steps.append(step)
            x = y
        if steps is not None:
            records.put(key, fuse_steps(steps), generation)
        return x

    @property
    def output_names(self):
        return [self._stack[-1].name] if self._stack else []

    def get_config(self):
        from ..layers.serialization import serialize_layer  # noqa: PLC0415

        layers = []
        if self._input_layer is not None:
            layers.append(serialize_layer(self._input_layer))
        layers.extend(serialize_layer(la) for la in self._stack)
        from ..saving.serialization import dtype_policy_config  # noqa: PLC0415

        cfg = {"name": self.name, "trainable": self.trainable,
               "dtype": dtype_policy_config(self.dtype), "layers": layers}  # fmt: skip
        if self._build_input_shape is not None:
            cfg["build_input_shape"] = [None if s is None else int(s)
                                        for s in self._build_input_shape]  # fmt: skip
        return cfg

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving.model_config import sequential_from_config  # noqa: PLC0415

        return sequential_from_config(cls, config, custom_objects)


# what fit's array step stands in for (trainers/array_step.py), as defined here: a model whose
# class or instance has another of these methods trains through them
array_step.STANDS_IN_FOR.update(
    (name, getattr(Sequential, name))
    for name in ("__call__", "_counted_call", "call", "_run_stack", "compute_loss")
)
array_step.SEALED_CALLS.update(
    (name, getattr(Sequential, name)) for name in ("_track_loss", "_checked_input")
)
