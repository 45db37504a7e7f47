"""Fit's array step: a training step of a plain stack of layers run on arrays.

NOTE: for speed. On a small model, a step of ``fit`` is mostly Python overhead: each layer
call, each primitive (a Tensor and a graph node apiece), the loss's wrappers and the
backward walk. When every layer of a ``Sequential`` has an array form (``direct_calls.
array_form``: the primitives its ``call`` applies) and the compiled loss has a one-node
form (``losses.loss.register_fast_mean``), the step runs those primitives' own functions and
gradient rules on the arrays, on an ``autodiff.tape.ArrayTape``. The numbers are the
ordinary step's bit for bit (tested): the same functions in the same order, the gradients
added up in the engine's order.

It stands in for ``train_step``'s forward, loss and ``grad`` only when they would do nothing
else. Otherwise (or when anything in it raises: the ordinary step then reports it) the
ordinary step runs, and it does whenever:

- the model's class or the model itself has its own ``__call__``, ``call``, ``_run_stack``,
  ``_counted_call`` or ``compute_loss``, or ``compile`` was given ``run_eagerly=True`` or
  ``jit_compile=False``;
- the model has not yet been called in training on inputs of this shape and dtype through
  every layer's ``__call__`` with nothing for ``__call__`` to do (``layers/direct_calls.py``
  records such calls; the first step of a fit is one);
- a layer has no array form, its class's ``call`` is not the one the form mirrors, its
  form returns None (Dense with an activation other than relu or linear), or the model adds
  losses (``add_loss``, regularizers);
- the loss is not a single compiled ``LossFunctionWrapper`` of weight 1 with a one-node form
  for these targets, there is a ``sample_weight``, ``x`` or ``y`` is not a NumPy array,
  gradients are off, or the optimizer scales the loss.

The model-level and class-level conditions (methods of the model's, layers' and loss's
classes, and of the objects themselves) are checked when fit starts and whenever the fit
cache is made again (``GENERATION`` moved, or another optimizer): a method patched from a
callback in the middle of a fit is seen from the next fit on. What a layer's array form
reads (its activation, its weights) is read on every step, as its ``call`` reads it.
"""

from __future__ import annotations

from ...autodiff.engine import owned_results, scalar_seed
from ...autodiff.grad_mode import STATE as _GRAD_STATE
from ...autodiff.tape import ArrayTape
from ...autodiff.tensor import Tensor
from ...backend import np
from ..layers.direct_calls import _plain_call, record_key
from ..losses.loss import LossFunctionWrapper

__all__ = ["eligible", "run"]

# The methods the array step stands in for, as ``Sequential`` defines them (set in
# models/sequential.py when the class is made, before anything can patch them).
STANDS_IN_FOR: dict = {}


def eligible(model) -> bool:
    """Whether ``model``'s fit steps may be array steps (the model-level conditions)."""
    from ..models.sequential import Sequential  # noqa: PLC0415 - models import trainers

    if not isinstance(model, Sequential) or not getattr(model, "_array_steps", True):
        return False
    cls, own = type(model), vars(model)
    return all(getattr(cls, name) is fn and name not in own
               for name, fn in STANDS_IN_FOR.items())  # fmt: skip


def run(model, cache, x, y, sample_weight) -> bool:
    """One training step as ``Trainer.train_step`` takes it, on arrays; False (having changed
    nothing) when the ordinary step must run instead."""
    if sample_weight is not None or type(x) is not np.ndarray or type(y) is not np.ndarray:
        return False
    kind = (x.shape, x.dtype, y.shape, y.dtype)
    plan = cache.array_plans.get(kind)
    if plan is None:
        plan = _plan(model, cache, x, y)
        if plan is None:
            return False  # not yet: the ordinary step records the layers' direct calls
        cache.array_plans[kind] = plan
    if (not plan or model._compile_loss is not plan[0] or not _GRAD_STATE.enabled
            or model.optimizer.loss_scale_factor is not None):  # fmt: skip
        return False
    _, loss_fn, layers, as_is = plan
    tape = ArrayTape()
    h, h_grad = x, False
    try:
        if not as_is:
            h = model._checked_input(x)
        for layer, form in layers:
            specs = form(layer, h)
            if specs is None:
                cache.array_plans[kind] = False
                return False
            slot = h
            for primitive, args, kwargs in specs:
                h, h_grad = tape.apply(primitive, args, kwargs, slot, h, h_grad)
        y_pred = Tensor._wrap(h, h_grad)
        spec = loss_fn._fast_mean(y, y_pred, None)
        if spec is None:
            cache.array_plans[kind] = False
            return False
        primitive, args, kwargs = spec
        loss, loss_grad = tape.apply(primitive, args, kwargs, y_pred, h, h_grad)
    except Exception:  # noqa: BLE001 - the ordinary step raises it, in context
        return False
    if not loss_grad or loss.ndim:
        cache.array_plans[kind] = False
        return False
    model._track_loss(loss, x.shape[0] if x.ndim else 1)  # (trainer_utils._batch_len)
    seed = scalar_seed(loss.dtype)
    cache.apply(owned_results(cache.trainable, cache.keys, tape.backward(seed), seed))
    if model._compile_metrics is not None:
        model._compile_metrics.update_state(y, y_pred, None)
    return True


def _plan(model, cache, x, y):
    """What every array step on ``x`` and ``y`` of these shapes and dtypes reuses within a
    fit (the fit cache, and these plans, are made again when ``GENERATION`` moves):
    ``(compiled loss, its loss, ((layer, array form), ...), whether x needs no rank or dtype
    adjustment)``; False when such steps must be ordinary ones; None when the model has
    not yet made a direct call on such inputs (records, ``layers/direct_calls.py``).
    """
    compiled = model._compile_loss
    built = None if compiled is None else compiled._built
    if built is None:
        return None
    if (not cache.lossless or not cache.trainable or len(built) != 1 or built[0][1] != 1.0
            or not isinstance(built[0][0], LossFunctionWrapper)):  # fmt: skip
        return False
    loss_fn = built[0][0]
    loss_cls = type(loss_fn)
    if (loss_cls.__call__ is not LossFunctionWrapper.__call__
            or loss_cls._fast_mean is not LossFunctionWrapper._fast_mean
            or "_fast_mean" in vars(loss_fn) or "__call__" in vars(loss_fn)):  # fmt: skip
        return False
    try:
        checked = model._checked_input(x)
    except Exception:  # noqa: BLE001 - the ordinary step raises it, in context
        return False
    steps = model._call_records().get(record_key((checked,), True))
    if steps is None:
        return None
    layers = []
    for layer, *_ in steps:
        cls = type(layer)
        form = getattr(cls, "_array_ops", None)
        own = vars(layer)
        if (form is None or cls.call is not getattr(form, "mirrors", None) or "call" in own
                or "_array_ops" in own or not _plain_call(cls)):  # fmt: skip
            return False
        layers.append((layer, form))
    return compiled, loss_fn, tuple(layers), checked is x
