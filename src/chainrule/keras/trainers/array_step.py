"""Fit's array step: a training step of a plain stack of layers run on arrays.

NOTE: for speed. On a small model, a step of ``fit`` is mostly Python overhead: each layer
call, each primitive (a Tensor and a graph node apiece), the loss's wrappers and the
backward walk. When every layer of a ``Sequential`` has an array form (``direct_calls.
array_form``: the primitives its ``call`` applies), the step runs those primitives' own
functions and gradient rules on the arrays, on an ``autodiff.tape.ArrayTape``, and so the
loss too when it has a one-node form (``losses.loss.register_fast_mean``: mean squared error,
sparse cross-entropy from logits) or per-sample values that are one primitive on the
prediction, averaged with ``ops.mean`` (binary and categorical cross-entropy on
probabilities). Any other loss runs its own code on the prediction's Tensor, and the tape
carries on from the gradient ``grad`` gives there (``_loss_through_values``). The numbers are
the ordinary step's bit for bit (tested): the same functions in the same order, the
gradients added up in the engine's order.

It stands in for ``train_step``'s forward, loss and ``grad`` only when they would do nothing
else. Otherwise (or when anything in it raises: the ordinary step then reports it) the
ordinary step runs, and it does whenever:

- the model's class or the model itself has its own ``__call__``, ``call``, ``_run_stack``,
  ``_counted_call`` or ``compute_loss``, or ``model.run_eagerly`` is true or
  ``model.jit_compile`` false (``compile``'s arguments, settable afterwards, as in Keras);
- the model has not yet been called in training on inputs of this shape and dtype through
  every layer's ``__call__`` with nothing for ``__call__`` to do (``layers/direct_calls.py``
  records such calls; the first step of a fit is one);
- a layer has no array form, its class's ``call`` is not the one the form mirrors, its
  form returns None (an activation that is not one primitive: ``activations.ARRAY_OPS``), a
  weight it reads is computed by ops rather than a leaf ``Variable``, or the model adds
  losses (``add_loss``, regularizers);
- the loss is not a single compiled ``LossFunctionWrapper`` of weight 1, there is a
  ``sample_weight`` (or ``class_weight``), ``x`` or ``y`` is not a NumPy array, gradients are
  off, or the optimizer scales the loss.

What the ordinary step would look up on every step (the model's, the losses' and each
layer's methods, on their classes and on the objects; what a layer's array form reads, such as
its activation and weights; ``run_eagerly`` and ``jit_compile``) the array step looks up on
every step too.
"""

from __future__ import annotations

from itertools import chain
from operator import is_
from types import FunctionType

from ... import ops
from ...autodiff.engine import grad, owned_results, scalar_seed
from ...autodiff.grad_mode import STATE as _GRAD_STATE
from ...autodiff.tape import ArrayTape
from ...autodiff.tensor import Tensor
from ...backend import np
from ..layers.direct_calls import record_key
from ..layers.layer import Layer
from ..losses.loss import _WRAPPER_CALL, Loss, LossFunctionWrapper, reduce_weighted_values
from .compile_utils import CompileLoss, CompileMetrics, LossTracker
from .data_adapter import ArrayBatches

__all__ = ["eligible", "is_own", "run", "sealed_steps"]

# The methods the array step stands in for, as chainrule defines them, taken when chainrule is
# imported (before anything can patch them): the model's (set in models/sequential.py) and
# the losses'.
STANDS_IN_FOR: dict = {}
_COMPILE_LOSS_CALL = CompileLoss.__call__
_LOSS_CALL = LossFunctionWrapper.__call__
_FAST_MEAN = LossFunctionWrapper._fast_mean
_VALUES = LossFunctionWrapper._values
_LOSS_BASE_CALL = Loss.__call__  # what LossFunctionWrapper.__call__ falls back to
_WAITING = object()  # a plan not made yet: the model has no record of such a call yet
# The model's methods a step calls (set in models/sequential.py), checked at a sealed epoch's
# start: a class or object with its own runs code that is not chainrule's.
SEALED_CALLS: dict = {}


def eligible(model) -> bool:
    """Whether ``model`` is a ``Sequential`` (made once per fit cache; what can change during
    a fit is checked on every step)."""
    from ..models.sequential import Sequential  # noqa: PLC0415 - models import trainers

    return isinstance(model, Sequential)


def run(model, cache, x, y, sample_weight) -> bool:
    """One training step as ``Trainer.train_step`` takes it, on arrays; False (having changed
    nothing) when the ordinary step must run instead."""
    if (sample_weight is not None or type(x) is not np.ndarray or type(y) is not np.ndarray
            or model.run_eagerly or not model.jit_compile):  # fmt: skip
        return False
    kind = (x.shape, x.dtype, y.shape, y.dtype)
    plan = cache.array_plans.get(kind)
    if plan is None or plan is _WAITING:
        made = _Plan.make(model, cache, x)
        if made is None:
            # not yet: the ordinary step records the layers' direct calls. After one such
            # step with still no record, there will be none (a layer's __call__ has work).
            cache.array_plans[kind] = False if plan is _WAITING else _WAITING
            return False
        plan = cache.array_plans[kind] = made
    if (not plan or model._compile_loss is not plan.compiled or not _GRAD_STATE.enabled
            or model.optimizer.loss_scale_factor is not None or not plan.kept()):  # fmt: skip
        return False
    return _step(model, cache, plan, kind, x, y, None)


def _step(model, cache, plan, kind, x, y, rule_only) -> bool:
    """The step itself, once its guards have passed: ``run``'s on every step (``rule_only``
    None: the optimizer is called through the fit cache), or a sealed epoch's at its start
    (the optimizer's ``_fit_update``, with ``rule_only`` as ``Optimizer._rule_only`` said
    then). False, having changed nothing, when the ordinary step must run instead."""
    tape = ArrayTape()
    h, h_grad = x, False
    try:
        if not plan.as_is:
            h = model._checked_input(x)
        for layer, form in plan.layers:
            specs = form(layer, h)
            if specs is None:
                cache.array_plans[kind] = False
                return False
            slot = h
            for primitive, args, kwargs in specs:
                h, h_grad = tape.apply(primitive, args, kwargs, slot, h, h_grad)
        y_pred = Tensor._wrap(h, h_grad)
        spec = plan.loss_fn._fast_mean(y, y_pred, None)
        if spec is not None:
            primitive, args, kwargs = spec
            loss, loss_grad = tape.apply(primitive, args, kwargs, y_pred, h, h_grad)
    except Exception:  # noqa: BLE001 - the ordinary step raises it, in context
        cache.array_plans[kind] = False
        return False
    if spec is None:
        loss = _loss_through_values(plan.loss_fn, tape, y, y_pred)
    elif not loss_grad or loss.ndim:
        cache.array_plans[kind] = False
        return False
    model._track_loss(loss, x.shape[0] if x.ndim else 1)  # (trainer_utils._batch_len)
    # (a loss on the graph: grad after the tracking, as the ordinary step, for the same errors)
    g = grad(loss, [y_pred])[0] if isinstance(loss, Tensor) else scalar_seed(loss.dtype)
    missing = []
    grads = owned_results(cache.trainable, cache.keys, tape.backward(g), g, missing)
    if rule_only is None or missing:
        cache.apply(grads, missing)
    else:
        cache.optimizer._fit_update(grads, cache.trainable, rule_only)
    if model._compile_metrics is not None:
        model._compile_metrics.update_state(y, y_pred, None)
    return True


def sealed_steps(model, cache, batches, steps, quiet=False):
    """Take what it can of ``steps`` (the epoch's ``enumerate(batches)``, none taken yet) as
    sealed array steps, and return what is left for fit's ordinary loop.

    NOTE: for speed. ``run`` checks on every step what could have changed since the last one
    (the methods and attributes above, the optimizer's extras). Between two steps of a fit
    with no batch-level callback only the step's own code runs, and when all of it is
    chainrule's, none of that can change within the epoch. So fit asks here, at each epoch's
    start when no callback has batch hooks, whether it is:

    - the batches are rows of in-memory arrays with no sample weights (``ArrayBatches``);
    - the model's methods a step calls are chainrule's (``SEALED_CALLS``), and so are the
      classes of the loss, the layers, the metrics, the optimizer and a learning-rate
      schedule, with no method set on the object (:func:`is_own`), nor on the model's loss
      tracker and metrics container; the loss and the metrics wrap chainrule's functions;
    - no variable has a constraint, and the optimizer's ``apply`` would do no more than its
      update (``Optimizer._fit_skips_apply``);
    - ``run``'s own checks pass for the plans of the batches' kinds.

    (Nor when ``model.stop_training`` is already set: the ordinary loop takes one step.)
    The steps then run without the per-step checks, and the optimizer updates through
    ``Optimizer._fit_update`` without ``apply``'s: the same functions on the same arrays as
    ``run``'s steps (tested bit for bit). A step that cannot be taken (a kind of batch with no
    plan yet, a layer form or a loss that refuses) goes back to the ordinary loop with the
    rest of the epoch.

    With ``quiet`` (fit found that only chainrule's code runs between two epochs: no callback
    but its ``History``, a model of chainrule's class with no method of its own, validation
    on arrays), the verdict of an epoch whose steps were all sealed holds for the next epochs
    and is not asked again. Not looked for: other threads, and chainrule's own classes
    patched in place (the model's, the optimizer's, the metrics' and the schedules'; their
    methods run as they are, but what a patch changes in the model is seen only when the
    verdict is next asked).
    """
    if model.stop_training:
        # (set before the epoch, by on_epoch_begin: the ordinary loop takes one step, then
        # stops; nothing in a sealed epoch can set it, so it is asked here only)
        return steps
    plans = cache.sealed or _sealed_plans(model, cache, batches)
    if plans:
        cache.sealed = None
        rule_only = cache.optimizer._rule_only()
        for step, data in steps:
            x, y = data
            kind = (x.shape, x.dtype, y.shape, y.dtype)
            plan = plans.get(kind)
            if plan is None or not _step(model, cache, plan, kind, x, y, rule_only):
                return chain(((step, data),), steps)
        if quiet:
            cache.sealed = plans  # (every step sealed, and only chainrule's code until the next)
    return steps


def _sealed_plans(model, cache, batches):
    """The plans a sealed epoch may run (by kind of batch), or None (``sealed_steps``)."""
    opt = cache.optimizer
    rate = opt._learning_rate
    metrics = model._compile_metrics
    cls, attrs = type(model), vars(model)
    if (type(batches) is not ArrayBatches or batches.sample_weight is not None
            or type(batches.x) is not np.ndarray or type(batches.y) is not np.ndarray
            or model.run_eagerly or not model.jit_compile or not _GRAD_STATE.enabled
            or cache.constrained or cache._apply is None or opt.loss_scale_factor is not None
            or not opt._fit_skips_apply(cache.trainable) or not is_own(opt)
            or (callable(rate) and not is_own(rate))
            or type(model._loss_tracker) is not LossTracker or not is_own(model._loss_tracker)
            or not all(getattr(cls, name) is fn and name not in attrs
                       for name, fn in SEALED_CALLS.items())):  # fmt: skip
        return None
    if metrics is not None and (type(metrics) is not CompileMetrics or not is_own(metrics)
                                or metrics._built is None
                                or not all(is_own(m) and _own_function(getattr(m, "_fn", None))
                                           for m in metrics.metrics)):  # fmt: skip
        return None
    compiled = model._compile_loss
    plans = {}
    for kind, plan in cache.array_plans.items():
        if not plan or plan is _WAITING or plan.compiled is not compiled or not plan.kept():
            continue
        loss_fn = plan.loss_fn
        if (not is_own(loss_fn) or type(loss_fn).call is not _WRAPPER_CALL
                or not _own_function(loss_fn.fn)
                or not all(_own_class(type(layer)) for layer, _ in plan.layers)):  # fmt: skip
            return None
        plans[kind] = plan
    return plans


_METHOD_NAMES: dict = {}  # class -> the names of its methods and properties (None: not own)


def _own_class(cls) -> bool:
    return _method_names(cls) is not None


def _method_names(cls):
    names = _METHOD_NAMES.get(cls, _WAITING)
    if names is _WAITING:
        names = None
        if (getattr(cls, "__module__", None) or "").startswith("chainrule."):
            found = ((name, getattr(cls, name, None)) for name in dir(cls))
            names = frozenset(name for name, v in found if callable(v) or isinstance(v, property))
        names = _METHOD_NAMES[cls] = names
    return names


def is_own(obj) -> bool:
    """Whether ``obj``'s methods are chainrule's: its class is defined in chainrule and the
    object has none of its own (an attribute of a method's or property's name)."""
    names = _method_names(type(obj))
    return names is not None and getattr(obj, "__dict__", {}).keys().isdisjoint(names)


def _own_function(fn) -> bool:
    """Whether ``fn`` is None or a function defined in chainrule."""
    return fn is None or (type(fn) is FunctionType
                          and (fn.__module__ or "").startswith("chainrule."))  # fmt: skip


def _loss_through_values(loss_fn, tape, y, y_pred):
    """The loss of a step whose loss has no one-node form: its own code runs now, once, on
    ``y_pred`` (``Loss._values``, what ``Loss.__call__`` runs), and from here the step does
    not fall back (a loss may draw random numbers or count its calls).

    When the per-sample values are one graph node applied to ``y_pred`` itself (binary or
    categorical cross-entropy on probabilities) and ``Loss.__call__`` would average them with
    ``ops.mean`` (no mask, a "sum_over_batch_size" or "mean" reduction, at least one value:
    ``reduce_values``), that node and the mean go on the tape: a 0-d array is returned.
    Otherwise the loss is reduced as ``Loss.__call__`` reduces it, on the graph built on
    ``y_pred``: a Tensor is returned, and ``grad`` at ``y_pred`` gives the gradient the tape
    carries on from (the same sums in the same order as the ordinary step's one walk)."""
    cast, values, mask = loss_fn._values(y, y_pred)
    node = values._node
    if (cast is y_pred and mask is None and node is not None and len(node.parents) == 1
            and node.parents[0][1] is y_pred and values.data.ndim and values.data.size
            and values.data.dtype == np.float32
            and loss_fn.reduction in ("sum_over_batch_size", "mean")):  # fmt: skip
        tape.record(node.op, node.parents[0][0], node.out, node.args, node.kwargs)
        rows = node.out
        return tape.apply(ops.mean, (rows,), {}, rows, rows, True)[0]
    return reduce_weighted_values(values, None, mask, loss_fn.reduction)


class _Plan:
    """What every array step on batches of one kind (the shapes and dtypes of ``x`` and
    ``y``) reuses within a fit; the fit cache, and its plans, are made again when
    ``GENERATION`` moves."""

    __slots__ = ("compiled", "loss_fn", "layers", "as_is", "_owners", "_names", "_methods",
                 "_dicts")  # fmt: skip

    @classmethod
    def make(cls, model, cache, x):
        """The plan for batches like ``x``; False when their steps must be ordinary ones;
        None when the model has not yet made a direct call on such inputs (the records of
        ``layers/direct_calls.py``)."""
        compiled = model._compile_loss
        built = None if compiled is None else compiled._built
        if built is None:
            return None
        if (not cache.lossless or not cache.trainable or len(built) != 1
                or built[0][1] != 1.0
                or not isinstance(built[0][0], LossFunctionWrapper)):  # fmt: skip
            return False
        try:
            checked = model._checked_input(x)
        except Exception:  # noqa: BLE001 - the ordinary step raises it, in context
            return False
        steps = model._call_records().get(record_key((checked,), True))
        if steps is None:
            return None
        plan = cls()
        plan.compiled, plan.loss_fn, plan.as_is = compiled, built[0][0], checked is x
        layers = []
        # (object, method name, chainrule's own method) for every method the ordinary step
        # would look up in place of the array step's work: on the object's class, and not
        # set on the object itself (its __dict__)
        checks = [(model, name, fn) for name, fn in STANDS_IN_FOR.items()]
        checks += [(compiled, "__call__", _COMPILE_LOSS_CALL),
                   (plan.loss_fn, "__call__", _LOSS_CALL),
                   (plan.loss_fn, "_fast_mean", _FAST_MEAN),
                   (plan.loss_fn, "_values", _VALUES)]  # fmt: skip
        for layer, *_ in steps:
            kind = type(layer)
            form = getattr(kind, "_array_ops", None)
            if getattr(form, "mirrors", None) is None:
                return False
            layers.append((layer, form))
            checks += [(layer, "_array_ops", form), (layer, "call", form.mirrors),
                       (layer, "__call__", Layer.__call__),
                       (layer, "_counted_call", Layer._counted_call),
                       (layer, "_call_and_regularize", Layer._call_and_regularize)]  # fmt: skip
        plan.layers = tuple(layers)
        plan._owners = (Loss, *(type(obj) for obj, _, _ in checks))
        plan._names = ("__call__", *(name for _, name, _ in checks))
        plan._methods = (_LOSS_BASE_CALL, *(fn for _, _, fn in checks))
        plan._dicts = ({}, *(vars(obj) for obj, _, _ in checks))  # (Loss: the class only)
        return plan if plan.kept() else False

    def kept(self) -> bool:
        """Whether every method the ordinary step would run is still chainrule's own (the
        class's, not one set on the object). Checked on every step, as the ordinary step looks
        them up on every call; ``map`` runs the checks without a Python-level loop."""
        # (by identity: a patch may define __eq__, even one that says it equals ours)
        return all(map(is_, map(getattr, self._owners, self._names), self._methods)) and not any(
            map(dict.__contains__, self._dicts, self._names)
        )
