"""Symbolic tensors for the functional API: ``KerasTensor``, ``keras.Input`` and ``InputLayer``.

Calling a layer on ``KerasTensor``s records a ``Node`` (layer, inputs, outputs, call kwargs)
and returns new ``KerasTensor``s whose shapes are found by running the layer once on small
zero arrays with no graph recorded. Sizes given as None (the batch axis, variable lengths) are
tried with two placeholder sizes; an output axis whose size follows them is None.
"""

from __future__ import annotations

from ...autodiff.grad_mode import no_grad
from ...autodiff.tensor import Tensor
from ...backend import floatx, np
from .input_spec import PLACEHOLDER_SHAPES
from .layer import Layer, unique_name

__all__ = ["KerasTensor", "Input", "InputLayer", "symbolic_call", "SymbolicNode"]


class KerasTensor:
    """A placeholder: the shape (None for unknown sizes, first the batch), the dtype, and the
    layer call that produced it (``_history``: node, output index)."""

    def __init__(self, shape, dtype=None, name=None, sparse=False):
        self.shape = tuple(None if s is None else int(s) for s in shape)
        self.dtype = np.dtype(dtype or floatx()).name
        self.name = name or unique_name("keras_tensor")
        self._history = None  # (SymbolicNode, index)

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


class SymbolicNode:
    """One recorded layer call in a functional graph."""

    def __init__(self, layer, call_args, call_kwargs, outputs):
        self.layer = layer
        self.call_args = call_args
        self.call_kwargs = call_kwargs
        self.outputs = outputs

    @property
    def input_tensors(self):
        flat = _flatten((self.call_args, self.call_kwargs))
        return [t for t in flat if isinstance(t, KerasTensor)]


def _flatten(x):
    if isinstance(x, (list, tuple)):
        return [y for v in x for y in _flatten(v)]
    if isinstance(x, dict):
        return [y for v in x.values() for y in _flatten(v)]
    return [x]


def _map(fn, x):
    if isinstance(x, list):
        return [_map(fn, v) for v in x]
    if isinstance(x, tuple):
        return tuple(_map(fn, v) for v in x)
    if isinstance(x, dict):
        return {k: _map(fn, v) for k, v in x.items()}
    return fn(x)


def _placeholder(kt, batch, size):
    """Zeros standing in for ``kt``, with ``batch`` for an unknown batch size and ``size`` for
    any other unknown size."""
    shape = tuple((size if i else batch) if s is None else s for i, s in enumerate(kt.shape))
    return np.zeros(shape, dtype=kt.dtype)


def _placeholder_calls(layer, args, kwargs, sizes):
    """``layer`` called on stand-ins of two sizes (once, when no size is unknown): batches of
    2 and 3, other unknown sizes ``sizes``; the outputs tell known sizes from unknown ones."""
    outs = []
    for batch, size in zip((2, 3), sizes, strict=True):

        def stand_in(v, batch=batch, size=size):
            return _placeholder(v, batch, size) if isinstance(v, KerasTensor) else v

        concrete_args, concrete_kwargs = _map(stand_in, args), _map(stand_in, kwargs)
        stand_ins = {id(a): kt.shape for kt, a in zip(_flatten(args), _flatten(concrete_args))
                     if isinstance(kt, KerasTensor)}  # fmt: skip
        PLACEHOLDER_SHAPES.update(stand_ins)
        try:
            with no_grad():
                out = Layer.__call__(layer, *concrete_args, **concrete_kwargs)
        finally:
            for k in stand_ins:
                PLACEHOLDER_SHAPES.pop(k, None)
        outs.append(out)
        if not any(s is None for t in _flatten(args) if isinstance(t, KerasTensor)
                   for s in t.shape):  # fmt: skip
            outs.append(out)
            break
    return outs


def symbolic_call(layer, args, kwargs):
    """Record ``layer(*args, **kwargs)`` on KerasTensors and return output KerasTensors."""
    kwargs = dict(kwargs)
    # A `training` given here is kept in the node (a model call's own `training`, when not
    # None, overrides it, as in Keras); the placeholder calls that find the shapes skip it.
    training = kwargs.pop("training", None)
    was_built = layer.built
    # NOTE: an unknown size other than the batch's stands in as 8, then 16: one twice the
    # other, so any window of stride <= 8 gives two different output sizes (a "same" or
    # pooled 2 and 3 would both give 1 and read as a known size), and small enough to keep
    # the stand-in calls of a large convolutional model cheap. A layer that refuses those
    # (an 11x11 kernel) is called on 32 and 64; an error then is the layer's own.
    try:
        outs = _placeholder_calls(layer, args, kwargs, (8, 16))
    except ValueError:
        if not any(s is None for t in _flatten(args) if isinstance(t, KerasTensor)
                   for s in t.shape[1:]):  # fmt: skip
            raise
        outs = _placeholder_calls(layer, args, kwargs, (32, 64))

    def to_kt(a, b):
        a_arr = a.data if isinstance(a, Tensor) else np.asarray(a)
        b_arr = b.data if isinstance(b, Tensor) else np.asarray(b)
        shape = tuple(None if (i == 0 or sa != sb) and sa != sb else sa
                      for i, (sa, sb) in enumerate(zip(a_arr.shape, b_arr.shape)))  # fmt: skip
        return KerasTensor(shape, dtype=a_arr.dtype)

    first_in = next(t for t in _flatten(args) if isinstance(t, KerasTensor))
    result = _zip_map(to_kt, outs[0], outs[1])
    flat_out = _flatten(result)
    if first_in.shape and first_in.shape[0] is None:
        for kt in flat_out:  # the batch axis stays unknown
            if kt.shape:
                kt.shape = (None, *kt.shape[1:])
    if training is not None:
        kwargs["training"] = training
    node = SymbolicNode(layer, args, kwargs, result)
    for i, kt in enumerate(flat_out):
        kt._history = (node, i)
    layer._inbound_nodes.append(node)
    if not was_built:  # record the symbolic shape (None batch), not the placeholder's
        from .layer import shape_of  # noqa: PLC0415

        layer._build_input_shape = shape_of(args[0])
    layer._output_shape = flat_out[0].shape if len(flat_out) == 1 else [t.shape for t in flat_out]
    return result


def _zip_map(fn, a, b):
    if isinstance(a, (list, tuple)):
        return type(a)(_zip_map(fn, x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return {k: _zip_map(fn, a[k], b[k]) for k in a}
    return fn(a, b)


class InputLayer(Layer):
    """The entry point of a model: holds the input's shape and dtype (matches Keras 3
    ``keras/src/layers/core/input_layer.py``).

    Args:
        shape: the shape of one sample (without the batch axis).
        batch_size: optional fixed batch size.
        dtype: default ``floatx()``.
        batch_shape: the full shape including the batch axis (instead of ``shape``).
        name: default "input_layer", "input_layer_1", ...

    Raises:
        ValueError: if neither or both of ``shape`` and ``batch_shape`` are given, or a size
            is not a positive integer or None.
    """

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, ragged=None, **kwargs):  # fmt: skip
        if "input_shape" in kwargs:
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        super().__init__(name=name, dtype=dtype, **kwargs)
        if shape is None and batch_shape is None:
            raise ValueError("InputLayer needs shape= or batch_shape=, received neither")
        if shape is not None and batch_shape is not None:
            raise ValueError("InputLayer takes shape= or batch_shape=, not both")
        if shape is not None:
            if isinstance(shape, int):
                shape = (shape,)
            batch_shape = (batch_size, *tuple(shape))
        batch_shape = tuple(batch_shape)
        for s in batch_shape:
            if s is not None and (not isinstance(s, (int, np.integer)) or s <= 0):
                raise ValueError(
                    f"shape entries must be positive integers or None, received "
                    f"shape={batch_shape[1:]}"
                )
        self.batch_shape = batch_shape
        self._batch_input_shape = batch_shape
        self.built = True
        tensor = KerasTensor(batch_shape, dtype=self.dtype, name=self.name)
        tensor._history = (SymbolicNode(self, (), {}, tensor), 0)
        self._tensor = tensor
        self._output_shape = batch_shape

    @property
    def output(self):
        """The symbolic tensor this input layer stands for (what ``keras.Input`` returns)."""
        return self._tensor

    @property
    def input(self):
        """``[]``: an input layer is called on nothing (as Keras 3's ``InputLayer.input``)."""
        return []

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "sparse": False,
                "ragged": False, "name": self.name, "optional": False}  # fmt: skip


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
          tensor=None, optional=False):  # fmt: skip
    """A symbolic input for the functional API: ``keras.Input(shape=(3,))`` is a KerasTensor of
    shape ``(None, 3)`` (matches Keras 3 ``keras.Input``)."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape,
                       name=name)  # fmt: skip
    return layer.output
