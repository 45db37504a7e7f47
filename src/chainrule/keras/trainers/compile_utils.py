"""What ``compile`` holds: the loss for each output and the metrics, resolved on first use
when the shapes of ``y`` and ``y_pred`` are known (Keras 3 ``keras/src/trainers/compile_utils.py``).
"""

from __future__ import annotations

from ...autodiff.tensor import Tensor
from ...backend import np

__all__ = ["CompileLoss", "CompileMetrics"]


def _outputs_as_list(y_pred):
    return list(y_pred) if isinstance(y_pred, (list, tuple)) else [y_pred]


def _match(struct, names, what):
    """A per-output list from a single item, a list, or a dict keyed by output name."""
    if isinstance(struct, dict):
        missing = [k for k in struct if k not in names]
        if missing:
            raise ValueError(
                f"{what} has keys {missing} that are not output names; outputs are {names}"
            )
        return [struct.get(n) for n in names]
    if isinstance(struct, (list, tuple)):
        if len(struct) != len(names):
            raise ValueError(
                f"{what} has {len(struct)} entries but the model has {len(names)} outputs "
                f"{names}"
            )
        return list(struct)
    return [struct] * len(names)


def _resolve_loss(identifier, y_true, y_pred):
    from .. import losses  # noqa: PLC0415

    if isinstance(identifier, str) and identifier in ("crossentropy", "ce"):
        yp = np.shape(y_pred)
        yt = np.shape(y_true)
        if yp and yp[-1] == 1:
            identifier = "binary_crossentropy"
        elif len(yt) < len(yp) or (yt and yt[-1] == 1 and yp[-1] > 1):
            identifier = "sparse_categorical_crossentropy"
        else:
            identifier = "categorical_crossentropy"
    return losses.get(identifier)


class CompileLoss:
    """The total training loss: ``sum(loss_weight_i * loss_i(y_i, y_pred_i, sample_weight))``."""

    def __init__(self, loss, loss_weights=None, output_names=None):
        self.loss = loss
        self.loss_weights = loss_weights
        self.output_names = output_names
        self._built = None  # list of (loss object, weight) per output

    def build(self, y_true, y_pred):
        outs = _outputs_as_list(y_pred)
        names = self.output_names or [f"output_{i}" for i in range(len(outs))]
        if len(outs) == 1 and not isinstance(self.loss, (list, tuple, dict)):
            losses_ = [self.loss]
        else:
            losses_ = _match(self.loss, names, "loss")
        weights = [1.0] * len(outs) if self.loss_weights is None else _match(
            self.loss_weights, names, "loss_weights")  # fmt: skip
        ys = _outputs_as_list(y_true) if len(outs) > 1 else [y_true]
        if isinstance(y_true, dict):
            ys = [y_true[n] for n in names]
        built = []
        for ident, w, yt, yp in zip(losses_, weights, ys, outs):
            built.append((None if ident is None else _resolve_loss(ident, yt, yp),
                          1.0 if w is None else float(w)))  # fmt: skip
        self._built = built

    def __call__(self, y_true, y_pred, sample_weight=None):
        if self._built is None:
            self.build(y_true, y_pred)
        if len(self._built) == 1:
            fn, w = self._built[0]
            loss = fn(y_true, y_pred, sample_weight)
            return loss if w == 1.0 else loss * w
        outs = _outputs_as_list(y_pred)
        names = self.output_names or [f"output_{i}" for i in range(len(outs))]
        ys = [y_true[n] for n in names] if isinstance(y_true, dict) else list(y_true)
        sws = sample_weight if isinstance(sample_weight, (list, tuple)) else (
            [sample_weight[n] for n in names] if isinstance(sample_weight, dict)
            else [sample_weight] * len(outs))  # fmt: skip
        total = None
        for (fn, w), yt, yp, sw in zip(self._built, ys, outs, sws):
            if fn is None:
                continue
            term = fn(yt, yp, sw) * w
            total = term if total is None else total + term
        return total


class CompileMetrics:
    """The metrics given to ``compile``, updated with NumPy arrays after each batch."""

    def __init__(self, metrics, weighted_metrics=None, loss=None, output_names=None):
        self.metrics_arg = metrics
        self.weighted_arg = weighted_metrics
        self.loss = loss
        self.output_names = output_names
        self._built = None  # list of (metric, output index, weighted)

    @property
    def metrics(self):
        return [m for m, _, _ in (self._built or [])]

    def build(self, y_true, y_pred):
        from .. import metrics as metrics_mod  # noqa: PLC0415

        outs = _outputs_as_list(y_pred)
        multi = len(outs) > 1
        names = self.output_names or [f"output_{i}" for i in range(len(outs))]
        ys = (_outputs_as_list(y_true) if not isinstance(y_true, dict)
              else [y_true[n] for n in names]) if multi else [y_true]  # fmt: skip
        losses_ = _match(self.loss, names, "loss") if multi else [self.loss]
        built = []
        for arg, weighted in ((self.metrics_arg, False), (self.weighted_arg, True)):
            if not arg:
                continue
            per_output = _match(arg, names, "metrics") if multi and (
                isinstance(arg, dict) or (isinstance(arg, (list, tuple)) and arg
                                          and isinstance(arg[0], (list, tuple, type(None))))
            ) else [arg] * (1 if not multi else len(outs))  # fmt: skip
            for i, items in enumerate(per_output):
                if items is None:
                    continue
                for ident in items if isinstance(items, (list, tuple)) else [items]:
                    m = metrics_mod.resolve(ident, ys[i], outs[i], loss=losses_[i])
                    if multi:
                        m.name = f"{names[i]}_{m.name}"
                    if weighted:
                        m.name = f"weighted_{m.name}" if not self.metrics_arg else m.name
                    built.append((m, i, weighted))
        self._built = built

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self._built is None:
            self.build(y_true, y_pred)
        if not self._built:
            return
        outs = [o.data if isinstance(o, Tensor) else o for o in _outputs_as_list(y_pred)]
        names = self.output_names or [f"output_{i}" for i in range(len(outs))]
        if len(outs) == 1:
            ys = [y_true]
        elif isinstance(y_true, dict):
            ys = [y_true[n] for n in names]
        else:
            ys = list(y_true)
        for m, i, weighted in self._built:
            m.update_state(ys[i], outs[i], sample_weight if weighted else None)

    def reset_state(self):
        for m in self.metrics:
            m.reset_state()

    def result(self):
        return {m.name: m.result() for m in self.metrics}
