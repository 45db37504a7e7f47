"""Loss terms of layers (Keras 3 ``keras/src/layers/layer.py``: ``add_loss``, ``losses``,
``_clear_losses``): the part of ``Layer`` that collects ``add_loss`` terms, activity
regularization and weight regularization, as a mixin ``Layer`` inherits."""

from __future__ import annotations

from collections import deque

from ...autodiff.tensor import Tensor
from ...backend import np
from ..variables import GENERATION, Variable

# Loss bookkeeping (Keras's call context): a concrete `__call__` at depth 0 is top-level and
# first clears the losses its layer tree added before, so they do not pile up across steps.
_DEPTH = [0]
# > 0 while a symbolic call runs a layer on placeholders: losses of made-up values are dropped.
_SYMBOLIC = [0]
# How many layers ever added a loss; while 0, a top-level call has nothing to clear.
_ADDERS = [0]
_FUNCTIONAL = []  # [Functional], filled on first use (models import this module)


class LossesMixin:
    """``add_loss``, ``losses`` and the clearing of loss terms at each top-level call (the
    counters above are read by ``Layer.__call__``)."""

    _adds_losses = False  # set by the first add_loss: the fit cache then reads this layer
    _loss_tree = None  # (GENERATION, the layers of this tree that add losses)

    def add_loss(self, loss) -> None:
        """Add a loss term, usually from ``call()``: ``self.add_loss(ops.sum(x))``.

        The terms are in ``layer.losses`` (and in ``model.losses`` of every model holding the
        layer) until the next top-level call of a layer tree that holds it clears them, and
        ``fit``/``evaluate``/``train_on_batch`` add ``ops.sum`` of each to the loss. Added on
        placeholder values while a functional model is being built, they are dropped.
        Matches Keras 3 ``keras/src/layers/layer.py`` ``Layer.add_loss``.

        Args:
            loss: a Tensor, or a list/tuple/dict of Tensors (any shape; summed in training).

        Raises:
            ValueError: for anything that is not a Tensor (a NumPy array, a Python number,
                a ``Variable``), as Keras.
            NotImplementedError: on a functional model (``keras.Model(inputs, outputs)``),
                as Keras 3: add the loss in a layer's ``call()``.

        >>> from chainrule import keras
        >>> class Penalty(keras.layers.Layer):
        ...     def call(self, x):
        ...         self.add_loss(0.1 * keras.ops.sum(keras.ops.square(x)))
        ...         return x
        >>> layer = Penalty()
        >>> _ = layer(np.ones((2, 3), "float32"))
        >>> [round(t.item(), 4) for t in layer.losses]
        [0.6]
        """
        if not _FUNCTIONAL:
            from ..models.functional import Functional  # noqa: PLC0415 - an import cycle

            _FUNCTIONAL.append(Functional)
        if isinstance(self, _FUNCTIONAL[0]):
            raise NotImplementedError(
                f"add_loss() is not supported on the functional model {self.name!r} (as in "
                "Keras 3): call add_loss() inside the call() of one of its layers"
            )
        losses = _flatten(loss)
        for x in losses:
            if not isinstance(x, Tensor) or isinstance(x, Variable):
                raise ValueError(
                    "`add_loss()` can only be called from inside `build()` or `call()`, on a "
                    f"tensor input. Received invalid value: {x!r} (of type "
                    f"{type(x).__name__}); pass a Tensor computed with ops, e.g. ops.sum(x)"
                )
        self._record_losses(losses)

    def _record_losses(self, losses):
        if _SYMBOLIC[0]:
            return
        if not self._adds_losses:
            self._adds_losses = True
            _ADDERS[0] += 1
            GENERATION[0] += 1  # a running fit's cache must now read this layer's losses
        self._losses.extend(losses)

    def _flatten_layers(self):
        """This layer, then its sub-layers in Keras's ``_flatten_layers`` order: a queue that
        puts each layer's children in front, reversed (so nested children come last-first)."""
        out, seen = [self], {id(self)}
        queue = deque(self._sublayers())
        while queue:
            layer = queue.popleft()
            if id(layer) not in seen:
                seen.add(id(layer))
                out.append(layer)
                queue.extendleft(layer._sublayers())
        return out

    def _clear_losses(self):
        """Drop the ``add_loss`` terms of this layer and its sub-layers (Keras's
        ``_clear_losses``, run at the start of each top-level call)."""
        tree = self._loss_tree
        if tree is None or tree[0] != GENERATION[0]:
            adders = [la for la in self._flatten_layers() if la._adds_losses]
            tree = self._loss_tree = (GENERATION[0], adders)
        for layer in tree[1]:
            if layer._losses:
                layer._losses.clear()

    @property
    def losses(self):
        """The loss terms of this layer and its sub-layers, in Keras 3's order: the
        ``add_loss`` terms (activity regularizers included) of this layer, then of each
        sub-layer (``_flatten_layers`` order), then the weight regularizers of
        ``trainable_weights`` (none for a frozen layer or a weight created non-trainable).
        Matches Keras 3 ``Layer.losses``.
        """
        out = [x for layer in self._flatten_layers() for x in layer._losses]
        out.extend(reg(var) for reg, var in self._weight_regularizers())
        return out

    def _weight_regularizers(self, trainable=None):
        """``(regularizer, variable)`` for each weight of ``trainable`` (default
        ``trainable_weights``) that has one: Keras counts only trainable weights' penalties."""
        regs = {id(var): reg for layer in self._flatten_layers() for reg, var in layer._regularized}
        if not regs:
            return []
        trainable = self.trainable_weights if trainable is None else trainable
        return [(regs[id(v)], v) for v in trainable if id(v) in regs]

    def _counted_call(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)`` run as this layer's call: a top-level one (depth 0) first
        clears the loss terms its tree added at the last one; nested calls do not."""
        depth = _DEPTH
        if not depth[0] and _ADDERS[0]:
            self._clear_losses()
        depth[0] += 1
        try:
            return fn(*args, **kwargs)
        finally:
            depth[0] -= 1

    def _call_and_regularize(self, *args, **kwargs):
        out = self.call(*args, **kwargs)
        if self.activity_regularizer is not None:
            self._add_activity_losses(out)
        return out

    def _add_activity_losses(self, outputs):
        # as Keras: one term per output, divided by its batch size (0 for an empty batch)
        for out in _flatten(outputs):
            if isinstance(out, (Tensor, np.ndarray)):
                loss = self.activity_regularizer(out)
                if out.ndim:
                    loss = loss / out.shape[0] if out.shape[0] else loss * 0.0
                self._record_losses([loss])


def _flatten(x):
    """A list/tuple/dict structure as a flat list (dict values by sorted key, as Keras)."""
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _flatten(item)]
    if isinstance(x, dict):
        return [v for k in sorted(x) for v in _flatten(x[k])]
    return [x]
