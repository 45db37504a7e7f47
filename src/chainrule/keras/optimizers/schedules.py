"""``keras.optimizers.schedules``: learning rate as a function of the optimizer step.

Every schedule computes in float32 (as Keras does for a Python-float initial rate) and returns a
NumPy float32 number. Matches Keras 3 ``keras/src/optimizers/schedules/learning_rate_schedule.py``.
"""

from __future__ import annotations

import math
from typing import Any

from ...autodiff.tensor import Tensor
from ...backend import np
from .._serialization import serialize_object

__all__ = [
    "LearningRateSchedule",
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "InverseTimeDecay",
    "CosineDecay",
    "CosineDecayRestarts",
    "serialize",
    "deserialize",
]

_F = np.float32
_PI = np.float32(math.pi)


def _step(step) -> np.ndarray:
    if isinstance(step, Tensor):
        step = step.data
    arr = np.asarray(step)
    if arr.dtype.kind not in "iuf" or arr.ndim != 0:
        raise ValueError(f"step must be a scalar number, received step={step!r}")
    return arr


def _check_number(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"Argument `{name}` must be a number. Received: {name}={value!r}")


def _check_steps(name: str, value) -> None:
    _check_number(name, value)
    if value <= 0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value}")


class LearningRateSchedule:
    """Base class: subclasses define ``__call__(step) -> float32`` and ``get_config()``.

    Example:

    >>> class Halving(LearningRateSchedule):
    ...     def __call__(self, step):
    ...         return np.float32(0.1 * 0.5 ** int(step))
    ...     def get_config(self):
    ...         return {}
    >>> float(Halving()(2))
    0.02500000037252903
    """

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`."
        )

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `get_config()` in "
            "order to be serializable."
        )

    @classmethod
    def from_config(cls, config: dict) -> LearningRateSchedule:
        """Rebuild the schedule from ``get_config``'s output."""
        return cls(**config)


class _RateDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: their arguments, checks and config, and
    the progress ``step / decay_steps`` (floored when ``staircase``) that their formulas use.

    Raises:
        ValueError: if ``decay_steps <= 0`` or an argument is not a number.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase, name):
        _check_number("initial_learning_rate", initial_learning_rate)
        _check_steps("decay_steps", decay_steps)
        _check_number("decay_rate", decay_rate)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def _progress(self, step) -> np.float32:
        p = _F(_step(step)) / _F(self.decay_steps)
        return np.floor(p) if self.staircase else p

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class ExponentialDecay(_RateDecay):
    """Exponential decay: ``initial_learning_rate * decay_rate ** (step / decay_steps)``.

    With ``staircase=True`` the exponent is ``floor(step / decay_steps)``.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: a number > 0.
        decay_rate: the factor per ``decay_steps``.
        staircase: decay in discrete intervals (default False).
        name: default "ExponentialDecay".

    Raises:
        ValueError: if ``decay_steps <= 0`` or an argument is not a number.

    >>> float(ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(20))
    0.02500000037252903
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        decay_rate,
        staircase=False,
        name="ExponentialDecay",
    ):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step) -> np.float32:
        return _F(self.initial_learning_rate) * np.power(_F(self.decay_rate), self._progress(step))


class PiecewiseConstantDecay(LearningRateSchedule):
    """Piecewise constant: ``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, and ``values[-1]`` after the last boundary.

    Args:
        boundaries: non-decreasing step boundaries (an integer step compares against them cast
            to integers, as Keras).
        values: one more value than boundaries.
        name: default "PiecewiseConstant".

    Raises:
        ValueError: if ``len(boundaries) != len(values) - 1`` or the boundaries decrease.

    >>> float(PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])(15))
    0.5
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. Received: "
                f"boundaries={boundaries} of length {len(boundaries)}, and values={values} of "
                f"length {len(values)}."
            )
        for i, b in enumerate(boundaries):
            _check_number(f"boundaries[{i}]", b)
        for i, v in enumerate(values):
            _check_number(f"values[{i}]", v)
        if any(b > a for a, b in zip(boundaries[1:], boundaries[:-1], strict=True)):
            raise ValueError(f"boundaries must be non-decreasing, received boundaries={boundaries}")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step) -> np.float32:
        step = _step(step)
        for b, v in zip(self.boundaries, self.values, strict=False):
            if step <= np.asarray(b).astype(step.dtype):
                return _F(v)
        return _F(self.values[-1])

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """Polynomial decay to ``end_learning_rate`` over ``decay_steps``::

        step = min(step, decay_steps)          # cycle=False
        # cycle=True: decay_steps *= ceil(step / decay_steps) (1 at step 0)
        lr = (initial - end) * (1 - step / decay_steps) ** power + end

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: a number > 0.
        end_learning_rate: default 0.0001.
        power: default 1.0.
        cycle: restart past ``decay_steps`` (default False).
        name: default "PolynomialDecay".

    Raises:
        ValueError: if ``decay_steps <= 0``.

    >>> round(float(PolynomialDecay(0.1, 10, end_learning_rate=0.0)(5)), 6)
    0.05
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        end_learning_rate=0.0001,
        power=1.0,
        cycle=False,
        name="PolynomialDecay",
    ):
        _check_number("initial_learning_rate", initial_learning_rate)
        _check_steps("decay_steps", decay_steps)
        _check_number("end_learning_rate", end_learning_rate)
        _check_number("power", power)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step) -> np.float32:
        step = _F(_step(step))
        decay_steps = _F(self.decay_steps)
        if self.cycle:
            mult = _F(1.0) if step == 0 else np.ceil(step / decay_steps)
            decay_steps = decay_steps * mult
        else:
            step = np.minimum(step, decay_steps)
        p = step / decay_steps
        init, end = _F(self.initial_learning_rate), _F(self.end_learning_rate)
        return (init - end) * np.power(_F(1) - p, _F(self.power)) + end

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class InverseTimeDecay(_RateDecay):
    """Inverse time decay: ``initial_learning_rate / (1 + decay_rate * step / decay_steps)``.

    With ``staircase=True``, ``step / decay_steps`` is floored.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: a number > 0.
        decay_rate: the decay rate.
        staircase: default False.
        name: default "InverseTimeDecay".

    Raises:
        ValueError: if ``decay_steps <= 0``.

    >>> float(InverseTimeDecay(0.1, decay_steps=1, decay_rate=1.0)(1))
    0.05000000074505806
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        decay_rate,
        staircase=False,
        name="InverseTimeDecay",
    ):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step) -> np.float32:
        rate = _F(self.decay_rate) * self._progress(step)
        return _F(self.initial_learning_rate) / (_F(1) + rate)


def _cosine(fraction, alpha) -> np.float32:
    decayed = _F(0.5) * (_F(1) + np.cos(_PI * fraction))
    return (_F(1) - _F(alpha)) * decayed + _F(alpha)


class CosineDecay(LearningRateSchedule):
    """Cosine decay, with an optional linear warmup (Loshchilov & Hutter, SGDR, 2017)::

        # warmup_target is None:
        s = min(step, decay_steps)
        lr = initial * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)
        # else, s = min(step, warmup_steps + decay_steps):
        lr = initial + (warmup_target - initial) * s / warmup_steps     # s < warmup_steps
        lr = warmup_target * cosine(s - warmup_steps)                   # afterwards

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: a number > 0.
        alpha: the floor, as a fraction of the decayed-from rate (default 0.0).
        name: default "CosineDecay".
        warmup_target: the rate reached after warmup (default None: no warmup).
        warmup_steps: default 0.

    Raises:
        ValueError: if ``decay_steps <= 0``.

    >>> round(float(CosineDecay(0.1, 10)(5)), 6)
    0.05
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        alpha=0.0,
        name="CosineDecay",
        warmup_target=None,
        warmup_steps=0,
    ):
        _check_number("initial_learning_rate", initial_learning_rate)
        _check_steps("decay_steps", decay_steps)
        _check_number("alpha", alpha)
        if warmup_target is not None:
            _check_number("warmup_target", warmup_target)
        _check_number("warmup_steps", warmup_steps)
        if warmup_steps < 0:
            raise ValueError(f"Argument `warmup_steps` must be >= 0. Received: {warmup_steps}")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target

    def __call__(self, step) -> np.float32:
        step = _F(_step(step))
        init, decay_steps = _F(self.initial_learning_rate), _F(self.decay_steps)
        if self.warmup_target is None:
            step = np.minimum(step, decay_steps)
            return init * _cosine(step / decay_steps, self.alpha)
        target, warmup = _F(self.warmup_target), _F(self.warmup_steps)
        step = np.minimum(step, decay_steps + warmup)
        if step < warmup:
            return (target - init) * (step / warmup) + init
        return target * _cosine((step - warmup) / decay_steps, self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter 2017)::

        f = step / first_decay_steps
        # t_mul == 1: i = floor(f); f = f - i
        # else: i = floor(log(1 - f * (1 - t_mul)) / log(t_mul))
        #       f = (f - (1 - t_mul**i) / (1 - t_mul)) / t_mul**i
        lr = initial * ((1 - alpha) * 0.5 * m_mul**i * (1 + cos(pi * f)) + alpha)

    Args:
        initial_learning_rate: the rate at step 0.
        first_decay_steps: steps in the first period, > 0.
        t_mul: period length factor per restart (default 2.0).
        m_mul: rate factor per restart (default 1.0).
        alpha: the floor, as a fraction of ``initial_learning_rate`` (default 0.0).
        name: default "SGDRDecay".

    Raises:
        ValueError: if ``first_decay_steps <= 0``.

    >>> round(float(CosineDecayRestarts(0.1, 10)(10)), 6)
    0.1
    """

    def __init__(
        self,
        initial_learning_rate,
        first_decay_steps,
        t_mul=2.0,
        m_mul=1.0,
        alpha=0.0,
        name="SGDRDecay",
    ):
        _check_number("initial_learning_rate", initial_learning_rate)
        _check_steps("first_decay_steps", first_decay_steps)
        for arg, val in (("t_mul", t_mul), ("m_mul", m_mul), ("alpha", alpha)):
            _check_number(arg, val)
        if t_mul <= 0:
            raise ValueError(f"Argument `t_mul` must be > 0. Received: t_mul={t_mul}")
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step) -> np.float32:
        frac = _F(_step(step)) / _F(self.first_decay_steps)
        t_mul = _F(self._t_mul)
        if t_mul == 1:
            i = np.floor(frac)
            frac = frac - i
        else:
            i = np.floor(np.log(_F(1) - frac * (_F(1) - t_mul)) / np.log(t_mul))
            sum_r = (_F(1) - np.power(t_mul, i)) / (_F(1) - t_mul)
            frac = (frac - sum_r) / np.power(t_mul, i)
        m_fac = np.power(_F(self._m_mul), i)
        cosine = _F(0.5) * m_fac * (_F(1) + np.cos(_PI * frac))
        alpha = _F(self.alpha)
        return _F(self.initial_learning_rate) * ((_F(1) - alpha) * cosine + alpha)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self._t_mul,
            "m_mul": self._m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


_BUILTIN = {
    cls.__name__: cls
    for cls in (
        ExponentialDecay,
        PiecewiseConstantDecay,
        PolynomialDecay,
        InverseTimeDecay,
        CosineDecay,
        CosineDecayRestarts,
    )
}


def serialize(learning_rate_schedule: LearningRateSchedule) -> dict[str, Any]:
    """The Keras serialised form ``{"module", "class_name", "config", "registered_name"}``.

    Raises:
        TypeError: if the argument is not a ``LearningRateSchedule``.
    """
    if not isinstance(learning_rate_schedule, LearningRateSchedule):
        raise TypeError(
            "serialize expects a LearningRateSchedule, received "
            f"{type(learning_rate_schedule).__name__}"
        )
    return serialize_object(learning_rate_schedule, "keras.optimizers.schedules", _BUILTIN)


def deserialize(config: dict, custom_objects: dict | None = None) -> LearningRateSchedule:
    """Rebuild a schedule from ``serialize``'s output (or ``{"class_name", "config"}``).

    Raises:
        ValueError: for an unknown class name (the message lists the known ones).
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"deserialize expects a dict with 'class_name' and 'config', received {config!r}"
        )
    name = config["class_name"]
    custom = custom_objects or {}
    cls = custom.get(name) or custom.get(config.get("registered_name")) or _BUILTIN.get(name)
    if cls is None:
        raise ValueError(
            f"Unknown decay: '{name}'. Known schedules: {sorted(_BUILTIN)}; pass other classes "
            "in `custom_objects`."
        )
    return cls.from_config(config.get("config", {}))
