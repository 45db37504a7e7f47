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
  ``_counted_call`` or ``compute_loss``, or ``model.run_eagerly`` is true or
  ``model.jit_compile`` false (``compile``'s arguments, settable afterwards, as in Keras);
- the model has not yet been called in training on inputs of this shape and dtype through
  every layer's ``__call__`` with nothing for ``__call__`` to do (``layers/direct_calls.py``
  records such calls; the first step of a fit is one);
- a layer has no array form, its class's ``call`` is not the one the form mirrors, its
  form returns None (Dense with an activation other than relu or linear), a weight it reads
  is computed by ops rather than a leaf ``Variable``, or the model adds losses
  (``add_loss``, regularizers);
- the loss is not a single compiled ``LossFunctionWrapper`` of weight 1 with a one-node form
  for these targets (a loss class or object with its own ``call`` has none), there is a
  ``sample_weight``, ``x`` or ``y`` is not a NumPy array, gradients are off, or the
  optimizer scales the loss.

What the ordinary step would look up on every step (the model's, the losses' and each
layer's methods, on their classes and on the objects; what a layer's array form reads, such as
its activation and weights; ``run_eagerly`` and ``jit_compile``) the array step looks up on
every step too.
"""

from __future__ import annotations

from ...autodiff.engine import owned_results, scalar_seed
from ...autodiff.grad_mode import STATE as _GRAD_STATE
from ...autodiff.tape import ArrayTape
from ...autodiff.tensor import Tensor
from ...backend import np
from ..layers.direct_calls import _plain_call, record_key
from ..losses.loss import LossFunctionWrapper
from .compile_utils import CompileLoss

__all__ = ["eligible", "run"]

# The methods the array step stands in for, as chainrule defines them, taken when chainrule is
# imported (before anything can patch them): the model's (set in models/sequential.py) and
# the losses'.
STANDS_IN_FOR: dict = {}
_COMPILE_LOSS_CALL = CompileLoss.__call__
_LOSS_CALL = LossFunctionWrapper.__call__
_FAST_MEAN = LossFunctionWrapper._fast_mean


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
    if plan is None:
        plan = _plan(model, cache, x, y)
        if plan is None:
            return False  # not yet: the ordinary step records the layers' direct calls
        cache.array_plans[kind] = plan
    if (not plan or model._compile_loss is not plan[0] or not _GRAD_STATE.enabled
            or model.optimizer.loss_scale_factor is not None
            or not _kept(model, plan)):  # fmt: skip
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
        cache.array_plans[kind] = False
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


def _kept(model, plan) -> bool:
    """Whether every method the ordinary step would run in place of the array step's work is
    still the one the plan was made for: the model's (``STANDS_IN_FOR``), the compiled loss's,
    the loss's, and each layer's ``call`` (the one its array form mirrors) and ``__call__``
    (``direct_calls._plain_call``), on the class and not set on the object. Checked on every
    step, as the ordinary step looks them up on every call."""
    cls, own = type(model), vars(model)
    for name, fn in STANDS_IN_FOR.items():
        if getattr(cls, name) is not fn or name in own:
            return False
    compiled, loss_fn, layers, _ = plan
    loss_cls = type(loss_fn)
    if (type(compiled).__call__ is not _COMPILE_LOSS_CALL or loss_cls.__call__ is not _LOSS_CALL
            or loss_cls._fast_mean is not _FAST_MEAN or "_fast_mean" in vars(loss_fn)):  # fmt: skip
        return False
    for layer, form in layers:
        kind, own = type(layer), vars(layer)
        if (kind.call is not form.mirrors or kind._array_ops is not form or "call" in own
                or "_array_ops" in own or not _plain_call(kind)):  # fmt: skip
            return False
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
    try:
        checked = model._checked_input(x)
    except Exception:  # noqa: BLE001 - the ordinary step raises it, in context
        return False
    steps = model._call_records().get(record_key((checked,), True))
    if steps is None:
        return None
    layers = []
    for layer, *_ in steps:
        form = getattr(type(layer), "_array_ops", None)
        if form is None:
            return False
        layers.append((layer, form))
    return compiled, built[0][0], tuple(layers), checked is x
