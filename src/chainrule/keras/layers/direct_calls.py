"""Direct layer calls: what a model replays on its second and later calls.

NOTE: for speed. ``Layer.__call__`` costs ~8 us a call (symbolic check, autocast, build and
input-spec checks, loss bookkeeping, masks), and a model repeats the same calls on every batch
of a fit or predict. Once a model's call on inputs of some type, shape and dtype went through
every layer's ``__call__`` (building the layers and checking their input specs), the next call
on inputs like them needs none of that work for a layer when:

- the layer's class keeps Layer's ``__call__`` (and its loss bookkeeping);
- its input was a plain array or Tensor already of the layer's float dtype (no autocast);
- its output was a plain Tensor (no Keras mask to pass on);
- it adds no losses (``add_loss`` or an activity regularizer).

Then ``layer.call`` (with the same ``training`` keyword) does all that ``__call__`` did, as
long as the layer's input is again of the type, shape and dtype it was (checked on every
replay). The models keep such steps per input key in a :class:`CallRecords` and forget them when
``GENERATION`` moves: a new weight or layer, a ``trainable`` flag, an activity regularizer, an
input spec, a dtype, ``autocast`` or ``built`` set on a layer (``layer.py _RESTRUCTURING``),
a first ``add_loss``. Everything else a layer's ``call`` reads (its rate, activation, weights, the
random generator, moving statistics) it reads again on every call, as before.
"""

from __future__ import annotations

from ...autodiff.tensor import Tensor
from ..variables import GENERATION
from .layer import _CONCRETE, Layer
from .layer_losses import _DEPTH, _SYMBOLIC

__all__ = ["direct_step", "replay", "MISS", "FUSED", "input_key", "record_key", "CallRecords",
           "array_form", "fused_role"]

MISS = object()  # what `replay` returns when the layer must go through __call__
FUSED = set()  # classes of steps that stand for several layers (see fused_calls.py)
_ABSENT = object()  # a step whose call was given no `training`


def direct_step(layer, x, y, kwargs):
    """What a later call can replay of ``layer(x, **kwargs)``, which just returned ``y``:
    ``(layer, training given or _ABSENT, type, shape, dtype of x)``, or None when
    ``__call__``'s own work was needed (see the module doc). ``kwargs``: what the call was
    given besides ``x``: nothing, or ``training``."""
    if (not _plain_call(type(layer)) or type(x) not in _CONCRETE or type(y) is not Tensor
            or layer._adds_losses or layer.activity_regularizer is not None
            or kwargs.keys() - {"training"}):  # fmt: skip
        return None
    if layer.autocast and x.dtype.kind == "f" and x.dtype != layer.dtype:
        return None
    return layer, kwargs.get("training", _ABSENT), type(x), x.shape, x.dtype


def _plain_call(cls):
    """Whether ``cls`` calls layers as ``Layer`` does (nothing of its own around ``call``)."""
    return (cls.__call__ is Layer.__call__ and cls._counted_call is Layer._counted_call
            and cls._call_and_regularize is Layer._call_and_regularize)  # fmt: skip


def replay(step, x, generation):
    """``step``'s layer's ``call`` on ``x``, or ``MISS`` when it must go through ``__call__``:
    ``x`` is not of the recorded type, shape and dtype (a mask came with it, an earlier
    layer changed what it returns), ``GENERATION`` moved since ``generation`` (during this
    model call), or the layer's class now has a ``__call__`` of its own. ``call`` and
    ``_call_has_training`` are read on every replay, as ``__call__`` reads them."""
    layer, training, kind, shape, dtype = step
    if type(x) is not kind or x.shape != shape or x.dtype != dtype or GENERATION[0] != generation:
        return MISS
    if type(layer) in FUSED:
        return layer.call(x)
    if not _plain_call(type(layer)):
        return MISS
    if training is not _ABSENT and layer._call_has_training:
        return layer.call(x, training=training)
    return layer.call(x)


def input_key(inputs, training):
    """What a model's records are kept under: the type, shape and dtype of each input, and
    ``training``; None when nothing may be replayed: a symbolic call, an input that is not a
    plain array or Tensor, a ``training`` that is not None, True or False, or a model's
    ``call`` run directly rather than through ``__call__`` (call depth 0: each layer's
    ``__call__`` is then a top-level call that clears its loss terms first)."""
    if _SYMBOLIC[0] or not _DEPTH[0]:
        return None
    return record_key(inputs, training)


def record_key(inputs, training):
    """The key of ``inputs`` and ``training`` (see :func:`input_key`) whatever the call's
    context, or None for inputs or a ``training`` that cannot be replayed."""
    if not (training is None or training is True or training is False):
        return None
    key = [training]
    for x in inputs:
        if type(x) not in _CONCRETE:
            return None
        key.extend((type(x), x.shape, x.dtype))
    return tuple(key)


def array_form(call):
    """Mark a layer method as the array form of its class's ``call``: ``method(x)`` returns the
    primitives ``call(x)`` applies, as a tuple of ``(primitive, args, kwargs)`` in order, each
    taking the previous one's result (``x`` itself in the first one's ``args``), or None when
    ``call`` would do anything else for this layer as it is now (an activation that is not a
    single primitive, a mask, randomness). Fit's array step (``trainers/array_step.py``) runs
    them on arrays as long as the layer's class keeps that ``call``: change the two together."""

    def mark(method):
        method.mirrors = call
        return method

    return mark


def fused_role(role):
    """Mark a layer class's ``call`` as one ``fused_calls.py`` may stand in for, in the given
    ``role`` ("conv" or "pool"): a ``call`` replaced on a class or an instance lacks the mark,
    and its layer then runs its own ``call``."""

    def mark(call):
        call.fused_role = role
        return call

    return mark


class CallRecords:
    """A model's recorded steps per input key (at most 8: a fit has one or two batch shapes),
    valid while ``GENERATION`` stays where it was when they were recorded."""

    __slots__ = ("generation", "steps")

    def __init__(self):
        self.generation = GENERATION[0]
        self.steps = {}

    def get(self, key):
        if key is None or self.generation != GENERATION[0]:
            return None
        return self.steps.get(key)

    def put(self, key, steps, generation) -> None:
        """Keep ``steps``, recorded by a call that started at ``generation``, unless
        ``GENERATION`` moved during that call (a layer built, a regularizer set by another
        layer's ``call``): what was recorded before the move may not hold after it."""
        if GENERATION[0] != generation:
            return
        if self.generation != generation or len(self.steps) >= 8:
            self.generation = generation
            self.steps = {}
        self.steps[key] = steps
