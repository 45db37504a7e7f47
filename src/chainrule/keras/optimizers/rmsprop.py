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
        i = self._get_variable_index(variable)
        w = variable.data
        t = w.dtype.type
        rho, one_minus = t(self.rho), t(1 - self.rho)
        v = self._velocities[i]
        s0, s1 = self._scratch[i]
        np.multiply(v, rho, out=v)
        np.multiply(gradient, gradient, out=s0)
        np.multiply(s0, one_minus, out=s0)
        np.add(v, s0, out=v)
        np.add(v, t(self.epsilon), out=s0)
        if self.centered:
            avg = self._average_gradients[i]
            np.multiply(avg, rho, out=avg)
            np.multiply(gradient, one_minus, out=s1)
            np.add(avg, s1, out=avg)
            np.multiply(avg, avg, out=s1)
            np.subtract(s0, s1, out=s0)
        np.sqrt(s0, out=s0)
        np.multiply(gradient, t(learning_rate), out=s1)
        np.divide(s1, s0, out=s1)
        if self.momentum > 0:
            mom = self._momentums[i]
            np.multiply(mom, t(self.momentum), out=mom)
            np.add(mom, s1, out=mom)
            np.subtract(w, mom, out=w)
        else:
            np.subtract(w, s1, out=w)

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
