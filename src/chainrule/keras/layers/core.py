"""Core layers: Dense, Activation, Dropout, Flatten, Reshape, Identity, Lambda
(Keras 3 ``keras/src/layers/core/`` and ``layers/reshaping/``)."""

from __future__ import annotations

import math

from ... import ops
from ...backend import np, rng, seeded_rng
from .direct_calls import array_form
from .input_spec import InputSpec
from .layer import Layer

__all__ = ["Dense", "Activation", "Dropout", "Flatten", "Reshape", "Identity", "Lambda"]


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, received {name}={value!r}")
    return int(value)


def _no_lora(layer, lora_rank, quantization_config=None):
    """Refuse a ``lora_rank`` that turns Keras's LoRA on (any true value), or a
    ``quantization_config`` (neither is built yet), rather than ignore it."""
    if lora_rank:
        raise NotImplementedError(
            f"{layer}(lora_rank=...) (LoRA) is not supported yet, received "
            f"lora_rank={lora_rank!r}; use lora_rank=None or 0"
        )
    if quantization_config is not None:
        raise NotImplementedError(
            f"{layer}(quantization_config=...) (quantization) is not supported yet, received "
            f"quantization_config={quantization_config!r}; use None"
        )


def _activation_op(activation, x):
    """``(primitive, (x,), kwargs)`` when ``activation(x)`` is that one primitive
    (``activations.ARRAY_OPS``), else None: for layers' array forms."""
    from .. import activations  # noqa: PLC0415

    named = activations.ARRAY_OPS.get(id(activation))
    return None if named is None else (getattr(ops, named[0]), (x,), named[1])


def _ser(module_name, obj):
    from .. import activations, constraints, initializers, regularizers  # noqa: PLC0415

    mod = {"activations": activations, "initializers": initializers,
           "regularizers": regularizers, "constraints": constraints}[module_name]  # fmt: skip
    return None if obj is None else mod.serialize(obj)


class Dense(Layer):
    """Densely connected layer: ``output = activation(inputs @ kernel + bias)``.

    Args:
        units: positive int, the output size.
        activation: name or function (default None: linear).
        use_bias: default True.
        kernel_initializer: default "glorot_uniform"; bias_initializer: default "zeros"
            (matches Keras 3 ``keras/src/layers/core/dense.py``).
        kernel_regularizer, bias_regularizer, activity_regularizer: optional.
        kernel_constraint, bias_constraint: optional.

    Shape:
        ``(batch, ..., input_dim) -> (batch, ..., units)``; the kernel is ``(input_dim, units)``.

    Raises:
        ValueError: ``units`` not a positive integer; input of rank < 2 ("expected min_ndim=2").
    """

    _mask_passthrough = True

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 lora_rank=None, lora_alpha=None, quantization_config=None,
                 **kwargs):  # fmt: skip
        from .. import activations, constraints, initializers, regularizers  # noqa: PLC0415

        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = _positive_int("units", units)
        _no_lora("Dense", lora_rank, quantization_config)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.input_spec = InputSpec(min_ndim=2)
        self._linear = activations.get(None)
        # NOTE: Keras's relu with its default arguments is exactly ops.relu; calling the op
        # directly skips three argument checks per call.
        self._relu = activations.relu
        self._zero_bias = None

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"Dense layer {self.name!r} needs a known last input axis, received shape "
                f"{tuple(input_shape)}"
            )
        self.kernel = self.add_weight(shape=(input_dim, self.units), name="kernel",
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)  # fmt: skip
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.units,), name="bias",
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)  # fmt: skip
        else:
            self.bias = None
            self._zero_bias = np.zeros((self.units,), dtype=self.dtype)
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})
        self.built = True

    def call(self, inputs):
        bias = self.bias if self.bias is not None else self._zero_bias
        act = self.activation
        if act is self._relu:
            return ops.dense(inputs, self.kernel, bias, activation="relu")
        out = ops.dense(inputs, self.kernel, bias)
        return out if act is self._linear else act(out)

    @array_form(call)
    def _array_ops(self, x):
        bias = self.bias if self.bias is not None else self._zero_bias
        act = self.activation
        if act is self._relu:
            return ((ops.dense, (x, self.kernel, bias), {"activation": "relu"}),)
        dense = (ops.dense, (x, self.kernel, bias), {})
        if act is self._linear:
            return (dense,)
        activation = _activation_op(act, x)
        return None if activation is None else (dense, activation)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.units)

    def get_config(self):
        from .. import activations  # noqa: PLC0415

        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": _ser("initializers", self.kernel_initializer),
                "bias_initializer": _ser("initializers", self.bias_initializer),
                "kernel_regularizer": _ser("regularizers", self.kernel_regularizer),
                "bias_regularizer": _ser("regularizers", self.bias_regularizer),
                "kernel_constraint": _ser("constraints", self.kernel_constraint),
                "bias_constraint": _ser("constraints", self.bias_constraint),
                "quantization_config": None}  # fmt: skip


class Activation(Layer):
    """Applies an activation function: ``output = activation(inputs)``.

    Args:
        activation: a name ("relu", "softmax", ...) or a function.
    """

    _built_at_init = True  # no build_config in its saved config, as Keras (see Layer)

    _mask_passthrough = True

    def __init__(self, activation, **kwargs):
        from .. import activations  # noqa: PLC0415

        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    @array_form(call)
    def _array_ops(self, x):
        from .. import activations  # noqa: PLC0415

        if self.activation is activations.linear:
            return ()
        activation = _activation_op(self.activation, x)
        return None if activation is None else (activation,)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        from .. import activations  # noqa: PLC0415

        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Dropout(Layer):
    """Inverted dropout: in training, zero each input with probability ``rate`` and scale the
    rest by ``1 / (1 - rate)``; at inference, the identity (Srivastava et al. 2014; matches
    Keras 3).

    Args:
        rate: float in [0, 1), the fraction to drop.
        noise_shape: optional shape of the mask (None entries take the input's size).
        seed: optional int for a reproducible mask (default: chainrule's seeded generator).

    Raises:
        ValueError: ``rate`` outside [0, 1).
    """

    _built_at_init = True  # no build_config in its saved config, as Keras (see Layer)

    _mask_passthrough = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"rate must be a float in [0, 1), received rate={rate!r}")
        self.rate = float(rate)
        self.noise_shape = noise_shape
        self.seed = seed
        self._rng = seeded_rng(seed)
        self.supports_masking = True

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        shape = tuple(inputs.shape)
        if self.noise_shape is not None:
            shape = tuple(s if n is None else n for s, n in zip(shape, self.noise_shape))
        gen = self._rng or rng()
        keep = gen.random(shape) >= self.rate
        mask = keep.astype(inputs.dtype) / np.asarray(1 - self.rate, dtype=inputs.dtype)
        return ops.multiply(inputs, mask)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": self.noise_shape}  # fmt: skip


class Flatten(Layer):
    """Flattens every axis after the batch axis: ``(batch, d1, d2, ...) -> (batch, d1*d2*...)``."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or "channels_last"
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs):
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = ops.transpose(inputs, (0, *range(2, inputs.ndim), 1))
        return ops.reshape(inputs, (inputs.shape[0], -1) if inputs.ndim > 1 else (-1, 1))

    @array_form(call)
    def _array_ops(self, x):
        if self.data_format == "channels_first" and x.ndim > 2:
            return None
        return ((ops.reshape, (x, (x.shape[0], -1) if x.ndim > 1 else (-1, 1)), {}),)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        n = None if any(s is None for s in rest) else int(math.prod(rest))
        return (input_shape[0], n)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (one entry may be -1):
    ``(batch, ...) -> (batch, *target_shape)``.

    Raises:
        ValueError: when the sizes do not match (naming both shapes).
    """

    _built_at_init = True  # no build_config in its saved config, as Keras (see Layer)

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(s) for s in target_shape)
        if sum(s == -1 for s in self.target_shape) > 1:
            raise ValueError(
                f"target_shape may contain at most one -1, received {self.target_shape}"
            )

    def call(self, inputs):
        n = int(math.prod(inputs.shape[1:]))
        known = int(math.prod(s for s in self.target_shape if s != -1))
        if (-1 not in self.target_shape and known != n) or (known == 0 or n % known):
            raise ValueError(
                f"Reshape {self.name!r}: cannot reshape samples of shape {tuple(inputs.shape[1:])} "
                f"({n} values) into target_shape {self.target_shape}"
            )
        return ops.reshape(inputs, (inputs.shape[0], *self.target_shape))

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}  # (a tuple, as Keras)


class Identity(Layer):
    """Returns its input unchanged."""

    _built_at_init = True  # no build_config in its saved config, as Keras (see Layer)
    _mask_passthrough = True

    def __init__(self, **kwargs):
        # Keras's Identity takes only **kwargs: its automatic config (Layer.get_config) then
        # holds what was passed, not every argument of Layer.__init__
        super().__init__(**kwargs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


class Lambda(Layer):
    """Wraps a function of Tensors as a layer: ``output = function(inputs, **arguments)``.

    Args:
        function: the function; it takes the input Tensor(s) first.
        output_shape: default None; the output shape without the batch axis, or a function
            of the input shape. Kept in the config as Keras does.
        mask: default None; a mask (Keras's ``compute_mask``) is not supported yet.
        arguments: default None; keyword arguments passed to ``function``.

    Config: the function is written as Keras 3 writes it (``{"module": "builtins",
    "class_name": "function", "config": "package>name" for a function registered with
    ``keras.saving.register_keras_serializable`` else its name, "registered_name":
    "function"}``), so a registered function is found again by ``load_model`` and ``pickle``,
    and an unregistered one through ``custom_objects``. A Python lambda is refused: Keras
    writes its bytecode, chainrule never stores code. Lambda layers are never deserialised
    from a file unless the user opts in (``safe_mode=False``). Matches Keras 3
    ``keras/src/layers/core/lambda_layer.py``.

    Raises:
        TypeError: ``function`` is not callable.
        NotImplementedError: ``mask`` is not None.
        ValueError: from ``get_config`` (so from saving, pickling and copying) when the
            function is a Python lambda or has no name.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"function must be callable, received {type(function).__name__}")
        if mask is not None:
            raise NotImplementedError(
                f"Lambda(mask=...) is not supported yet, received mask={mask!r}; use None"
            )
        self.function = function
        self.arguments = dict(arguments or {})
        self._given_output_shape = output_shape

    def call(self, inputs):
        return self.function(inputs, **self.arguments)

    def get_config(self):
        from ..saving.serialization import function_config, serialize_keras_object  # noqa

        config = {"function": function_config(self.function)}
        shape = self._given_output_shape
        if shape is not None:
            config["output_shape"] = (function_config(shape, "output_shape")
                                      if callable(shape) else shape)  # fmt: skip
        config["arguments"] = serialize_keras_object(self.arguments)
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A Lambda from its config: functions found by name (Keras's form, or the bare name
        older chainrule files hold), never from bytecode; ``arguments`` deserialised."""
        from ..saving.serialization import (  # noqa: PLC0415
            deserialize_keras_object,
            function_from_config,
        )

        config = dict(config)
        config["function"] = function_from_config(config["function"], custom_objects)
        shape = config.get("output_shape")
        if isinstance(shape, dict):
            config["output_shape"] = function_from_config(shape, custom_objects)
        elif isinstance(shape, list) and all(isinstance(d, (int, type(None))) for d in shape):
            config["output_shape"] = tuple(shape)
        if config.get("arguments") is not None:
            config["arguments"] = deserialize_keras_object(config["arguments"], custom_objects)
        return cls(**config)
