"""The config part of ``Layer`` (Keras 3 ``keras/src/layers/layer.py`` and
``keras/src/ops/operation.py``): ``get_config`` (with Keras's automatic config for a class
that has none of its own), ``from_config``, the build config, and pickling, as a mixin
``Layer`` inherits."""

from __future__ import annotations

from ..saving.object_registration import automatic_config_error, keeps_name


class ConfigMixin:
    def get_config(self) -> dict:
        """The layer's config: ``name``, ``trainable``, ``dtype`` (and, for a user's class,
        ``activity_regularizer`` when set); subclasses add their ``__init__`` arguments.

        A class that does not override ``get_config`` gets its ``__init__`` arguments as they
        were passed (defaults filled in, ``**kwargs`` spread) when every one is a plain value
        (str, int, float, bool, None, or lists, tuples and dicts of them), as Keras 3 does;
        ``name`` is left out when ``__init__`` could not take it back (no ``name`` parameter
        and no ``**kwargs``). Matches Keras 3 ``keras/src/ops/operation.py`` (``__new__``,
        ``get_config``) and ``keras/src/layers/layer.py`` (``get_config``).

        Raises:
            NotImplementedError: for such a class made with other values (arrays, layers,
                callables, ...) or with positional-only or ``*args`` arguments, as Keras:
                it must define ``get_config``.
        """
        from ..saving.serialization import dtype_policy_config  # noqa: PLC0415

        config = {"name": self.name}
        if type(self).get_config is ConfigMixin.get_config:  # no get_config of its own
            if self._auto_config is None:
                raise automatic_config_error(type(self), self._auto_config_problem)
            config.update(self._auto_config)
            if not keeps_name(type(self)):
                del config["name"]
        config["trainable"] = self.trainable
        config["dtype"] = dtype_policy_config(self.dtype)
        # chainrule's own layers write activity_regularizer themselves where Keras's do
        # (ActivityRegularization must not: its regularizer is made from l1 and l2)
        if self.activity_regularizer is not None and not type(self).__module__.startswith(
                "chainrule."):  # fmt: skip
            from .. import regularizers  # noqa: PLC0415

            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config):
        """Recreate the layer from ``get_config()``'s output."""
        config = dict(config)
        return cls(**config)

    # Keras 3 builds some weightless layers in their __init__ (`_build_at_init`: Activation,
    # Dropout, the pooling layers, ...), which then write no build_config; chainrule marks the
    # same classes. A subclass with a build of its own is built on its first call in Keras.
    _built_at_init = False

    def get_build_config(self):
        """``{"input_shape": ...}`` once built, or None (not built, or built at ``__init__`` in
        Keras: ``_built_at_init``)."""
        if self._build_input_shape is None or (
                self._built_at_init and type(self).build.__module__.startswith("chainrule.")):
            return None
        return {"input_shape": _jsonable_shape(self._build_input_shape)}

    def build_from_config(self, config):
        if config and "input_shape" in config and not self.built:
            shape = config["input_shape"]
            self.build(tuple(shape) if not isinstance(shape[0], (list, tuple)) else shape)
            self._build_input_shape = shape
            self.built = True

    def __reduce__(self):
        # pickle, copy.copy and copy.deepcopy rebuild from a .keras archive in memory, as
        # Keras 3's KerasSaveable.__reduce__: a copy shares no weight or graph with this one.
        from ..saving.pickling import reduce_keras_object  # noqa: PLC0415

        return reduce_keras_object(self)



def _jsonable_shape(shape):
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return [_jsonable_shape(s) for s in shape]
    if isinstance(shape, dict):
        return {k: _jsonable_shape(v) for k, v in shape.items()}
    return [None if s is None else int(s) for s in shape]
