"""What ``Trainer`` uses besides its methods: argument checks, the per-fit cache of what each
training step reads, the conversion of predictions and logs (Keras 3
``keras/src/trainers/trainer.py`` and ``keras/src/trainers/epoch_iterator.py``)."""

from __future__ import annotations

import numbers

from ...autodiff.tensor import Tensor
from ...backend import floatx, np
from . import array_step
from . import data_adapter as da


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {expected}, received {name}={value!r}")
    return int(value)


def _batch_size_arg(batch_size, steps):
    """The validated ``batch_size``: 32 by default, or None when only ``steps`` is given,
    meaning ``ceil(num_samples / steps)`` once the data's size is known (as Keras's array
    adapter)."""
    if batch_size is None:
        return None if steps is not None else 32
    return _check_int("batch_size", batch_size, 1)


def _verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2, True, False):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, received verbose={verbose!r}")
    return int(verbose)


def _pythonify_logs(logs):
    """``logs`` with each value a Python float (or an array, for several elements), nested
    dicts kept nested and keys in their order; the callbacks flatten them as Keras does."""
    out = {}
    for k, v in logs.items():
        if isinstance(v, dict):
            out[k] = _pythonify_logs(v)
            continue
        if isinstance(v, Tensor):
            v = v.data
        out[k] = float(v) if np.size(v) == 1 else np.asarray(v)
    return out


def _merge_outputs(outs):
    """The per-batch outputs of ``predict`` joined along the batch axis."""
    first = outs[0]
    if isinstance(first, np.ndarray):
        return outs[0] if len(outs) == 1 else np.concatenate(outs, axis=0)
    if isinstance(first, dict):
        return {k: np.concatenate([o[k] for o in outs]) for k in first}
    return type(first)(np.concatenate([o[i] for o in outs]) for i in range(len(first)))


def _to_numpy(t):
    """A C-contiguous array, as Keras returns (a convolution's output is a strided view)."""
    return np.asarray(t.numpy() if isinstance(t, Tensor) else t, order="C")


def _unshared(out, x):
    """``out`` with every array that may share memory with an input array copied: Keras
    hands back new arrays, and a model of Identity or Flatten layers would otherwise return
    (a view of) the caller's own data."""
    xs = [a for a in da.tree_flatten(x) if isinstance(a, np.ndarray)]
    return da.tree_map(lambda a: a.copy() if any(np.may_share_memory(a, b) for b in xs)
                       else a, out)  # fmt: skip


class _FitCache:
    """What the steps of one ``fit`` call read from the model: the trainable variables (built
    into the optimizer), those with constraints, and the layers that can add losses. Read once
    instead of walking the layers on every step, and read again when :meth:`stale` says the
    layer tree or the optimizer changed (``keras.variables.GENERATION``)."""

    __slots__ = ("model", "trainable", "keys", "constrained", "loss_layers", "regs", "plain",
                 "lossless", "optimizer", "_apply", "generation", "_gen", "array",
                 "array_plans", "sealed")  # fmt: skip

    def __init__(self, model):
        from ..layers import layer as layer_module  # noqa: PLC0415 - layers import this module

        Layer = layer_module.Layer
        self._gen = layer_module.GENERATION
        self.generation = self._gen[0]
        self.model = model
        self.trainable = model.trainable_weights
        self.optimizer = model.optimizer
        self.optimizer.build(self.trainable)
        self.constrained = [v for v in self.trainable if getattr(v, "_constraint", None)]
        # Keras's order (`Layer.losses`): the add_loss terms layer by layer, then the weight
        # regularizers of the trainable weights. A model class that overrides `losses` is
        # asked through the property on every step. No term at all: nothing to add all fit.
        self.plain = type(model).losses is Layer.losses
        self.regs = model._weight_regularizers(self.trainable)
        self.loss_layers = [la for la in model._flatten_layers()
                            if la._adds_losses or la.activity_regularizer is not None]  # fmt: skip
        self.lossless = self.plain and not self.loss_layers and not self.regs
        index = getattr(self.optimizer, "_index", None) or {}
        known = all(id(v) in index for v in self.trainable)  # else apply() raises, naming it
        self._apply = getattr(self.optimizer, "_apply_from_fit", None) if known else None
        # fit's array step (array_step.py): whether the model may take it, the trainable
        # variables' keys in the gradients it finds, and its plans per kind of batch
        self.array = array_step.eligible(model)
        self.keys = [id(v) for v in self.trainable]
        self.array_plans = {}
        self.sealed = None  # the plans of a fully sealed epoch (array_step.sealed_steps)

    def stale(self, model) -> bool:
        """True when a step must not use this cache: the layer tree or a ``trainable`` flag
        changed (``GENERATION`` moved), or the model has another optimizer."""
        return self._gen[0] != self.generation or model.optimizer is not self.optimizer

    def losses(self):
        """``model.losses``, read from the layers found when the cache was made."""
        if not self.plain:
            return self.model.losses
        out = []
        for la in self.loss_layers:
            if la._losses:
                out.extend(la._losses)
        if self.regs:
            out.extend(reg(var) for reg, var in self.regs)
        return out

    def apply(self, grads, missing=()):
        """The optimizer's update; ``missing``: the indices of variables the loss does not
        depend on, which ``Optimizer.apply`` skips with Keras's warning (their gradient is
        None, as on Keras's torch backend, not zero: a zero would still move them through
        momentum or weight decay)."""
        if missing:
            grads = list(grads)
            for i in missing:
                grads[i] = None
            self.optimizer.apply(grads, self.trainable)
        elif self._apply is not None:
            self._apply(grads, self.trainable)
        else:
            self.optimizer.apply(grads, self.trainable)
        if self.constrained:
            self.model._apply_constraints(self.constrained)


def _aggregate_loss(loss):
    """Keras's ``_aggregate_additional_loss``: ``ops.sum`` of a term, cast to float32 first
    when it is not a float (a Python number is added as it is)."""
    if isinstance(loss, numbers.Number):
        return loss
    from ... import ops  # noqa: PLC0415 - only for a non-scalar or integer term

    if np.dtype(loss.dtype).kind != "f":
        loss = ops.astype(loss, floatx())
    return ops.sum(loss) if np.ndim(loss.data if isinstance(loss, Tensor) else loss) else loss


def _batch_len(x):
    if type(x) is np.ndarray and x.ndim:
        return x.shape[0]
    first = da.tree_flatten(x)[0]
    return first.shape[0] if hasattr(first, "shape") and len(first.shape) else 1
