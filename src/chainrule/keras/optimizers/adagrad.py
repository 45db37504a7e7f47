"""``Adagrad`` and ``Adadelta`` (match Keras 3 ``keras/src/optimizers/{adagrad,adadelta}.py`` in
their torch-backend forms ``keras/src/backend/torch/optimizers/torch_ada*.py``)."""

from __future__ import annotations

from typing import Any

from ...backend import np
from ._helpers import check_number
from .base_optimizer import Optimizer

__all__ = ["Adagrad", "Adadelta"]


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011): per-element rates from the sum of squared gradients.

    The rule, with slot ``acc`` (``initial_accumulator_value`` at start)::

        acc = acc + g**2
        w = w - lr * g / sqrt(acc + epsilon)

    Args:
        learning_rate: default 0.001.
        initial_accumulator_value: a number >= 0 (default 0.1).
        epsilon: default 1e-7.
        **kwargs: the ``Optimizer`` arguments.

    Raises:
        ValueError: for a negative ``initial_accumulator_value`` or ``epsilon``.

    Matches Keras 3 ``keras/src/optimizers/adagrad.py``.
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        check_number("initial_accumulator_value", initial_accumulator_value, 0)
        check_number("epsilon", epsilon, 0)
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    def build(self, variables) -> None:
        """Create the ``accumulator`` slots, filled with ``initial_accumulator_value``."""
        if self.built:
            return
        super().build(variables)
        self._accumulators_sq = self.add_optimizer_variables(
            variables, "accumulator", initializer=self.initial_accumulator_value
        )

    def update_step(self, gradient, variable, learning_rate) -> None:
        """``acc += g**2; w -= lr * g / sqrt(acc + eps)``."""
        i = self._index[id(variable)]
        w = variable.data
        eps, lr = self._constants(w.dtype, learning_rate)
        acc = self._accumulators_sq[i]
        s0, s1 = self._scratch[i]
        np.multiply(gradient, gradient, s0)
        np.add(acc, s0, acc)
        np.add(acc, eps, s0)
        np.sqrt(s0, s0)
        np.multiply(gradient, lr, s1)
        np.divide(s1, s0, s1)
        np.subtract(w, s1, w)

    def _step_constants(self, t, learning_rate) -> tuple:
        return t(self.epsilon), t(learning_rate)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon}
        )
        return config


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012): step sizes from running RMS of gradients and of updates.

    The rule, with slots ``acc_g`` and ``acc_d`` (zeros at start)::

        acc_g = rho * acc_g + (1 - rho) * g**2
        delta = -sqrt(acc_d + epsilon) * g / sqrt(acc_g + epsilon)
        acc_d = rho * acc_d + (1 - rho) * delta**2
        w = w + lr * delta

    Args:
        learning_rate: default 0.001.
        rho: decay in [0, 1] (default 0.95).
        epsilon: default 1e-7.
        **kwargs: the ``Optimizer`` arguments.

    Raises:
        ValueError: for ``rho`` or ``epsilon`` out of range.

    Matches Keras 3 ``keras/src/optimizers/adadelta.py``.
    """

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        check_number("rho", rho, 0, 1)
        check_number("epsilon", epsilon, 0)
        self.rho = rho
        self.epsilon = epsilon

    def build(self, variables) -> None:
        """Create the ``accumulated_grad`` and ``accumulated_delta_var`` slots."""
        if self.built:
            return
        super().build(variables)
        self._accumulated_grads, self._accumulated_delta_vars = self.add_optimizer_variables(
            variables, ["accumulated_grad", "accumulated_delta_var"]
        )

    def update_step(self, gradient, variable, learning_rate) -> None:
        """``delta = -rms(acc_d) * g / rms(acc_g); w += lr * delta`` (see class doc)."""
        i = self._index[id(variable)]
        w = variable.data
        rho, one_minus, eps, lr = self._constants(w.dtype, learning_rate)
        acc_g, acc_d = self._accumulated_grads[i], self._accumulated_delta_vars[i]
        s0, s1 = self._scratch[i]
        np.multiply(acc_g, rho, acc_g)
        np.multiply(gradient, gradient, s0)
        np.multiply(s0, one_minus, s0)
        np.add(acc_g, s0, acc_g)
        # delta in s0
        np.add(acc_d, eps, s0)
        np.sqrt(s0, s0)
        np.multiply(s0, gradient, s0)
        np.add(acc_g, eps, s1)
        np.sqrt(s1, s1)
        np.divide(s0, s1, s0)
        np.negative(s0, s0)
        np.multiply(acc_d, rho, acc_d)
        np.multiply(s0, s0, s1)
        np.multiply(s1, one_minus, s1)
        np.add(acc_d, s1, acc_d)
        np.multiply(s0, lr, s0)
        np.add(w, s0, w)

    def _step_constants(self, t, learning_rate) -> tuple:
        return t(self.rho), t(1 - self.rho), t(self.epsilon), t(learning_rate)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"rho": self.rho, "epsilon": self.epsilon})
        return config
