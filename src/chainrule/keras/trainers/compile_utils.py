"""What ``compile`` holds: the loss for each output and the metrics, resolved on first use
when the shapes of ``y`` and ``y_pred`` are known (Keras 3 ``keras/src/trainers/compile_utils.py``).

Several outputs: ``loss`` and ``loss_weights`` may be one item (used for every output), a list
in output order, or a dict keyed by output name; ``metrics`` a list with one entry per output
or a dict; targets ``y`` a list or a dict keyed the same way. "Output order" is the model's
``output_names`` order, which for a dict of outputs is Keras's sorted key order (see
``models/functional.py`` ``keras_order``), whatever order the dict was written in. Outputs
that nest lists or dicts are refused (not built yet). Per-output losses are logged unweighted as
``<name>_loss`` and metrics as ``<name>_<metric>``, where ``name`` is the dict key for dict
outputs and the output layer's name otherwise (as Keras 3.15.1).
"""

from __future__ import annotations

from ...autodiff.tensor import Tensor
from ...backend import floatx, np

__all__ = ["CompileLoss", "CompileMetrics", "LossTracker"]


class LossTracker:
    """A running mean of scalar losses, in float32 as Keras's ``Mean`` metric keeps it:
    ``total += value * w``, ``count += w``, ``result = total / count``, each rounded to
    float32, with ``w`` the ``sample_weight`` (the batch size in ``fit``) or 1. The logged
    loss is then Keras's to the last digit (a float64 sum differs in the last few).

    Args:
        name: the log key (default "loss").

    Matches Keras 3 ``keras/src/metrics/reduction_metrics.py`` ``Mean`` on scalars.
    """

    def __init__(self, name: str = "loss"):
        self.name = name
        self.reset_state()

    def update_state(self, values, sample_weight=None) -> None:
        v = values.data if isinstance(values, Tensor) else values
        w = 1.0 if sample_weight is None else np.sum(sample_weight)
        self.add(np.mean(v), w)

    def add(self, value, weight) -> None:
        """``total += value * weight`` and ``count += weight`` in float32."""
        # (float32 scalars in, so float32 sums out: NumPy keeps the type, and rounds once)
        w = np.float32(weight)
        self.total = self.total + np.float32(value) * w
        self.count = self.count + w

    def result(self) -> float:
        return float(self.total / self.count) if self.count else 0.0

    def reset_state(self) -> None:
        self.total = np.float32(0.0)
        self.count = np.float32(0.0)

    def __repr__(self):
        return f"<LossTracker name={self.name}>"


def _refuse_nested(y_pred, what):
    """Raise for outputs that nest containers ({"b": [o1, o2], "a": o3}): Keras matches
    losses and targets to their leaves by path (``b/b0_loss``), which is not built here yet,
    and treating ``[o1, o2]`` as one output would give a silently different loss."""
    vals = y_pred.values() if isinstance(y_pred, dict) else (
        y_pred if isinstance(y_pred, (list, tuple)) else ())  # fmt: skip
    if any(isinstance(v, (list, tuple, dict)) for v in vals):
        raise NotImplementedError(
            f"{what} for a model whose outputs nest lists or dicts is not supported yet "
            f"(received outputs of structure {_structure(y_pred)}); return a flat list or dict "
            f"of outputs instead."
        )


def _structure(x):
    if isinstance(x, dict):
        return {k: _structure(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_structure(v) for v in x)
    return "*"


def _split_outputs(y_pred, names):
    """``(outputs list, names list)`` for one output, a list/tuple, or a dict of outputs."""
    if isinstance(y_pred, dict):
        return list(y_pred.values()), list(y_pred)
    outs = list(y_pred) if isinstance(y_pred, (list, tuple)) else [y_pred]
    if names is None or len(names) != len(outs):
        names = [f"output_{i}" for i in range(len(outs))] if len(outs) > 1 else (
            names if names and len(names) == 1 else ["output"])  # fmt: skip
    return outs, list(names)


def _split_targets(y_true, names, what="y"):
    """One target per output, from a single array, a list, or a dict keyed by output name.

    Raises:
        ValueError: a dict without an output's key, or a list of the wrong length.
    """
    if len(names) == 1 and not isinstance(y_true, dict) and not (
            isinstance(y_true, (list, tuple)) and len(y_true) == 1
            and hasattr(y_true[0], "shape")):  # fmt: skip
        return [y_true]  # one output: a plain (nested) list of numbers is one target
    if isinstance(y_true, dict):
        missing = [n for n in names if n not in y_true]
        if missing:
            raise ValueError(
                f"{what} is missing the target for output {missing[0]!r}: the model's outputs "
                f"are {names}, received keys {list(y_true)}"
            )
        return [y_true[n] for n in names]
    ys = list(y_true) if isinstance(y_true, (list, tuple)) else [y_true]
    if len(ys) != len(names):
        raise ValueError(
            f"{what} must hold one target per output: the model has {len(names)} output(s) "
            f"{names}, received {len(ys)}"
        )
    return ys


def _match(struct, names, what):
    """A per-output list from a single item, a list, or a dict keyed by output name."""
    if isinstance(struct, dict):
        unknown = [k for k in struct if k not in names]
        if unknown:
            raise ValueError(
                f"{what} has keys {unknown} that are not output names; outputs are {names}"
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


def _batch(y):
    shape = np.shape(y.data if isinstance(y, Tensor) else y)
    return shape[0] if shape else 1


class CompileLoss:
    """The total training loss: ``sum(loss_weight_i * loss_i(y_i, y_pred_i, sample_weight))``.

    With more than one loss, each one's unweighted value is tracked as ``<name>_loss``
    (``metrics``), averaged over samples.
    """

    def __init__(self, loss, loss_weights=None, output_names=None):
        self.loss = loss
        self.loss_weights = loss_weights
        self.output_names = output_names
        self._built = None  # list of (loss object or None, weight) per output
        self._names = None
        self.metrics = []

    def build(self, y_true, y_pred):
        _refuse_nested(y_pred, "compile(loss=...)")
        outs, names = _split_outputs(y_pred, self.output_names)
        if len(outs) == 1 and not isinstance(self.loss, (list, tuple, dict)):
            losses_ = [self.loss]
        else:
            losses_ = _match(self.loss, names, "loss")
        if self.loss_weights is None:
            weights = [1.0] * len(outs)
        elif len(outs) == 1 and not isinstance(self.loss_weights, (list, tuple, dict)):
            weights = [self.loss_weights]
        else:
            weights = _match(self.loss_weights, names, "loss_weights")
        ys = _split_targets(y_true, names)
        built = []
        for ident, w, yt, yp in zip(losses_, weights, ys, outs, strict=True):
            built.append((None if ident is None else _resolve_loss(ident, yt, yp),
                          1.0 if w is None else float(w)))  # fmt: skip
        self._built = built
        self._names = names
        active = [n for (fn, _), n in zip(built, names, strict=True) if fn is not None]
        self.metrics = [LossTracker(f"{n}_loss") for n in active] if len(active) > 1 else []

    def __call__(self, y_true, y_pred, sample_weight=None):
        if self._built is None:
            self.build(y_true, y_pred)
        if len(self._built) == 1:
            fn, w = self._built[0]
            if type(y_pred) is Tensor and type(y_true) is np.ndarray:  # the common case
                loss = _as_floatx(fn(y_true, y_pred, sample_weight))
                return loss if w == 1.0 else loss * w
            if isinstance(y_true, (list, tuple, dict)) or isinstance(y_pred, (list, tuple, dict)):
                outs, names = _split_outputs(y_pred, self._names)
                y_true, y_pred = _split_targets(y_true, names)[0], outs[0]
            loss = _as_floatx(fn(y_true, y_pred, sample_weight))
            return loss if w == 1.0 else loss * w
        outs, names = _split_outputs(y_pred, self._names)
        ys = _split_targets(y_true, names)
        if isinstance(sample_weight, dict):
            sws = [sample_weight.get(n) for n in names]
        elif isinstance(sample_weight, (list, tuple)):
            sws = list(sample_weight)
        else:
            sws = [sample_weight] * len(outs)
        total = None
        trackers = iter(self.metrics)
        for (fn, w), yt, yp, sw in zip(self._built, ys, outs, sws, strict=True):
            if fn is None:
                continue
            value = _as_floatx(fn(yt, yp, sw))
            tracker = next(trackers, None)
            if tracker is not None:
                tracker.update_state(value, sample_weight=_batch(yp))
            term = value * w if w != 1.0 else value
            total = term if total is None else total + term
        return total


def _as_floatx(loss):
    """Each loss in ``floatx()``, as Keras's ``CompileLoss`` casts it: a float16 or float64
    loss adds into a float32 total. (Fit's array step leaves the cast out: it changes neither
    the tracked value, rounded to float32 anyway, nor the gradient, cast back.)"""
    if isinstance(loss, Tensor) and loss.data.dtype != floatx():
        from ... import ops  # noqa: PLC0415 - only for a loss of another dtype

        return ops.astype(loss, floatx())
    return loss


class CompileMetrics:
    """The metrics given to ``compile`` (Keras's ``compile_metrics`` container): updated with
    NumPy arrays after each batch; ``result()`` is a dict of every metric's value."""

    def __init__(self, metrics, weighted_metrics=None, loss=None, output_names=None):
        self.name = "compile_metrics"
        self.metrics_arg = metrics
        self.weighted_arg = weighted_metrics
        self.loss = loss
        self.output_names = output_names
        self._built = None  # list of (metric, output index, weighted)
        self._names = None
        self._log_names = []  # each built metric's key in the logs

    @property
    def metrics(self):
        return [m for m, _, _ in (self._built or [])]

    def build(self, y_true, y_pred):
        from .. import metrics as metrics_mod  # noqa: PLC0415

        if self.metrics_arg or self.weighted_arg:
            _refuse_nested(y_pred, "compile(metrics=...)")
        outs, names = _split_outputs(y_pred, self.output_names)
        multi = len(outs) > 1
        ys = _split_targets(y_true, names)
        losses_ = _match(self.loss, names, "loss") if multi else [self.loss]
        built = []
        for arg, weighted in ((self.metrics_arg, False), (self.weighted_arg, True)):
            if not arg:
                continue
            what = "weighted_metrics" if weighted else "metrics"
            if multi and isinstance(arg, (list, tuple)) and len(arg) != len(outs):
                # Keras 3 reads a list as one entry per output (no longer every metric on
                # every output, as tf.keras 2 did), and refuses any other length
                raise ValueError(
                    f"{what} for a model with {len(outs)} outputs {names} must be a list with "
                    f"one entry per output (a metric, a list of metrics, or None) or a dict "
                    f"keyed by output name; received a list of {len(arg)}: {arg!r}. For the "
                    f"same metrics on every output pass {[list(arg)] * len(outs)!r}."
                )
            per_output = _match(arg, names, what) if multi and isinstance(
                arg, (dict, list, tuple)) else [arg] * (1 if not multi else len(outs))  # fmt: skip
            for i, items in enumerate(per_output):
                if items is None:
                    continue
                for ident in items if isinstance(items, (list, tuple)) else [items]:
                    m = metrics_mod.resolve(ident, ys[i], outs[i], loss=losses_[i])
                    # a metric object given to compile starts from nothing, as Keras's fit
                    # and evaluate reset it before its first update (not another model's)
                    m.reset_state()
                    built.append((m, i, weighted))
        self._built = built
        self._names = names
        self._log_names = _log_names(built, names if multi else None)

    def update_state(self, y_true, y_pred, sample_weight=None):
        if self._built is None:
            self.build(y_true, y_pred)
        if not self._built:
            return
        outs, names = _split_outputs(y_pred, self._names)
        outs = [o.data if isinstance(o, Tensor) else o for o in outs]
        ys = _split_targets(y_true, names)
        for m, i, weighted in self._built:
            sw = sample_weight
            if isinstance(sw, dict):
                sw = sw.get(names[i])
            elif isinstance(sw, (list, tuple)):
                sw = sw[i]
            m.update_state(ys[i], outs[i], sw if weighted else None)

    def reset_state(self):
        for m in self.metrics:
            m.reset_state()

    def result(self):
        return {name: m.result() for name, (m, _, _) in zip(self._log_names, self._built or [])}


def _log_names(built, output_names):
    """The log key of each built metric, as Keras's ``CompileMetrics.result`` names them: the
    metric's own name, prefixed ``<output>_`` for a model of several outputs; a repeated name
    gets ``_1``, ``_2``...; a weighted metric whose name is taken is ``[<output>_]weighted_<name>``
    (then numbered). The metrics keep their own names (``m.name``), as in Keras."""
    counts: dict = {}
    keys = []
    for m, i, weighted in built:
        prefix = f"{output_names[i]}_" if output_names else ""
        name = prefix + m.name
        if name in counts and weighted:
            name = f"{prefix}weighted_{m.name}"
        if name in counts:
            counts[name] += 1
            name = f"{name}_{counts[name] - 1}"
        else:
            counts[name] = 1
        keys.append(name)
    return keys
