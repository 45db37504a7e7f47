"""``keras.Model``: a Layer with the training API. ``Model(inputs, outputs)`` builds a
functional model; subclass it and define ``call`` for a model of your own (Keras 3
``keras/src/models/model.py``)."""

from __future__ import annotations

from ...autodiff.tensor import Tensor
from ...backend import np
from ..layers.direct_calls import CallRecords
from ..layers.input_spec import PLACEHOLDER_SHAPES
from ..layers.layer import Layer
from ..trainers.trainer import Trainer

__all__ = ["Model", "adjust_input_rank", "cast_input"]


def cast_input(x, dtype):
    """Integer and boolean inputs become the input layer's float ``dtype`` (Keras converts
    model inputs to their ``Input``'s dtype), so predictions stay float32. Layers that want
    integers (Embedding) cast back, as in Keras."""
    kind = getattr(getattr(x, "dtype", None), "kind", "f")
    if kind in "biu" and np.dtype(dtype).kind == "f":
        return x.astype(dtype)
    return x


def adjust_input_rank(x, ref_shape, input_name="input"):
    """Keras's ``Functional._adjust_input_rank``: add a trailing axis of 1 when ``x`` lacks
    it, drop one when ``x`` has an extra one; otherwise the ranks must agree.

    Raises:
        ValueError: naming the expected shape (with None for the batch) and the received one,
            and a feature count that differs from the model's.
    """
    shape = tuple(x.shape)
    shown = PLACEHOLDER_SHAPES.get(id(x), shape)  # a symbolic call's placeholder: its shape
    ref_rank = len(ref_shape)
    if len(shape) == ref_rank - 1 and ref_shape[-1] == 1:
        x = x.reshape(*shape, 1) if isinstance(x, Tensor) else np.expand_dims(x, -1)
    elif len(shape) == ref_rank + 1 and shape[-1] == 1:
        x = x.reshape(*shape[:-1]) if isinstance(x, Tensor) else np.squeeze(x, -1)
    elif len(shape) != ref_rank:
        hint = " If you meant a single sample, add a batch axis: x[None]." if (
            len(shape) == ref_rank - 1) else ""  # fmt: skip
        raise ValueError(
            f"Invalid input shape for {input_name}. Expected shape {tuple(ref_shape)}, but "
            f"input has incompatible shape {tuple(shown)}.{hint}"
        )
    got = tuple(x.shape)
    for want, have in zip(ref_shape[1:], got[1:], strict=True):
        if want is not None and want != have:
            shown = shown if len(shown) == len(got) else got
            raise ValueError(
                f"Invalid input shape for {input_name}. Expected shape {tuple(ref_shape)}, but "
                f"input has incompatible shape {tuple(shown)}: the model was built for {want} "
                f"features on that axis and received {have}."
            )
    return x


def _functional_args(args, kwargs):
    return bool(args) or ("inputs" in kwargs and "outputs" in kwargs)


_FUNCTIONAL_SUBCLASSES: dict = {}


def _functional_subclass(cls):
    """``cls`` with ``Functional`` mixed in after it (its own methods still win)."""
    if cls not in _FUNCTIONAL_SUBCLASSES:
        from .functional import Functional  # noqa: PLC0415

        _FUNCTIONAL_SUBCLASSES[cls] = type(cls.__name__, (cls, Functional),
                                           {"__module__": cls.__module__})  # fmt: skip
    return _FUNCTIONAL_SUBCLASSES[cls]


class Model(Trainer, Layer):
    """A trainable group of layers.

    ``Model(inputs, outputs, name=None)`` makes a functional model from symbolic tensors
    (``keras.Input``); subclasses define layers in ``__init__`` and the forward in
    ``call(inputs, training=None)``.
    """

    _records = None  # CallRecords (layers/direct_calls.py), made by the first call

    def _call_records(self):
        """This model's records of direct layer calls, made on first use."""
        if self._records is None:
            self._records = CallRecords()
        return self._records

    def __new__(cls, *args, **kwargs):
        if cls is Model and _functional_args(args, kwargs):
            from .functional import Functional  # noqa: PLC0415

            return Functional.__new__(Functional)  # then __init__(inputs, outputs) runs on it
        # (the arguments go on to Layer.__new__, which records them for the automatic
        # config; Keras's Model.__new__ drops them, so its config of a subclassed model
        # holds the defaults instead of the values given)
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, *args, **kwargs):
        from .functional import Functional  # noqa: PLC0415

        if _functional_args(args, kwargs) and not isinstance(self, Functional):
            # A subclass built from inputs and outputs (``super().__init__(inputs, outputs)``)
            # is a functional model with the subclass's methods on top, as in Keras.
            self.__class__ = _functional_subclass(type(self))
            Functional.__init__(self, *args, **kwargs)
            return
        trainable = kwargs.pop("trainable", True)
        name = kwargs.pop("name", None)
        dtype = kwargs.pop("dtype", None)
        Layer.__init__(self, trainable=trainable, name=name, dtype=dtype, **kwargs)
        self._init_trainer()

    def build(self, input_shape=None):
        """Build by calling the model on symbolic input of ``input_shape``."""
        if self.built:
            return
        # Marked built first: the symbolic call below re-enters __call__, which would
        # otherwise call build again without end.
        self.built = True
        if input_shape is not None:
            from ..layers.input_layer import KerasTensor  # noqa: PLC0415

            try:
                Layer.__call__(self, KerasTensor(tuple(input_shape)))
            except Exception:
                self.built = False
                raise

    def get_layer(self, name=None, index=None):
        """The layer with this ``name`` (or at this ``index``).

        Raises:
            ValueError: naming the missing layer and the model's layer names.
        """
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(
                    f"index {index} is out of range: the model has {len(layers)} layers"
                )
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"no such layer: {name!r}; the layers are {[la.name for la in layers]}"
        )

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):  # fmt: skip
        """Print Keras's table: layer (type), output shape, parameter count, and totals
        (see ``keras.utils.summary_utils.print_summary`` for the arguments)."""
        from ..utils.summary_utils import print_summary  # noqa: PLC0415

        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable,
                      layer_range=layer_range)  # fmt: skip

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A model from ``get_config()``'s output: a functional model's config (its
        ``layers``, ``input_layers`` and ``output_layers``) is rebuilt as one when ``cls`` is
        ``Model``; otherwise ``cls(**config)``. Matches Keras 3 ``keras/src/models/model.py``.
        """
        functional = {"layers", "input_layers", "output_layers"} <= set(config)
        if cls is Model and functional:
            from ..saving.model_config import functional_from_config  # noqa: PLC0415
            from .functional import Functional  # noqa: PLC0415

            return functional_from_config(Functional, config, custom_objects)
        return cls(**config)

    # -- saving: thin wrappers over keras.saving (chainrule/keras/saving/) -------------------
    def save(self, filepath, overwrite=True, zipped=True, **kwargs):
        """Save as a Keras 3 ``.keras`` file (see ``keras.saving.save_model``)."""
        from ..saving.saving_lib import save_model  # noqa: PLC0415

        save_model(self, filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    def save_weights(self, filepath, overwrite=True):
        """Save the weights (and optimizer state) to ``*.weights.h5``."""
        from ..saving.saving_lib import save_weights  # noqa: PLC0415

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Load weights from ``*.weights.h5`` or a ``.keras`` file."""
        from ..saving.saving_lib import load_weights  # noqa: PLC0415

        load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def to_json(self, **kwargs):
        """The model's config as a JSON string (``keras.models.model_from_json`` reads it)."""
        from .io import model_to_json  # noqa: PLC0415

        return model_to_json(self, **kwargs)

    def get_compile_config(self):
        """The arguments given to ``compile``, serialised (``{}`` if not compiled, as Keras)."""
        from ..saving.model_config import get_compile_config  # noqa: PLC0415

        return get_compile_config(self)

    def compile_from_config(self, config):
        """Compile from :meth:`get_compile_config`'s output."""
        from ..saving.model_config import compile_from_config  # noqa: PLC0415

        compile_from_config(self, config)
