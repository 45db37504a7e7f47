"""``Lion`` (matches Keras 3 ``keras/src/optimizers/lion.py`` in its torch-backend form
``keras/src/backend/torch/optimizers/torch_lion.py``)."""

from __future__ import annotations

from typing import Any

from ...backend import np
from ._helpers import check_number
from .base_optimizer import Optimizer

__all__ = ["Lion"]


class Lion(Optimizer):
    """Lion, the sign-momentum optimizer (Chen et al., 2023, "Symbolic Discovery of
    Optimization Algorithms").

    The rule, with slot ``m`` (zeros at start)::

        w = w - lr * sign(beta_1 * m + (1 - beta_1) * g)
        m = beta_2 * m + (1 - beta_2) * g

    Args:
        learning_rate: default 0.001.
        beta_1: in (0, 1] (default 0.9).
        beta_2: in [0, 1] (default 0.99).
        **kwargs: the ``Optimizer`` arguments.

    Raises:
        ValueError: if ``beta_1`` is outside (0, 1] or ``beta_2`` outside [0, 1].

    Matches Keras 3 ``keras/src/optimizers/lion.py``.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        check_number("beta_1", beta_1, 0, 1, low_open=True)
        check_number("beta_2", beta_2, 0, 1)
        self.beta_1 = beta_1
        self.beta_2 = beta_2

    def build(self, variables) -> None:
        """Create the ``momentum`` slots."""
        if self.built:
            return
        super().build(variables)
        self._momentums = self.add_optimizer_variables(variables, "momentum")

    def update_step(self, gradient, variable, learning_rate) -> None:
        """``w -= lr * sign(b1*m + (1-b1)*g); m = b2*m + (1-b2)*g``."""
        i = self._index[id(variable)]
        w = variable.data
        b1, one_b1, b2, one_b2, lr = self._constants(w.dtype, learning_rate)
        m = self._momentums[i]
        s0, s1 = self._scratch[i]
        np.multiply(m, b1, s0)
        np.multiply(gradient, one_b1, s1)
        np.add(s0, s1, s0)
        np.sign(s0, s0)
        np.multiply(s0, lr, s0)
        np.subtract(w, s0, w)
        np.multiply(m, b2, m)
        np.multiply(gradient, one_b2, s1)
        np.add(m, s1, m)

    def _step_constants(self, t, learning_rate) -> tuple:
        return (
            t(self.beta_1),
            t(1 - self.beta_1),
            t(self.beta_2),
            t(1 - self.beta_2),
            t(learning_rate),
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2})
        return config
