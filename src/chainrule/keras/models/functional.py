"""Functional models: a graph of layer calls from ``keras.Input`` tensors to outputs
(Keras 3 ``keras/src/models/functional.py``).

``keras.Model(inputs, outputs)`` walks back from the outputs through the recorded layer calls
(``SymbolicNode``s) to the inputs, keeps the calls in execution order, and replays them on real
data. Inputs and outputs may be a single tensor, a list or a dict; a layer called several times
shares its weights; a model can be called as a layer inside another model.
"""

from __future__ import annotations

import warnings

from ..layers.direct_calls import MISS, direct_step, input_key, replay
from ..layers.fused_calls import fuse_node_steps
from ..layers.input_layer import InputLayer, KerasTensor, _flatten, _map
from ..layers.layer import Layer
from ..variables import GENERATION
from .model import Model, adjust_input_rank, cast_input

__all__ = ["Functional", "keras_order"]


def keras_order(struct):
    """``struct`` with its dicts in the key order Keras 3.15.1 gives them (torch backend).

    Keras flattens a structure, and packs values back into it, after sorting the keys of the
    first plain ``dict`` met on each path from the top (through lists and tuples); a dict
    nested inside that dict keeps its own order, and an ``OrderedDict`` is never sorted.
    Model inputs, outputs, ``output_names``, ``predict``'s dicts and list targets all follow
    this order, whatever the order the dict was written in.

    Matches Keras 3 ``keras/src/tree/torchtree_impl.py`` (``_dict_to_ordered_dict``). The
    optree implementation (JAX/TF backends) also sorts dicts nested in dicts when
    flattening, and packs into the order given: the two agree except for dicts in dicts.
    """
    if type(struct) is dict:
        return {k: struct[k] for k in sorted(struct)}
    if isinstance(struct, list):
        return [keras_order(v) for v in struct]
    if type(struct) is tuple:
        return tuple(keras_order(v) for v in struct)
    return struct


def _producer(kt):
    return kt._history[0] if kt._history is not None else None


def _direct_step(node, args, kwargs, out, outs):
    """``(direct step, input id, output id)`` when ``node``'s layer, just called on one
    symbolic input with nothing but ``training`` besides, can be replayed; else None."""
    if len(args) != 1 or len(outs) != 1 or not isinstance(node.call_args[0], KerasTensor):
        return None
    step = direct_step(node.layer, args[0], out, kwargs)
    return None if step is None else (step, id(node.call_args[0]), id(outs[0]))


def _walk(outputs, inputs):
    """The layer calls between ``inputs`` and ``outputs``, in execution order.

    Raises:
        ValueError: an output that is not a symbolic tensor, or a path from an output that ends
            at an ``Input`` not among ``inputs`` (naming that input and the output).
    """
    given = {id(t) for t in inputs}
    order, seen = [], set()

    def visit(kt, out_name):  # recursion depth = graph depth, small for layer graphs
        if id(kt) in given:
            return
        node = _producer(kt)
        if node is None or isinstance(node.layer, InputLayer):
            raise ValueError(
                f"Graph disconnected: output {out_name!r} depends on the input tensor "
                f"{kt.name!r}, which is not among the model's inputs "
                f"{[t.name for t in inputs]}. Pass it in `inputs`."
            )
        if id(node) in seen:
            return
        seen.add(id(node))
        for t in node.input_tensors:
            visit(t, out_name)
        order.append(node)

    for kt in outputs:
        node = _producer(kt) if isinstance(kt, KerasTensor) else None
        name = node.layer.name if node is not None else getattr(kt, "name", repr(kt))
        visit(kt, name)
    return order


def _layers_by_depth(outputs, inputs):
    """The model's layers (its Input layers too) in Keras's order, and its calls by depth.

    The order is by decreasing depth (the longest path of layer calls to an output), ties
    broken by the order a depth-first walk from the outputs first meets them. It is
    ``model.layers`` and the order of ``get_weights``, so ``set_weights`` takes a Keras
    model's weights as they come. The second result, ``{depth: [calls]}``, is Keras's
    ``_nodes_by_depth`` (``summary`` reads it).

    Matches Keras 3 ``keras/src/ops/function.py`` (``map_graph``, ``_build_map``).
    """
    given = {id(t) for t in inputs}
    index, post, seen = {}, [], set()

    def inbound(node):
        return [] if isinstance(node.layer, InputLayer) else node.input_tensors

    def visit(kt):
        node = _producer(kt)
        if node is None or id(node) in seen:
            return
        index.setdefault(id(node.layer), (len(index), node.layer))
        seen.add(id(node))
        if id(kt) in given and not isinstance(node.layer, InputLayer):
            return  # an intermediate tensor given as an input: the graph starts here
        for t in inbound(node):
            visit(t)
        post.append(node)

    for kt in outputs:
        visit(kt)
    depth_of_node, depth_of_layer = {}, {}
    for node in reversed(post):  # from the outputs back: every consumer before its inputs
        d = max(depth_of_node.setdefault(id(node), 0), depth_of_layer.get(id(node.layer), 0))
        depth_of_node[id(node)] = depth_of_layer[id(node.layer)] = d
        for t in inbound(node):
            p = _producer(t)
            if p is not None:
                depth_of_node[id(p)] = max(d + 1, depth_of_node.get(id(p), 0))
    for t in inputs:  # an Input no output depends on still belongs to the model
        node = _producer(t)
        if node is not None and id(node.layer) not in depth_of_layer:
            index.setdefault(id(node.layer), (len(index), node.layer))
            depth_of_layer[id(node.layer)] = depth_of_node[id(node)] = 0
            post.append(node)
    order = sorted(depth_of_layer, key=lambda k: (-depth_of_layer[k], index[k][0]))
    by_depth = {}
    for node in post:
        by_depth.setdefault(depth_of_node[id(node)], []).append(node)
    return [index[k][1] for k in order], by_depth


def _check_symbolic(struct, what):
    for t in _flatten(struct):
        if not isinstance(t, KerasTensor):
            raise ValueError(
                f"All `{what}` values must be KerasTensors (from keras.Input and layer calls). "
                f"Received {what}={struct!r} including {t!r} of type {type(t).__name__}"
            )


class Functional(Model):
    """A model defined by ``Model(inputs, outputs)`` (matches Keras 3
    ``keras/src/models/functional.py``).

    Args:
        inputs: a KerasTensor from ``keras.Input``, or a list/dict of them.
        outputs: KerasTensor(s) computed from ``inputs`` by layer calls: one, a list or a dict.
            Calling the model returns the same structure (a one-element list is unpacked).

    Order: a dict of inputs or outputs is taken in sorted key order, as Keras does
    (``keras_order``): ``inputs``, ``outputs``, ``output_names``, ``layers`` and weights, list
    targets and per-output loss/metric lists, and the dicts the model returns all use it;
    ``input``, ``output`` and ``get_config`` keep the dict as written.
        name: default "functional", "functional_1", ...
        trainable: default True.

    Shape: each input ``(batch, *input_shape)``; outputs as recorded.

    Raises:
        ValueError: an input or output that is not a KerasTensor; an output that depends on
            an ``Input`` not given in ``inputs`` (naming it); when called, the wrong number of
            inputs, a dict missing an input's key, an input of the wrong shape, or a list for
            a dict of inputs whose keys are not written in sorted order (Keras refuses it too;
            for sorted keys it warns, as Keras, and reads the list in that order).

    >>> from chainrule import keras
    >>> x = keras.Input((3,), name="x")
    >>> m = keras.Model(x, keras.layers.Dense(2)(x), name="tiny")
    >>> m.output_shape
    (None, 2)
    """

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        if self.__dict__.get("_graph_ready"):  # Model.__new__ returned us; __init__ runs again
            return
        _check_symbolic(inputs, "inputs")
        _check_symbolic(outputs, "outputs")
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        # NOTE: flat lists in Keras's order (sorted dict keys), which fixes output_names,
        # list targets and losses, the layer walk (so get_weights) and the summary.
        self._outputs_ordered = keras_order(outputs)  # (read by every call)
        self.inputs = _flatten(keras_order(inputs))
        self.outputs = _flatten(self._outputs_ordered)
        self._nodes = _walk(self.outputs, self.inputs)
        layers, self._nodes_by_depth = _layers_by_depth(self.outputs, self.inputs)
        self._layer_list = layers
        for la in layers:
            if not isinstance(la, InputLayer):
                self._tracked.append(la)
        shapes = [t.shape for t in self.inputs]
        self._build_input_shape = shapes if len(shapes) > 1 else shapes[0]
        # as Keras's: the flat outputs' shapes (a dict of outputs gives a list)
        shapes = [t.shape for t in self.outputs]
        self._output_shape = shapes if len(shapes) > 1 else shapes[0]
        self.built = True
        self._graph_ready = True

    @property
    def layers(self):
        return list(self._layer_list)

    @property
    def input_names(self):
        return [t.name for t in self.inputs]

    @property
    def output_names(self):
        """The names of the layers producing the outputs (Keras's ``output_names``)."""
        return [_producer(t).layer.name for t in self.outputs]

    @property
    def _loss_names(self):
        # Keras names per-output losses and metrics by the dict key for dict outputs and by
        # the producing layer's name otherwise.
        if isinstance(self._outputs_struct, dict):
            return list(self._outputs_ordered)
        return self.output_names

    @property
    def input_shape(self):
        return self._build_input_shape

    @property
    def output_shape(self):
        out = self._output_shape
        return out[0] if isinstance(out, list) and len(out) == 1 else out

    @property
    def input(self):
        return self._inputs_struct

    @property
    def output(self):
        return self._outputs_struct

    def __call__(self, *args, **kwargs):
        return Layer.__call__(self, *args, **kwargs)

    def _inputs_as_list(self, inputs):
        names = self.input_names
        if isinstance(inputs, dict):
            keys = list(self._inputs_struct) if isinstance(self._inputs_struct, dict) else names
            missing = [k for k in keys if k not in inputs]
            if missing:
                raise ValueError(
                    f"Missing data for input {missing[0]!r} of model {self.name!r}. You passed a "
                    f"data dictionary with keys {list(inputs)}. Expected the following keys: "
                    f"{keys}"
                )
            if isinstance(self._inputs_struct, dict):
                by_id = {id(v): inputs[k] for k, v in self._inputs_struct.items()}
                return [by_id[id(t)] for t in self.inputs]
            return [inputs[k] for k in keys]
        flat = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        struct = self._inputs_struct
        if type(struct) is dict and len(struct) > 1:
            # a list of values for a dict of Inputs is read in Keras's (sorted) key order,
            # and refused when that is not the order the dict was written in
            keys = list(struct)
            if keys != sorted(keys):
                raise ValueError(
                    f"Model {self.name!r} takes a dict of inputs with keys {keys}, which Keras "
                    f"orders as {sorted(keys)}; a list of inputs would be read in that order, "
                    f"not the written one. Pass a dict keyed by input name. Received a "
                    f"{type(inputs).__name__} of {len(flat)} input(s)."
                )
            expected = {k: v.name for k, v in struct.items()}
            received = [f"Tensor(shape={getattr(x, 'shape', None)})" for x in flat]
            warnings.warn(
                f"The structure of `inputs` doesn't match the expected structure.\n"
                f"Expected: {expected}\nReceived: inputs={received}",
                stacklevel=2,
            )
        if len(flat) != len(self.inputs):
            raise ValueError(
                f"Model {self.name!r} expects {len(self.inputs)} input(s) {names}, but it "
                f"received {len(flat)} input tensor(s). Pass a list of {len(self.inputs)} "
                f"arrays in that order, or a dict keyed by input name."
            )
        return flat

    def call(self, inputs, training=None, mask=None):
        values = {}
        flat = []
        for kt, x in zip(self.inputs, self._inputs_as_list(inputs), strict=True):
            if not hasattr(x, "shape"):
                from ...backend import np  # noqa: PLC0415

                x = np.asarray(x, dtype=kt.dtype)
            x = adjust_input_rank(x, kt.shape, f"input {kt.name!r}")
            values[id(kt)] = x = cast_input(x, kt.dtype)
            flat.append(x)
        # A node whose last call for inputs like these could have been a direct call
        # (layers/direct_calls.py) replays it when its input is again like it was then.
        records = self._call_records()
        key = input_key(flat, training)
        steps = records.get(key)
        generation = GENERATION[0]
        record = [] if steps is None and key is not None else None
        skip = False
        for i, node in enumerate(self._nodes):
            if skip:  # this node's layer ran inside the last step (layers/fused_calls.py)
                skip = False
                continue
            step = None if steps is None else steps[i]
            if step is not None:
                y = replay(step[0], values[step[1]], generation)
                if y is not MISS:
                    values[step[2]] = y
                    skip = len(step) == 4  # a fused step: the next node's output is y
                    continue
            args = _map(lambda v: values[id(v)] if isinstance(v, KerasTensor) else v,
                        node.call_args)  # fmt: skip
            kwargs = _map(lambda v: values[id(v)] if isinstance(v, KerasTensor) else v,
                          node.call_kwargs)  # fmt: skip
            if training is not None and node.layer._call_has_training:
                kwargs["training"] = training
            out = node.layer(*args, **kwargs)
            outs = _flatten(node.outputs)
            for kt, val in zip(outs, _flatten(out), strict=True):
                values[id(kt)] = val
            if record is not None:
                record.append(_direct_step(node, args, kwargs, out, outs))
        if record is not None:
            records.put(key, fuse_node_steps(record, self._read_once()), generation)
        result = _map(lambda kt: values[id(kt)], self._outputs_ordered)
        if isinstance(result, (list, tuple)) and len(result) == 1:
            return result[0]
        return result

    def _read_once(self):
        """The ids of the graph's tensors that exactly one node reads and that are not
        outputs: what a fused step may leave uncomputed."""
        reads = {}
        for node in self._nodes:
            for v in _flatten((node.call_args, node.call_kwargs)):
                if isinstance(v, KerasTensor):
                    reads[id(v)] = reads.get(id(v), 0) + 1
        outputs = {id(kt) for kt in self.outputs}
        return {k for k, n in reads.items() if n == 1 and k not in outputs}

    def get_build_config(self):
        """``{"input_shape": None}``, as Keras writes it for a functional model: its graph,
        in ``get_config``, fixes every shape."""
        return {"input_shape": None}

    def get_config(self):
        from ..saving.model_config import functional_get_config  # noqa: PLC0415

        return functional_get_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving.model_config import functional_from_config  # noqa: PLC0415

        return functional_from_config(cls, config, custom_objects)
