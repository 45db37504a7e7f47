"""``model.summary()``: Keras's table of layers, output shapes and parameter counts."""

from __future__ import annotations

__all__ = ["print_summary"]


def _fmt_shape(shape):
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return ", ".join(_fmt_shape(s) for s in shape)
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + \
        ("," if len(shape) == 1 else "") + ")"  # fmt: skip


def _count(weights):
    return int(sum(w.data.size for w in weights))


def _human(n_params, n_bytes):
    units = ["B", "KB", "MB", "GB"]
    size = float(n_bytes)
    for u in units:
        if size < 1024 or u == units[-1]:
            return f"{n_params:,} ({size:.2f} {u})"
        size /= 1024


def _connections(layer, nodes):
    """Keras's "Connected to" cell: ``producer[node_index][tensor_index]`` for each input
    tensor of each call of ``layer`` inside this model, or "-" for an input layer."""
    parts = []
    for node in nodes:
        if node.layer is not layer:
            continue
        for kt in node.input_tensors:
            src, tensor_index = kt._history
            inbound = src.layer._inbound_nodes
            node_index = next((i for i, n in enumerate(inbound) if n is src), 0)
            parts.append(f"{src.layer.name}[{node_index}][{tensor_index}]")
    return ", ".join(parts) or "-"


def print_summary(model, line_length=None, print_fn=None):
    """Print the summary of ``model`` (Keras 3 column layout: Layer (type), Output Shape,
    Param #, and for functional models the input layers and a "Connected to" column; then
    Total, Trainable and Non-trainable params)."""
    print_fn = print_fn or print
    from ..layers.input_layer import InputLayer  # noqa: PLC0415

    nodes = getattr(model, "_nodes", None)
    functional = nodes is not None and hasattr(model, "inputs")
    widths = [32, 26, 14, 36] if functional else [32, 26, 14]
    if line_length:
        widths[0] = max(20, line_length - sum(widths[1:]))
    rule = "━" * sum(widths)
    lines = [f'Model: "{model.name}"', rule]
    head = ["Layer (type)", "Output Shape", "Param #", "Connected to"][: len(widths)]
    lines.append("".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    lines.append(rule)
    rows = []
    for layer in model.layers:
        if isinstance(layer, InputLayer) and not functional:
            continue
        shape = layer._output_shape if layer.built else None
        params = _count(layer.weights) if layer.built else 0
        row = (f"{layer.name} ({type(layer).__name__})",
               _fmt_shape(shape) if layer.built else "?",
               f"{params:,}" if layer.built else "0 (unbuilt)")  # fmt: skip
        rows.append(row + ((_connections(layer, nodes),) if functional else ()))
    for i, row in enumerate(rows):
        lines.append("".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
        if i != len(rows) - 1:
            lines.append("─" * sum(widths))
    lines.append(rule)
    weights = model.weights
    trainable = model.trainable_weights
    non_trainable = model.non_trainable_weights
    total_b = sum(w.data.nbytes for w in weights)
    lines.append(f" Total params: {_human(_count(weights), total_b)}")
    for label, group in (("Trainable", trainable), ("Non-trainable", non_trainable)):
        size = _human(_count(group), sum(w.data.nbytes for w in group))
        lines.append(f" {label} params: {size}")
    for line in lines:
        print_fn(line)
