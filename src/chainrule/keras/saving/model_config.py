"""Model configs in Keras 3's layout: Functional graphs (``layers`` with ``inbound_nodes``,
``input_layers``, ``output_layers``), Sequential stacks, and the compile config (matches Keras 3
``keras/src/models/functional.py`` ``get_config``/``functional_from_config``,
``keras/src/models/sequential.py`` ``from_config`` and ``keras/src/trainers/trainer.py``
``get_compile_config``/``compile_from_config``).
"""

from __future__ import annotations

from .serialization import deserialize_keras_object, serialize_keras_object

__all__ = [
    "functional_get_config", "functional_from_config", "sequential_from_config",
    "get_compile_config", "compile_from_config",
]  # fmt: skip


def _node_indices(model) -> dict:
    """``id(node) -> index`` among the nodes of that node's layer inside ``model``."""
    from ..layers.input_layer import InputLayer  # noqa: PLC0415

    counts: dict = {}
    out: dict = {}
    for layer in model.layers:
        if isinstance(layer, InputLayer):
            out[id(layer.output._history[0])] = 0
    for node in model._nodes:
        k = counts.get(id(node.layer), 0)
        out[id(node)] = k
        counts[id(node.layer)] = k + 1
    return out


def _tensor_ref(kt, index) -> list:
    node, tensor_index = kt._history
    return [node.layer.name, index[id(node)], tensor_index]


def functional_get_config(model) -> dict:
    """The Keras 3 config of a functional model.

    Raises:
        ValueError: if a layer call inside the model takes a tensor produced outside it.
    """
    from ..layers.input_layer import InputLayer, KerasTensor, _map  # noqa: PLC0415
    index = _node_indices(model)

    def arg(v):
        if isinstance(v, KerasTensor):
            if id(v._history[0]) not in index:
                raise ValueError(
                    f"model {model.name!r} uses tensor {v.name!r}, produced outside the model"
                )
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": list(v.shape), "dtype": v.dtype,
                               "keras_history": _tensor_ref(v, index)}}  # fmt: skip
        return serialize_keras_object(v)

    layers = []
    for layer in model.layers:
        entry = serialize_keras_object(layer)
        entry["name"] = layer.name
        nodes = [] if isinstance(layer, InputLayer) else [
            {"args": _map(arg, list(n.call_args)), "kwargs": _map(arg, dict(n.call_kwargs))}
            for n in model._nodes if n.layer is layer
        ]  # fmt: skip
        entry["inbound_nodes"] = nodes
        layers.append(entry)

    def ref(kt):
        return _tensor_ref(kt, index)

    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": _map(ref, model._inputs_struct),
            "output_layers": _map(ref, model._outputs_struct)}  # fmt: skip


def _is_ref(x) -> bool:
    return (isinstance(x, (list, tuple)) and len(x) == 3 and isinstance(x[0], str)
            and all(isinstance(i, int) for i in x[1:]))  # fmt: skip


def functional_from_config(cls, config: dict, custom_objects: dict | None = None):
    """Rebuild a functional model: make every layer, then replay the recorded calls in an
    order where each call's inputs exist.

    Raises:
        ValueError: a malformed config, a call referring to a layer or node that does not
            exist, or a graph whose calls cannot all be replayed.
    """
    from ..layers.input_layer import InputLayer  # noqa: PLC0415

    if not isinstance(config.get("layers"), list):
        raise ValueError(f"functional config needs a 'layers' list, received {config!r}")
    layers, pending = {}, []
    for entry in config["layers"]:
        layer = deserialize_keras_object(entry, custom_objects=custom_objects)
        name = entry.get("name", layer.name)
        layers[name] = layer
        if isinstance(layer, InputLayer):
            continue
        for i, node in enumerate(entry.get("inbound_nodes", [])):
            pending.append((name, i, node))
    made = {(n, 0): [la.output] for n, la in layers.items() if isinstance(la, InputLayer)}

    def lookup(ref):
        key = (ref[0], ref[1])
        if key not in made:
            raise KeyError(key)
        return made[key][ref[2]]

    def resolve(v):
        if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
            return lookup(v["config"]["keras_history"])
        if isinstance(v, list):
            return [resolve(x) for x in v]
        if isinstance(v, dict):
            if "class_name" in v:
                return deserialize_keras_object(v, custom_objects=custom_objects)
            return {k: resolve(x) for k, x in v.items()}
        return v

    from ..layers.input_layer import _flatten  # noqa: PLC0415

    while pending:
        progress = []
        for item in pending:
            name, i, node = item
            if any((n, k) != (name, i) and (n, k) not in made for n, k in _refs(node)):
                continue
            if i > 0 and (name, i - 1) not in made:
                continue
            for n, _ in _refs(node):
                if n not in layers:
                    raise ValueError(f"functional config refers to unknown layer {n!r}")
            args = resolve(node.get("args", []))
            kwargs = resolve(node.get("kwargs", {}))
            out = layers[name](*args, **kwargs)
            made[(name, i)] = _flatten(out)
            progress.append(item)
        if not progress:
            names = sorted({p[0] for p in pending})
            raise ValueError(f"functional config: cannot replay the calls of layers {names}")
        pending = [p for p in pending if all(p is not q for q in progress)]

    def structure(spec):
        if _is_ref(spec):
            try:
                return lookup(spec)
            except KeyError:
                raise ValueError(f"functional config refers to unknown tensor {spec}") from None
        if isinstance(spec, dict):
            return {k: structure(v) for k, v in spec.items()}
        if isinstance(spec, (list, tuple)):
            return [structure(v) for v in spec]
        raise ValueError(f"functional config: bad input/output entry {spec!r}")

    inputs = structure(config["input_layers"])
    outputs = structure(config["output_layers"])
    from ..models.functional import Functional  # noqa: PLC0415

    target = cls if isinstance(cls, type) and issubclass(cls, Functional) else Functional
    return target(inputs, outputs, name=config.get("name"),
                  trainable=config.get("trainable", True))  # fmt: skip


def _refs(node) -> list:
    out = []

    def visit(v):
        if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
            h = v["config"]["keras_history"]
            out.append((h[0], h[1]))
        elif isinstance(v, list):
            for x in v:
                visit(x)
        elif isinstance(v, dict):
            for x in v.values():
                visit(x)

    visit(node.get("args", []))
    visit(node.get("kwargs", {}))
    return out


def sequential_from_config(cls, config: dict, custom_objects: dict | None = None):
    """Rebuild a Sequential model from its config (layers in order, then build).

    Raises:
        ValueError: if ``config`` has no ``layers`` list.
    """
    if not isinstance(config.get("layers"), list):
        raise ValueError(f"Sequential config needs a 'layers' list, received {config!r}")
    model = cls(name=config.get("name"), trainable=config.get("trainable", True))
    for entry in config["layers"]:
        model.add(deserialize_keras_object(entry, custom_objects=custom_objects), rebuild=False)
    shape = config.get("build_input_shape")
    if model._input_layer is not None:
        model._maybe_build_from_input()
    elif isinstance(shape, (list, tuple)) and shape:
        model.build(tuple(shape))
    return model


# -- compile config ---------------------------------------------------------------------------
def _serialize_loss_like(value):
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return [_serialize_loss_like(v) for v in value]
    if isinstance(value, dict):
        return {k: _serialize_loss_like(v) for k, v in value.items()}
    return serialize_keras_object(value)


def get_compile_config(model) -> dict:
    """Keras's ``compile_config``: optimizer, loss, loss_weights, metrics, weighted_metrics and
    the execution flags; ``{}`` when the model was not compiled (as Keras writes it)."""
    cfg = getattr(model, "_compile_config", None)
    if not getattr(model, "compiled", False) or cfg is None:
        return {}
    return {
        "optimizer": serialize_keras_object(model.optimizer),
        "loss": _serialize_loss_like(cfg.get("loss")),
        "loss_weights": serialize_keras_object(cfg.get("loss_weights")),
        "metrics": _serialize_loss_like(cfg.get("metrics")),
        "weighted_metrics": _serialize_loss_like(cfg.get("weighted_metrics")),
        "run_eagerly": bool(cfg.get("run_eagerly", False)), "steps_per_execution": 1,
        "jit_compile": bool(cfg.get("jit_compile", False)),
    }  # fmt: skip


def compile_from_config(model, config: dict, custom_objects: dict | None = None) -> None:
    """``model.compile(**deserialised config)``, then build the optimizer on the model's
    trainable weights when the model is built (so its state can be loaded next, as Keras)."""
    if not isinstance(config, dict):
        raise ValueError(f"compile_config must be a dict, received {config!r}")

    def de(v):
        return deserialize_keras_object(v, custom_objects=custom_objects)

    model.compile(optimizer=de(config.get("optimizer", "rmsprop")), loss=de(config.get("loss")),
                  loss_weights=de(config.get("loss_weights")), metrics=de(config.get("metrics")),
                  weighted_metrics=de(config.get("weighted_metrics")),
                  run_eagerly=bool(config.get("run_eagerly", False)),
                  # False is what Keras on torch writes for "auto" (Trainer.compile's doc)
                  jit_compile=True if config.get("jit_compile") is True else "auto")  # fmt: skip
    if model.built and model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_weights)
