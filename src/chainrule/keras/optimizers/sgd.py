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
        i = self._index[id(variable)]
        w = variable.data
        lr, mu = self._constants(w.dtype, learning_rate)
        s = self._scratch[i][0]
        np.multiply(gradient, lr, s)
        if self.momentum == 0:
            np.subtract(w, s, w)
            return
        m = self.momentums[i]
        np.multiply(m, mu, m)
        np.subtract(m, s, m)
        if self.nesterov:
            np.subtract(w, s, w)
            np.multiply(m, mu, s)
            np.add(w, s, w)
        else:
            np.add(w, m, w)

    def _step_constants(self, t, learning_rate) -> tuple:
        return t(learning_rate), t(self.momentum)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config
