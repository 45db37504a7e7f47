"""``SGD``: gradient descent with optional (Nesterov) momentum (matches Keras 3
``keras/src/optimizers/sgd.py`` and its torch-backend form ``torch_sgd.py``)."""

from __future__ import annotations

from typing import Any

from ...backend import np
from .base_optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """Gradient descent with momentum.

    The rule, with ``g`` the gradient and ``m`` the momentum slot (zeros at start)::

        w = w - lr * g                      # momentum == 0 (no slot)
        m = momentum * m - lr * g           # momentum > 0
        w = w + m                           # nesterov=False
        w = w + momentum * m - lr * g       # nesterov=True

    Args:
        learning_rate: float >= 0, schedule or callable (default 0.01).
        momentum: a number in [0, 1] (default 0.0).
        nesterov: use Nesterov momentum (default False).
        **kwargs: the ``Optimizer`` arguments (weight_decay, clipnorm, clipvalue,
            global_clipnorm, use_ema, ..., name).

    Raises:
        ValueError: if ``momentum`` is outside [0, 1] or not a number (and see ``Optimizer``).

    Matches Keras 3 ``keras/src/optimizers/sgd.py``.

    >>> from chainrule.keras.variables import Variable
    >>> w = Variable([1.0, 2.0])
    >>> SGD(0.1).apply_gradients([(np.array([1.0, -1.0]), w)]) and None
    >>> w.numpy()
    array([0.9, 2.1], dtype=float32)
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if (
            isinstance(momentum, bool)
            or not isinstance(momentum, (int, float, np.number))
            or (not 0 <= momentum <= 1)
        ):
            raise ValueError(
                f"`momentum` must be a float between [0, 1]. Received: momentum={momentum!r}"
            )
        self.momentum = momentum
        self.nesterov = nesterov

    def build(self, variables) -> None:
        """Create one momentum slot per variable (none when ``momentum == 0``)."""
        if self.built:
            return
        super().build(variables)
        self.momentums = []
        if self.momentum != 0:
            self.momentums = self.add_optimizer_variables(variables, "momentum")

    def update_step(self, gradient, variable, learning_rate) -> None:
        """``m = momentum*m - lr*g; w += m`` (Nesterov: ``w += momentum*m - lr*g``)."""
        self._sgd_steps((gradient,), (variable,), learning_rate)

    def _backend_update_step(self, grads, variables, learning_rate) -> None:
        # NOTE: for speed: the rule for every variable in one loop (a step of a small model
        # is mostly per-call overhead), unless a subclass has its own `update_step`
        if type(self).update_step is SGD.update_step:
            self._sgd_steps(grads, variables, learning_rate)
        else:
            super()._backend_update_step(grads, variables, learning_rate)

    def _sgd_steps(self, grads, variables, learning_rate) -> None:
        index, scratch, momentums = self._index, self._scratch, self.momentums
        momentum, nesterov = self.momentum, self.nesterov
        dtype = None
        for gradient, variable in zip(grads, variables, strict=True):
            i = index[id(variable)]
            w = variable.data
            if w.dtype is not dtype:
                # the step's constants in the variable's dtype (NOTE: made here, not through
                # `_constants`: scalar conversions are much of a small model's update)
                dtype = w.dtype
                t = dtype.type
                lr = learning_rate if type(learning_rate) is t else t(learning_rate)
                mu = t(momentum) if momentum != 0 else None
            s = scratch[i][0]
            np.multiply(gradient, lr, s)
            if momentum == 0:
                np.subtract(w, s, w)
                continue
            m = momentums[i]
            np.multiply(m, mu, m)
            np.subtract(m, s, m)
            if nesterov:
                np.subtract(w, s, w)
                np.multiply(m, mu, s)
                np.add(w, s, w)
            else:
                np.add(w, m, w)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config
