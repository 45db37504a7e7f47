"""The Adam family: ``Adam``, ``AdamW``, ``Adamax``, ``Nadam`` (match Keras 3
``keras/src/optimizers/{adam,adamw,adamax,nadam}.py`` in their torch-backend forms
``keras/src/backend/torch/optimizers/torch_*.py``)."""

from __future__ import annotations

from typing import Any

from ...backend import np
from ._helpers import check_number
from .base_optimizer import Optimizer

__all__ = ["Adam", "AdamW", "Adamax", "Nadam"]



def _set_moments(opt, beta_1, beta_2, epsilon, beta_2_open=False) -> None:
    """Check and store the moment decay rates and epsilon shared by the Adam family.

    Raises:
        ValueError: for ``beta_1`` outside [0, 1), ``beta_2`` outside [0, 1] (or [0, 1) when
            ``beta_2_open``), or a negative ``epsilon``.
    """
    check_number("beta_1", beta_1, 0, 1, high_open=True)
    check_number("beta_2", beta_2, 0, 1, high_open=beta_2_open)
    check_number("epsilon", epsilon, 0)
    opt.beta_1, opt.beta_2, opt.epsilon = beta_1, beta_2, epsilon

class Adam(Optimizer):
    """Adam (Kingma & Ba, 2014), with Keras's epsilon convention.

    The rule, with ``t = iterations + 1`` and slots ``m``, ``v`` (zeros at start)::

        alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        v_hat = maximum(v_hat, v); v = v_hat         # amsgrad only
        w = w - alpha * m / (sqrt(v) + epsilon)

    ``epsilon`` is the paper's "epsilon hat": it is added to the uncorrected ``sqrt(v)``, so a
    tiny gradient moves ``w`` less than PyTorch's Adam would.

    Args:
        learning_rate: float >= 0, schedule or callable (default 0.001).
        beta_1: first-moment decay in [0, 1) (default 0.9).
        beta_2: second-moment decay in [0, 1] (default 0.999).
        epsilon: default 1e-7.
        amsgrad: use AMSGrad (Reddi et al., 2018) (default False).
        **kwargs: the ``Optimizer`` arguments (weight_decay, clipnorm, ..., name).

    Raises:
        ValueError: for a beta or epsilon out of range (and see ``Optimizer``).

    Matches Keras 3 ``keras/src/optimizers/adam.py``.

    >>> from chainrule.keras.variables import Variable
    >>> v = Variable(1.0)
    >>> _ = Adam(0.1).apply_gradients([(1e-8, v)])
    >>> round(float(v.numpy()), 6)
    0.999685
    """

    _n_scratch = 2

    def __init__(
        self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **kwargs
    ):
        super().__init__(learning_rate=learning_rate, **kwargs)
        _set_moments(self, beta_1, beta_2, epsilon)
        self.amsgrad = amsgrad

    def build(self, variables) -> None:
        """Create the ``momentum`` and ``velocity`` slots (and ``velocity_hat`` for amsgrad)."""
        if self.built:
            return
        super().build(variables)
        self._momentums, self._velocities = self.add_optimizer_variables(
            variables, ["momentum", "velocity"]
        )
        if self.amsgrad:
            self._velocity_hats = self.add_optimizer_variables(variables, "velocity_hat")

    def _step_constants(self, t, learning_rate) -> tuple:
        step = t(self.iterations + 1)
        b1, b2 = t(self.beta_1), t(self.beta_2)
        alpha = t(learning_rate) * np.sqrt(1 - np.power(b2, step)) / (1 - np.power(b1, step))
        return b1, t(1 - self.beta_1), b2, t(1 - self.beta_2), t(self.epsilon), alpha

    def _moments(self, gradient, i, c):
        b1, one_b1, b2, one_b2 = c[:4]
        m, v = self._momentums[i], self._velocities[i]
        s = self._scratch[i][0]
        np.multiply(m, b1, m)
        np.multiply(gradient, one_b1, s)
        np.add(m, s, m)
        np.multiply(gradient, gradient, s)
        np.multiply(s, one_b2, s)
        np.multiply(v, b2, v)
        np.add(v, s, v)
        return m, v

    def update_step(self, gradient, variable, learning_rate) -> None:
        """``m, v`` moving averages; ``w -= alpha * m / (sqrt(v) + eps)`` (see class doc)."""
        i = self._index[id(variable)]
        w = variable.data
        c = self._constants(w.dtype, learning_rate)
        m, v = self._moments(gradient, i, c)
        if self.amsgrad:
            v_hat = self._velocity_hats[i]
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        s0, s1 = self._scratch[i]
        np.sqrt(v, s0)
        np.add(s0, c[4], s0)
        np.multiply(m, c[5], s1)
        np.divide(s1, s0, s1)
        np.subtract(w, s1, w)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "amsgrad": self.amsgrad,
            }
        )
        return config


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    Each step first decays ``w *= 1 - weight_decay * lr`` (for variables not excluded with
    ``exclude_from_weight_decay``), then applies the ``Adam`` rule.

    Args:
        learning_rate: default 0.001.
        weight_decay: a number >= 0 (default 0.004; None is an error).
        beta_1, beta_2, epsilon, amsgrad: as ``Adam`` (0.9, 0.999, 1e-7, False).
        **kwargs: the other ``Optimizer`` arguments.

    Raises:
        ValueError: if ``weight_decay`` is None (and see ``Adam``).

    Matches Keras 3 ``keras/src/optimizers/adamw.py``.
    """

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=0.004,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        **kwargs,
    ):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            amsgrad=amsgrad,
            weight_decay=weight_decay,
            **kwargs,
        )


class Adamax(Optimizer):
    """Adamax, Adam with the infinity norm (Kingma & Ba, 2014, section 7.1).

    The rule, with ``t = iterations + 1`` and slots ``m``, ``u`` (zeros at start)::

        m = beta_1 * m + (1 - beta_1) * g
        u = maximum(beta_2 * u, abs(g))
        w = w - lr * m / ((u + epsilon) * (1 - beta_1**t))

    Args:
        learning_rate: default 0.001.
        beta_1: in [0, 1) (default 0.9).
        beta_2: in [0, 1] (default 0.999).
        epsilon: default 1e-7.
        **kwargs: the ``Optimizer`` arguments.

    Raises:
        ValueError: for a beta or epsilon out of range.

    Matches Keras 3 ``keras/src/optimizers/adamax.py``.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        _set_moments(self, beta_1, beta_2, epsilon)

    def build(self, variables) -> None:
        """Create the ``momentum`` and ``norm`` slots."""
        if self.built:
            return
        super().build(variables)
        self._m, self._u = self.add_optimizer_variables(variables, ["momentum", "norm"])

    def update_step(self, gradient, variable, learning_rate) -> None:
        """``w -= lr * m / ((u + eps) * (1 - beta_1**t))`` (see class doc)."""
        i = self._index[id(variable)]
        w = variable.data
        b1, one_b1, b2, eps, correction, lr = self._constants(w.dtype, learning_rate)
        m, u = self._m[i], self._u[i]
        s0, s1 = self._scratch[i]
        np.multiply(m, b1, m)
        np.multiply(gradient, one_b1, s0)
        np.add(m, s0, m)
        np.multiply(u, b2, u)
        np.abs(gradient, s0)
        np.maximum(u, s0, out=u)
        np.add(u, eps, s0)
        np.multiply(s0, correction, s0)
        np.multiply(m, lr, s1)
        np.divide(s1, s0, s1)
        np.subtract(w, s1, w)

    def _step_constants(self, t, learning_rate) -> tuple:
        b1 = t(self.beta_1)
        correction = 1 - np.power(b1, t(self.iterations + 1))
        return b1, t(1 - self.beta_1), t(self.beta_2), t(self.epsilon), correction, t(learning_rate)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config


class Nadam(Adam):
    """Nadam, Adam with Nesterov momentum (Dozat, 2016), with Keras's momentum schedule.

    Once per ``apply``, with ``t = iterations + 1``::

        u_t = beta_1 * (1 - 0.5 * 0.96**t);  u_next = beta_1 * (1 - 0.5 * 0.96**(t + 1))
        u_product = u_product * u_t          # a saved slot, 1.0 at start

    then per variable::

        m = beta_1 * m + (1 - beta_1) * g;  v = beta_2 * v + (1 - beta_2) * g**2
        m_hat = u_next * m / (1 - u_product * u_next) + (1 - u_t) * g / (1 - u_product)
        v_hat = v / (1 - beta_2**t)
        w = w - lr * m_hat / (sqrt(v_hat) + epsilon)

    Args:
        learning_rate: default 0.001.
        beta_1: in [0, 1) (default 0.9).
        beta_2: in [0, 1) (default 0.999).
        epsilon: default 1e-7.
        **kwargs: the ``Optimizer`` arguments.

    Raises:
        ValueError: for a beta or epsilon out of range.

    Matches Keras 3 ``keras/src/optimizers/nadam.py``.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        # Adam's constructor would accept `amsgrad`, which Nadam does not have.
        Optimizer.__init__(self, learning_rate=learning_rate, **kwargs)
        _set_moments(self, beta_1, beta_2, epsilon, beta_2_open=True)
        self.amsgrad = False

    def build(self, variables) -> None:
        """Create the ``momentum`` and ``velocity`` slots, then the scalar ``u_product``."""
        if self.built:
            return
        variables = list(variables)
        super().build(variables)
        dtype = variables[0].data.dtype if variables else np.dtype("float32")
        self._u_product = self.add_variable((), initializer=1.0, dtype=dtype)

    def _backend_update_step(self, grads, variables, learning_rate) -> None:
        t = self._u_product.dtype.type
        decay = t(0.96)
        beta_1 = t(self.beta_1)
        step = t(self.iterations + 1)
        u_t = beta_1 * (t(1) - t(0.5) * np.power(decay, step))
        u_next = beta_1 * (t(1) - t(0.5) * np.power(decay, step + t(1)))
        self._u_product[...] = self._u_product * u_t
        u_prod = t(self._u_product)
        self._coefs = (u_t, u_next, u_prod, u_prod * u_next)
        self._const_cache.clear()
        super()._backend_update_step(grads, variables, learning_rate)

    def _step_constants(self, t, learning_rate) -> tuple:
        u_t, u_next, u_prod, u_prod_next = (t(c) for c in self._coefs)
        one_b2_t = t(1) - np.power(t(self.beta_2), t(self.iterations + 1))
        return (t(self.beta_1), t(1 - self.beta_1), t(self.beta_2), t(1 - self.beta_2),
                u_next, t(1) - u_prod_next, t(1) - u_t, t(1) - u_prod, one_b2_t,
                t(self.epsilon), t(learning_rate))  # fmt: skip

    def update_step(self, gradient, variable, learning_rate) -> None:
        """Nadam's ``m_hat``/``v_hat`` step (see class doc)."""
        i = self._index[id(variable)]
        w = variable.data
        c = self._constants(w.dtype, learning_rate)
        u_next, one_upn, one_ut, one_up, one_b2_t, eps, lr = c[4:]
        m, v = self._moments(gradient, i, c)
        s0, s1 = self._scratch[i]
        # m_hat in s0
        np.multiply(m, u_next, s0)
        np.divide(s0, one_upn, s0)
        np.multiply(gradient, one_ut, s1)
        np.divide(s1, one_up, s1)
        np.add(s0, s1, s0)
        # sqrt(v_hat) + eps in s1
        np.divide(v, one_b2_t, s1)
        np.sqrt(s1, s1)
        np.add(s1, eps, s1)
        np.multiply(s0, lr, s0)
        np.divide(s0, s1, s0)
        np.subtract(w, s0, w)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["amsgrad"]
        return config
