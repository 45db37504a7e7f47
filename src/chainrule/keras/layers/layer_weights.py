"""The weights part of ``Layer`` (Keras 3 ``keras/src/layers/layer.py``): ``trainable``,
``weights`` and its trainable and non-trainable parts in Keras's order, ``get_weights``/
``set_weights`` and ``count_params``, as a mixin ``Layer`` inherits."""

from __future__ import annotations

from ...backend import np
from ..variables import Variable


class WeightsMixin:
    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        for layer in self._sublayers():
            layer.trainable = value

    def _own_variables(self):
        own = list(self._own_weights)
        for t in self._tracked:
            if isinstance(t, Variable) and all(t is not v for v in own):
                own.append(t)
        return own

    @property
    def weights(self):
        """All weights, layer by layer as Keras 3: this layer's own (those created trainable,
        then the others), then each sub-layer's ``weights`` in turn.

        The order does not depend on ``trainable`` flags, so ``get_weights``/``set_weights``
        lists stay aligned (and match Keras's) when a layer is frozen or unfrozen.
        """
        own = self._own_variables()
        frozen = self._born_frozen
        out = [v for v in own if id(v) not in frozen] + [v for v in own if id(v) in frozen]
        seen = {id(v) for v in out}
        for layer in self._sublayers():
            for w in layer.weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    @property
    def trainable_weights(self):
        if not self._trainable:
            return []
        out = [v for v in self._own_variables() if v.trainable]
        for layer in self._sublayers():
            out.extend(w for w in layer.trainable_weights if all(w is not o for o in out))
        return out

    @property
    def non_trainable_weights(self):
        out = [v for v in self._own_variables() if not (v.trainable and self._trainable)]
        for layer in self._sublayers():
            src = layer.weights if not self._trainable else layer.non_trainable_weights
            out.extend(w for w in src if all(w is not o for o in out))
        return out

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    def zero_grad(self) -> None:
        """Forget the gradients ``backward`` added up in the weights' ``.grad`` (each set to
        None), as a torch module's ``zero_grad()``, which Keras's guides call in a custom
        ``train_step`` on the torch backend."""
        for w in self.weights:
            w.grad = None

    def get_weights(self):
        """The weights' values as a list of NumPy arrays (copies), in ``weights`` order."""
        return [np.array(w.data, copy=True) for w in self.weights]

    def set_weights(self, weights):
        """Set the weights from a list of arrays, in ``weights`` order.

        Raises:
            ValueError: if the count or a shape differs (naming the layer and both shapes).
        """
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(
                f"layer {self.name!r} expects {len(own)} weight arrays, received {len(weights)}"
            )
        for var, value in zip(own, weights):
            value = np.asarray(value)
            if value.shape != var.shape:
                raise ValueError(
                    f"layer {self.name!r} weight {var.name!r} has shape {var.shape}, received "
                    f"an array of shape {value.shape}"
                )
        for var, value in zip(own, weights):
            var.assign(np.asarray(value, dtype=var.dtype))

    def count_params(self) -> int:
        """The number of scalars in all weights.

        Raises:
            ValueError: if the layer is not built yet.
        """
        if not self.built:
            raise ValueError(
                f"layer {self.name!r} is not built yet: call it on data or build it first"
            )
        return int(sum(w.data.size for w in self.weights))

