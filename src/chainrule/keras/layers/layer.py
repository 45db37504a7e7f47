"""``Layer``: the base of every Keras layer and model (Keras 3 ``keras/src/layers/layer.py``).

The contract (DESIGN.md section 5): ``__init__`` validates and stores config; ``build(input_shape)``
creates weights with ``add_weight``; ``call(inputs, training=None)`` uses only chainrule ops;
``get_config()`` returns the ``__init__`` arguments; ``__call__`` builds once, on first use.
Calling a layer on symbolic ``KerasTensor``s (from ``keras.Input``) records the graph for the
functional API instead of computing.
"""

from __future__ import annotations

import contextlib
import inspect
import warnings

from ...autodiff.tensor import Tensor
from ...backend import floatx, np
from ..naming import to_snake_case, unique_name
from ..saving.object_registration import init_arguments
from ..variables import GENERATION, Variable
from .input_spec import PLACEHOLDER_SHAPES, assert_input_compatibility
from .layer_config import ConfigMixin
from .layer_losses import _SYMBOLIC, LossesMixin, _flatten
from .layer_weights import WeightsMixin

__all__ = ["Layer", "unique_name", "to_snake_case", "shape_of"]

def shape_of(x):
    """The shape of an array/Tensor/KerasTensor, or a list/dict of shapes for a structure."""
    if isinstance(x, (list, tuple)):
        return [shape_of(v) for v in x]
    if isinstance(x, dict):
        return {k: shape_of(v) for k, v in x.items()}
    shape = getattr(x, "shape", None)
    if shape is None:
        shape = np.shape(x)
    return tuple(shape)


_KERAS_TENSOR = []  # [KerasTensor], filled on first use (input_layer imports this module)


def _is_symbolic(x):
    if not _KERAS_TENSOR:
        from .input_layer import KerasTensor  # noqa: PLC0415 - avoids an import cycle

        _KERAS_TENSOR.append(KerasTensor)
    if isinstance(x, _KERAS_TENSOR[0]):
        return True
    if isinstance(x, (list, tuple)):
        return any(_is_symbolic(v) for v in x)
    if isinstance(x, dict):
        return any(_is_symbolic(v) for v in x.values())
    return False


_CONCRETE = (np.ndarray, Tensor)  # exact types that are never symbolic (a fast check per call)

# GENERATION (keras/variables.py) moves when one of these is set on a layer (the fit cache
# and the models' direct calls, layers/direct_calls.py, depend on them).
_RESTRUCTURING = frozenset(("trainable", "activity_regularizer", "optimizer", "input_spec",
                            "dtype", "autocast", "built"))


# The layers being built, outermost first: a weight's path is their names and its own
# (``sequential/dense/kernel``), as Keras 3's name scopes make it.
_NAME_SCOPE: list = []


@contextlib.contextmanager
def name_scope(layer):
    """Weights made inside are under ``layer``'s name (once, if it is already innermost)."""
    pushed = not _NAME_SCOPE or _NAME_SCOPE[-1] is not layer
    if pushed:
        _NAME_SCOPE.append(layer)
    try:
        yield
    finally:
        if pushed:
            _NAME_SCOPE.pop()


class Layer(LossesMixin, WeightsMixin, ConfigMixin):
    """Base layer.

    Args:
        activity_regularizer: optional regularizer applied to the output (added to losses).
        trainable: whether the layer's weights are trained (default True).
        dtype: the layer's float dtype (default ``floatx()``, float32).
        name: a unique name (default: the snake-case class name, ``dense``, ``dense_1``, ...).
        input_shape, input_dim, batch_input_shape: accepted on the first layer of a
            Sequential model, which turns them into an ``InputLayer`` (as Keras).

    Raises:
        TypeError: for an unknown keyword argument.
    """

    # what __new__ recorded (saving/object_registration.py, init_arguments); these class
    # values stand for an object made without going through __new__ with its arguments
    _auto_config = None
    _auto_config_problem = "values"

    def __new__(cls, *args, **kwargs):
        # As Keras 3's Operation.__new__: the arguments are recorded here, once per layer,
        # so that get_config() can return them for a class that does not define its own.
        # Only a class that uses the default get_config reads them, so only it pays.
        obj = super().__new__(cls)
        if cls.get_config is Layer.get_config:
            recorded, problem = init_arguments(cls, args, kwargs)
            object.__setattr__(obj, "_auto_config", recorded)
            object.__setattr__(obj, "_auto_config_problem", problem)
        return obj

    def __init__(self, *, activity_regularizer=None, trainable=True, dtype=None, autocast=True,
                 name=None, **kwargs):  # fmt: skip
        input_shape = kwargs.pop("input_shape", None)
        input_dim = kwargs.pop("input_dim", None)
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        kwargs.pop("batch_size", None)
        if kwargs:
            raise TypeError(
                f"unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}"
            )
        if input_shape is not None or input_dim is not None:
            warnings.warn(  # Keras 3's words: it still accepts them, as chainrule does
                "Do not pass an `input_shape`/`input_dim` argument to a layer. When using "
                "Sequential models, prefer using an `Input(shape)` object as the first layer in "
                "the model instead.",
                stacklevel=2,
            )
        object.__setattr__(self, "_tracked", [])  # sub-layers and variables, in order
        # ids of own variables created non-trainable: `weights` lists them last, by how they
        # were made (Keras's `_non_trainable_variables`), not by their `trainable` flag now
        object.__setattr__(self, "_born_frozen", set())
        self._own_weights = []  # variables made by add_weight, in creation order
        self._regularized = []  # (regularizer, variable) pairs
        self._losses = []  # from add_loss (activity regularizers too) since the top-level call
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, received name={name!r}")
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self.built = False
        self._trainable = bool(trainable)
        self.dtype = np.dtype(dtype.get("config", {}).get("name", floatx()) if isinstance(
            dtype, dict) else (dtype or floatx())).name  # fmt: skip
        self.autocast = autocast
        self.input_spec = None
        self.supports_masking = False
        self._build_input_shape = None
        self._output_shape = None
        self._inbound_nodes = []
        if activity_regularizer is not None:
            from .. import regularizers  # noqa: PLC0415

            activity_regularizer = regularizers.get(activity_regularizer)
        self.activity_regularizer = activity_regularizer
        if batch_input_shape is not None:
            self._batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self._batch_input_shape = (None, *tuple(input_shape))
        elif input_dim is not None:
            self._batch_input_shape = (None, int(input_dim))
        else:
            self._batch_input_shape = None
        params = inspect.signature(self.call).parameters
        self._call_has_training = "training" in params
        self._call_has_mask = "mask" in params

    # -- attribute tracking (sub-layers and variables assigned as attributes) ------------
    def __setattr__(self, name, value):
        tracked = self.__dict__.get("_tracked")
        if tracked is not None and not name.startswith("_"):
            for v in value if isinstance(value, (list, tuple)) else (
                    value.values() if isinstance(value, dict) else (value,)):  # fmt: skip
                if isinstance(v, (Layer, Variable)) and all(v is not t for t in tracked):
                    tracked.append(v)
                    GENERATION[0] += 1
                    if isinstance(v, Variable) and not v.trainable:
                        self._born_frozen.add(id(v))
            if name in _RESTRUCTURING:
                GENERATION[0] += 1
        if name == "dtype":
            self.__dict__.pop("_last_dtype", None)  # the autocast check must look again
        object.__setattr__(self, name, value)

    # -- weights --------------------------------------------------------------------------
    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True,
                   regularizer=None, constraint=None, name=None, autocast=True):  # fmt: skip
        """Create a weight (a ``Variable``) owned by this layer.

        Args:
            shape: the weight's shape (default ``()``).
            initializer: a name, an Initializer or a callable ``(shape, dtype)`` (default
                "glorot_uniform" for float weights, "zeros" otherwise, as Keras).
            dtype: default the layer's dtype.
            trainable: whether optimizers update it.
            regularizer: adds ``regularizer(weight)`` to ``layer.losses``.
            constraint: applied to the weight after each optimizer step.
            name: the weight's name (its path is the names of the layers being built around
                it, then its own: ``sequential/dense/kernel``, as Keras).
        """
        from .. import constraints, initializers, regularizers  # noqa: PLC0415

        shape = () if shape is None else tuple(int(s) for s in shape)
        dtype = dtype or self.dtype
        if initializer is None:
            initializer = "glorot_uniform" if np.dtype(dtype).kind == "f" else "zeros"
        init = initializers.get(initializer)
        var = Variable(init, shape=shape, dtype=dtype, trainable=trainable, name=name)
        scope = [layer.name for layer in _NAME_SCOPE]
        if not _NAME_SCOPE or _NAME_SCOPE[-1] is not self:  # (made outside its own build)
            scope.append(self.name)
        var.path = "/".join([*scope, name] if name else scope)
        var._constraint = constraints.get(constraint) if constraint is not None else None
        self._own_weights.append(var)
        if not var.trainable:
            self._born_frozen.add(id(var))
        if regularizer is not None:
            self._regularized.append((regularizers.get(regularizer), var))
        GENERATION[0] += 1
        return var

    def _sublayers(self):
        return [t for t in self._tracked if isinstance(t, Layer)]

    @property
    def layers(self):
        return self._sublayers()

    # -- building and calling -------------------------------------------------------------
    def build(self, input_shape=None):
        """Create weights for inputs of ``input_shape``; the default creates none."""
        self.built = True

    def _maybe_build(self, inputs):
        shape = shape_of(inputs)
        spec = self.input_spec
        if spec is not None and not isinstance(shape, (list, dict)):
            # A spec is checked once per (spec, shape): the batches of a fit have one shape,
            # or two with a smaller last batch. A few shapes are remembered.
            checked = self._spec_checked
            if (checked is None or checked[0] is not spec or checked[1] != GENERATION[0]
                    or len(checked[2]) > 8):  # fmt: skip
                checked = self._spec_checked = (spec, GENERATION[0], set())
            if shape not in checked[2]:
                assert_input_compatibility(spec, shape, self.name,
                                           PLACEHOLDER_SHAPES.get(id(inputs)))  # fmt: skip
                checked[2].add(shape)
        if not self.built:
            self._build_input_shape = shape
            self.build(shape)
            self.built = True

    def call(self, inputs, *args, **kwargs):
        """The computation; subclasses override it. The default returns the inputs."""
        return inputs

    # (input_spec, GENERATION then, shapes found compatible with it): a spec changed in place
    # moves GENERATION (input_spec.py), and the shapes are checked again
    _spec_checked = None
    _last_dtype = None  # the last float input dtype found equal to the layer's dtype

    def __call__(self, *args, **kwargs):
        if not args:
            raise ValueError(f"layer {self.name!r} was called without inputs")
        inputs = args[0]
        kind = type(inputs)
        if kind not in _CONCRETE and _is_symbolic(inputs):
            from .input_layer import symbolic_call  # noqa: PLC0415

            _SYMBOLIC[0] += 1
            try:
                return symbolic_call(self, args, kwargs)
            finally:
                _SYMBOLIC[0] -= 1
        if kwargs:
            if not self._call_has_training:
                kwargs.pop("training", None)
            if not self._call_has_mask:
                kwargs.pop("mask", None)
        if self._call_has_mask and kind not in _CONCRETE and len(args) == 1:
            # as Keras's __call__ ("populate mask argument"): a call that takes `mask`, given
            # none, gets its one input's Keras mask (GlobalAveragePooling1D after Embedding)
            mask = getattr(inputs, "_keras_mask", None)
            if mask is not None and kwargs.get("mask") is None:
                kwargs["mask"] = mask
        if self.autocast and (kind in _CONCRETE or isinstance(inputs, (np.ndarray, Tensor))):
            dt = inputs.dtype
            if dt is not self._last_dtype:  # NOTE: one identity check per call on the hot path
                if dt.kind == "f" and dt != self.dtype:
                    mask = None if kind in _CONCRETE else getattr(inputs, "_keras_mask", None)
                    inputs = inputs.astype(self.dtype)
                    if mask is not None:  # (the cast keeps the mask, as Keras's does)
                        from .rnn.masking import attach_mask  # noqa: PLC0415

                        inputs = attach_mask(inputs, mask)
                    args = (inputs, *args[1:])
                elif dt.kind == "f":
                    self._last_dtype = dt
        if not self.built:
            # the first call builds this layer, and layers it calls may build too: their
            # weights' paths are under this layer's name, as under Keras's name scopes
            with name_scope(self):
                self._maybe_build(inputs)
                out = self._counted_call(self._call_and_regularize, *args, **kwargs)
        else:
            if self.input_spec is not None:
                checked = self._spec_checked
                if (checked is None or checked[0] is not self.input_spec
                        or kind not in _CONCRETE or checked[1] != GENERATION[0]
                        or inputs.shape not in checked[2]):  # fmt: skip
                    self._maybe_build(inputs)
            out = self._counted_call(self._call_and_regularize, *args, **kwargs)
        if self._mask_passthrough and kind not in _CONCRETE:  # only a MaskedTensor has a mask
            mask = getattr(inputs, "_keras_mask", None)
            if mask is not None and getattr(out, "_keras_mask", None) is None:
                from .rnn.masking import attach_mask  # noqa: PLC0415 - only when masks flow

                out = attach_mask(out, mask)
        return out

    # Layers that keep the time axis and do not use a mask themselves (Dense, Activation,
    # Dropout) hand their input's Keras mask on to their output, as Keras's default
    # compute_mask does for layers with supports_masking.
    _mask_passthrough = False

    def compute_output_shape(self, input_shape):
        """The output shape for ``input_shape`` (found by a symbolic call when not overridden)."""
        from .input_layer import KerasTensor  # noqa: PLC0415

        out = self(KerasTensor(tuple(input_shape), dtype=self.dtype))
        return out.shape

    @property
    def input(self):
        """The symbolic input of this layer's first call in a functional graph (a list when it
        took several). Matches Keras 3 ``Operation.input``.

        Raises:
            AttributeError: if the layer was never called on ``keras.Input`` tensors.
        """
        return self._first_call("input")

    @property
    def output(self):
        """The symbolic output of this layer's first call in a functional graph (a list when
        it gave several), e.g. to build a feature extractor:
        ``keras.Model(model.inputs, model.get_layer("hidden").output)``. Matches Keras 3
        ``Operation.output``.

        Raises:
            AttributeError: if the layer was never called on ``keras.Input`` tensors.
        """
        return self._first_call("output")

    def _first_call(self, what):
        if not self._inbound_nodes:
            raise AttributeError(
                f"The layer {self.name} has never been called and thus has no defined {what}."
            )
        node = self._inbound_nodes[0]
        values = node.input_tensors if what == "input" else _flatten(node.outputs)
        return values[0] if len(values) == 1 else values

    @property
    def output_shape(self):
        if self._output_shape is None:
            raise AttributeError(f"layer {self.name!r} has not been called yet; no output shape")
        return self._output_shape

    @property
    def input_shape(self):
        if self._build_input_shape is None:
            raise AttributeError(f"layer {self.name!r} has not been built yet; no input shape")
        return self._build_input_shape

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"
