"""``model.summary()``: Keras's table of layers, output shapes and parameter counts.

Keras 3 draws it with ``rich``; we depend on NumPy only, so the table (heavy-head box, one space
of padding, a rule between rows, cells wrapped at spaces and cut with "…") is laid out here as
``rich`` lays it out for Keras, giving the plain text Keras 3.15.1 prints when not on a colour
terminal (``keras/src/utils/summary_utils.py``).
"""

from __future__ import annotations

import numbers
import re
import shutil
import sys
from collections.abc import Callable, Sequence

from ...autodiff.tensor import Tensor
from ..layers.layer import Layer
from ._table_text import (
    _ASCII,
    _HEAVY_HEAD,
    _column_widths,
    _console_width,
    _crop,
    _table,
    _wrap,
)

__all__ = ["print_summary"]

# -- what the rows say -----------------------------------------------------------------------
def _producer(kt):
    history = getattr(kt, "_history", None)
    return history[0] if history else None


def _graph(model):
    """``(sequential_like, ids of the model's nodes or None, layers to list)``.

    A functional model is sequential-like when each depth of its graph holds one layer call
    with at most one input tensor and no layer is called twice (Keras's rule).
    """
    from ..layers.input_layer import InputLayer  # noqa: PLC0415
    from ..models.functional import Functional  # noqa: PLC0415

    if not isinstance(model, Functional):
        return True, None, [la for la in model.layers if not isinstance(la, InputLayer)]
    by_depth = model._nodes_by_depth  # Keras's map_graph depths, made with the model
    ids = {id(n) for calls in by_depth.values() for n in calls}
    chain = all(len(v) == 1 and len(v[0].input_tensors) <= 1 for v in by_depth.values())
    if chain:
        chain = all(sum(id(n) in ids for n in la._inbound_nodes) <= 1 for la in model.layers)
    return chain, ids, model.layers


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _is_shape(x) -> bool:
    if not isinstance(x, (tuple, list)) or isinstance(x, list) and not x:
        return False
    return all(s is None or isinstance(s, numbers.Integral) for s in x)


def _struct_text(struct, leaf) -> str:
    """One shape as ``(None, 8)``; several as Python prints their structure, unquoted."""

    def walk(x):
        if leaf(x):
            return _shape_text(x if _is_shape(x) else x.shape)
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        return type(x)(walk(v) for v in x)

    def count(x):
        if leaf(x):
            return 1
        return sum(count(v) for v in (x.values() if isinstance(x, dict) else x))

    texts = walk(struct)
    if count(struct) == 1:
        while not isinstance(texts, str):
            texts = next(iter(texts.values() if isinstance(texts, dict) else texts))
        return texts
    return str(texts).replace("'", "")


def _output_shape_text(layer) -> str:
    if layer._inbound_nodes:  # as Keras: the latest call's outputs
        outputs = layer._inbound_nodes[-1].outputs
        return _struct_text(outputs, lambda x: hasattr(x, "_history"))
    if not layer.built:
        return "?"
    shape = layer._output_shape
    build_shape = layer._build_input_shape
    # Keras asks compute_output_shape of a layer only ever called eagerly (in a subclassed
    # model); the base one would record a symbolic call on the layer, so it is not asked.
    own = type(layer).compute_output_shape is not Layer.compute_output_shape
    if shape is None and build_shape is not None and own:
        try:
            shape = layer.compute_output_shape(build_shape)
        except (NotImplementedError, ValueError, TypeError):
            return "?"
    return "?" if shape is None else _struct_text(shape, _is_shape)


def _connections(layer, ids) -> str:
    """``producer[node_index][tensor_index]`` for each input of each call in this model."""
    parts = []
    for node in layer._inbound_nodes:
        if ids and id(node) not in ids:
            continue
        for kt in node.input_tensors:
            src, tensor_index = kt._history
            calls = src.layer._inbound_nodes
            node_index = next((i for i, n in enumerate(calls) if n is src), 0)
            parts.append(f"{src.layer.name}[{node_index}][{tensor_index}]")
    return ", ".join(parts) or "-"


def _rows(layer, level, sequential_like, ids, show_trainable, expand_nested):
    prefix = "   " * level + "└ " if level else ""
    params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
    row = [f"{prefix}{layer.name} ({type(layer).__name__})", _output_shape_text(layer), params]
    if not sequential_like:
        row.append(_connections(layer, ids))
    if show_trainable:
        row.append(("Y" if layer.trainable else "N") if layer.weights else "-")
    rows = [row]
    if expand_nested and getattr(layer, "layers", None):
        for inner in layer.layers:
            rows += _rows(inner, level + 1, sequential_like, ids, show_trainable, expand_nested)
    return rows


def _layer_bounds(layers, layer_range):
    """``[first, last + 1]``: from the first layer whose name matches ``layer_range[0]`` (a
    regex) to the last whose name matches ``layer_range[1]``."""
    if layer_range is None:
        return 0, len(layers)
    if not (isinstance(layer_range, (list, tuple)) and len(layer_range) == 2
            and all(isinstance(s, str) for s in layer_range)):  # fmt: skip
        raise ValueError(
            "layer_range must be a list or tuple of two strings (the first and last layer "
            f"names, as regexes), received layer_range={layer_range!r}"
        )
    lower = [i for i, la in enumerate(layers) if re.match(layer_range[0], la.name)]
    upper = [i for i, la in enumerate(layers) if re.match(layer_range[1], la.name)]
    if not lower or not upper:
        raise ValueError(
            f"layer_range={list(layer_range)} does not match the layer names in the model: "
            f"{[la.name for la in layers]}"
        )
    if min(lower) > max(upper):
        return min(upper), max(lower) + 1
    return min(lower), max(upper) + 1


def _bytes(arrays, int32_first=False) -> float:
    """Memory of the distinct ``arrays`` (a bool weighs one bit, as Keras counts it)."""
    total = 0.0
    for i, a in enumerate({id(a): a for a in arrays}.values()):
        dtype = a.dtype
        bits = 32 if (i == 0 and int32_first) else 1 if dtype.kind == "b" else dtype.itemsize * 8
        total += a.size * bits
    return total / 8


def _readable(n_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n_bytes / 1024 < 1:
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.2f} PB"


def _totals(model) -> list[tuple[str, int, float]]:
    def arrays(ws):  # Variables, Tensors or (optimizer state) NumPy arrays
        return [w.data if isinstance(w, Tensor) else w for w in ws]

    train, frozen = arrays(model.trainable_weights), arrays(model.non_trainable_weights)
    lines = [("Trainable", sum(a.size for a in train), _bytes(train)),
             ("Non-trainable", sum(a.size for a in frozen), _bytes(frozen))]  # fmt: skip
    opt = getattr(model, "optimizer", None)
    if getattr(model, "compiled", False) and opt is not None and getattr(opt, "built", False):
        state = arrays(opt.variables)
        # NOTE: Keras keeps `iterations` (first in `variables`) as int32; ours is an int64.
        lines.append(("Optimizer", sum(v.size for v in state), _bytes(state, int32_first=True)))
    total = ("Total", sum(n for _, n, _ in lines), sum(b for _, _, b in lines))
    return [total, *lines]


def print_summary(
    model,
    line_length: int | None = None,
    positions: Sequence[float] | None = None,
    print_fn: Callable[[str], object] | None = None,
    expand_nested: bool = False,
    show_trainable: bool = False,
    layer_range: Sequence[str] | None = None,
) -> None:
    """Print the summary table of ``model``, as Keras 3 lays it out.

    Columns "Layer (type)", "Output Shape", "Param #" (right-aligned), then "Connected to"
    unless the model is sequential-like (a Sequential, a subclassed model, or a functional
    graph that is one chain of single-input calls with no shared layer), then "Trainable"
    with ``show_trainable``. Column ``i`` is ``int(positions[i] * line_length)`` minus the
    previous columns wide; the borders and a space of padding each side of a cell come out
    of the columns, evenly. Long cells wrap at spaces; a word too long for its line ends
    in "…"; lines wider than the console are cut (as Keras's console does). Then the totals:
    ``Total``, ``Trainable``, ``Non-trainable`` and (once the optimizer is built)
    ``Optimizer`` params, each with its memory size.

    Args:
        model: the model to describe.
        line_length: total width of the table. Default 88 (108 with "Connected to", 12 more
            with ``show_trainable``), at most the terminal's width minus 4.
        positions: where each column ends, as fractions of ``line_length``. Default
            ``[0.45, 0.8, 1.0]`` (sequential-like) or ``[0.3, 0.56, 0.74, 1.0]``; with
            ``show_trainable`` each is scaled by 0.9 and 1.0 appended.
        print_fn: default None: the text goes to ``sys.stdout``. Otherwise it is called once
            with the whole summary (a string of lines, each ending in a newline), as Keras
            3.15.1 does.
        expand_nested: default False. List the layers of nested models under them, marked
            "└ " and indented by three spaces a level.
        show_trainable: default False. Add a column "Y"/"N" (trainable or not), "-" for a
            layer without weights.
        layer_range: default None (all layers). Two regexes: list from the first layer whose
            name matches the first to the last whose name matches the second.

    Raises:
        ValueError: a column narrower than 4 characters ("Insufficient console width to
            print summary", naming the column), fewer ``positions`` than columns, a bad
            ``line_length``, or a ``layer_range`` that is not two strings or matches no layer.

    Matches Keras 3 ``keras/src/utils/summary_utils.py`` (``print_summary``) and the ``rich``
    table it draws, printed as plain text.

    >>> from chainrule import keras
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")], name="s")
    >>> m.summary(line_length=40, print_fn=lambda text: print(text, end=""))
    Model: "s"
    ┏━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━┓
    ┃                 ┃ Output     ┃ Param ┃
    ┃ Layer (type)    ┃ Shape      ┃     # ┃
    ┡━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━┩
    │ d (Dense)       │ (None, 2)  │     8 │
    └─────────────────┴────────────┴───────┘
     Total params: 8 (32.00 B)
     Trainable params: 8 (32.00 B)
     Non-trainable params: 0 (0.00 B)
    """
    if line_length is not None and (
        isinstance(line_length, bool) or not isinstance(line_length, int) or line_length < 0
    ):
        raise ValueError(
            f"line_length must be a positive integer or None, received line_length={line_length!r}"
        )
    sequential_like, ids, layers = _graph(model)
    headers = ["Layer (type)", "Output Shape", "Param #"]
    aligns = ["left", "left", "right"]
    if sequential_like:
        default_length, default_positions = 88, [0.45, 0.8, 1.0]
    else:
        default_length, default_positions = 108, [0.3, 0.56, 0.74, 1.0]
        headers.append("Connected to")
        aligns.append("left")
    positions = list(positions or default_positions)
    if show_trainable:
        default_length += 12
        positions = [p * 0.9 for p in positions] + [1.0]
        headers.append("Trainable")
        aligns.append("center")
    if len(positions) < len(headers):
        raise ValueError(
            f"positions must give the end of each of the {len(headers)} columns {headers}, "
            f"received positions={positions}"
        )
    default_length = min(default_length, shutil.get_terminal_size().columns - 4)
    line_length = line_length or default_length
    content, end = [], 0
    for i, pos in enumerate(positions):
        width = int(pos * line_length) - end
        if width < 4:
            name = headers[i] if i < len(headers) else f"#{i}"
            raise ValueError(
                f"Insufficient console width to print summary: column {name!r} would be "
                f"{width} characters wide (at least 4 needed) with line_length={line_length} "
                f"and positions={positions}"
            )
        content.append(width)
        end += width
    widths = _column_widths(content[: len(headers)], line_length)

    first, stop = _layer_bounds(layers, layer_range)
    rows = []
    for layer in layers[first:stop]:
        rows += _rows(layer, 0, sequential_like, ids, show_trainable, expand_nested)
    box = _HEAVY_HEAD
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    if not encoding.lower().startswith("utf"):
        box = _ASCII
    console = _console_width(capturing=print_fn is not None)
    lines = _wrap(f'Model: "{model.name}"', console, "default", "fold")
    lines += [_crop(line, console) for line in _table(headers, aligns, widths, rows, box)]
    for label, count, size in _totals(model):
        lines += _wrap(f" {label} params: {count:,} ({_readable(size)})", console, "default",
                       "fold")  # fmt: skip
    text = "".join(line + "\n" for line in lines)
    if print_fn is None:
        sys.stdout.write(text)
    else:
        print_fn(text)
