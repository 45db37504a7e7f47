"""``RMSprop`` (matches Keras 3 ``keras/src/optimizers/rmsprop.py`` in its torch-backend form
``keras/src/backend/torch/optimizers/torch_rmsprop.py``)."""

from __future__ import annotations

from typing import Any

from ...backend import np
from ._helpers import check_number
from .base_optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012): divide the gradient by a running RMS of recent gradients.

    The rule, with slots ``v`` (and ``mom``, ``avg`` when used), zeros at start::

        v = rho * v + (1 - rho) * g**2
        avg = rho * avg + (1 - rho) * g                  # centered only
        denom = v - avg**2 + epsilon if centered else v + epsilon
        increment = lr * g / sqrt(denom)                 # epsilon inside the sqrt
        mom = momentum * mom + increment; w -= mom       # momentum > 0
        w -= increment                                   # momentum == 0

    Args:
        learning_rate: default 0.001.
        rho: discount of the old squared gradients, in [0, 1] (default 0.9).
        momentum: in [0, 1] (default 0.0).
        epsilon: default 1e-7.
        centered: normalise by the estimated variance (default False).
        **kwargs: the ``Optimizer`` arguments.

    Raises:
        ValueError: for ``rho``, ``momentum`` or ``epsilon`` out of range.

    Matches Keras 3 ``keras/src/optimizers/rmsprop.py``.

    >>> from chainrule.keras.variables import Variable
    >>> w = Variable(10.0)
    >>> _ = RMSprop(0.1).apply_gradients([(w.numpy(), w)])
    >>> round(float(w.numpy()), 5)
    9.68377
    """

    def __init__(
        self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kwargs
    ):
        super().__init__(learning_rate=learning_rate, **kwargs)
        check_number("rho", rho, 0, 1)
        check_number("momentum", momentum, 0, 1)
        check_number("epsilon", epsilon, 0)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def build(self, variables) -> None:
        """Create ``velocity`` slots, then ``momentum`` and ``average_gradient`` when used."""
        if self.built:
            return
        super().build(variables)
        self._velocities = self.add_optimizer_variables(variables, "velocity")
        self._momentums = []
        if self.momentum > 0:
            self._momentums = self.add_optimizer_variables(variables, "momentum")
        self._average_gradients = []
        if self.centered:
            self._average_gradients = self.add_optimizer_variables(variables, "average_gradient")

    def update_step(self, gradient, variable, learning_rate) -> None:
        """``v = rho*v + (1-rho)*g**2; w -= lr*g / sqrt(v + eps)`` (see class doc)."""
        i = self._index[id(variable)]
        w = variable.data
        rho, one_minus, eps, lr, mu = self._constants(w.dtype, learning_rate)
        v = self._velocities[i]
        s0, s1 = self._scratch[i]
        np.multiply(v, rho, v)
        np.multiply(gradient, gradient, s0)
        np.multiply(s0, one_minus, s0)
        np.add(v, s0, v)
        np.add(v, eps, s0)
        if self.centered:
            avg = self._average_gradients[i]
            np.multiply(avg, rho, avg)
            np.multiply(gradient, one_minus, s1)
            np.add(avg, s1, avg)
            np.multiply(avg, avg, s1)
            np.subtract(s0, s1, s0)
        np.sqrt(s0, s0)
        np.multiply(gradient, lr, s1)
        np.divide(s1, s0, s1)
        if self.momentum > 0:
            mom = self._momentums[i]
            np.multiply(mom, mu, mom)
            np.add(mom, s1, mom)
            np.subtract(w, mom, w)
        else:
            np.subtract(w, s1, w)

    def _step_constants(self, t, learning_rate) -> tuple:
        return t(self.rho), t(1 - self.rho), t(self.epsilon), t(learning_rate), t(self.momentum)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "rho": self.rho,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "centered": self.centered,
            }
        )
        return config
