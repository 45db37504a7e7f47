"""``Optimizer``: the bookkeeping every Keras optimizer shares (matches Keras 3
``keras/src/optimizers/base_optimizer.py`` and the torch backend's ``torch_optimizer.py``).

An optimizer owns plain NumPy slot arrays (momenta, velocities, ...) and updates each model
variable's ``data`` in place. One ``apply`` call: filter ``None`` gradients, unscale, clip
(``clipnorm`` per variable, else ``global_clipnorm``, else ``clipvalue``), decoupled weight decay,
``update_step`` per variable, EMA, constraints, then ``iterations += 1``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from ...autodiff.tensor import Tensor
from ...backend import floatx, np
from . import schedules as _schedules
from ._helpers import auto_name, check_number, clip_gradients, is_real
from ._state import OptimizerStateMixin

__all__ = ["Optimizer", "BaseOptimizer"]


class _IterationCount(int):
    """``optimizer.iterations``: a Python int that also answers the Variable calls Keras
    code makes on it (``.numpy()``, ``.value``)."""

    def numpy(self):
        return np.int64(self)

    @property
    def value(self):
        return int(self)


class _LearningRateValue(np.float32):
    """``optimizer.learning_rate``: a float32 number that also answers the Variable calls
    Keras code makes on it (``.numpy()``, ``.value``, ``.assign(new_lr)``, which sets the
    optimizer's learning rate)."""

    def numpy(self):
        return np.float32(self)

    @property
    def value(self):
        return np.float32(self)

    def assign(self, value):
        self._optimizer.learning_rate = value
        return self._optimizer.learning_rate

    def __repr__(self):
        return repr(np.float32(self))

    def __str__(self):
        return str(np.float32(self))


def _as_lr(value) -> np.float32:
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        value = value.item()  # a 0-d array or tensor, as a callback may pass
    check_number("learning_rate", value, low=0)
    return np.float32(value)


# What `_apply_from_fit` hands to `apply` (loss scaling, gradient accumulation, EMA) or to
# `_update` (clipping, weight decay) when set: each attribute off is None (use_ema: False).
# NOTE: read in one call per step, for speed; 0 is "set" here and takes the general path.
_APPLY_EXTRAS = attrgetter("loss_scale_factor", "gradient_accumulation_steps", "use_ema")
_NO_APPLY_EXTRAS = (None, None, False)
_UPDATE_EXTRAS = attrgetter("clipnorm", "global_clipnorm", "clipvalue", "weight_decay")
_NO_UPDATE_EXTRAS = (None, None, None, None)


class Optimizer(OptimizerStateMixin):
    """Base class of the Keras optimizers: subclasses define ``build`` and ``update_step``.

    Per ``apply`` call, with ``g`` the gradients and ``lr = learning_rate`` read once::

        g = [gi / loss_scale_factor for gi in g]                    # if set
        g = clip(g)        # clipnorm: gi * c / max(|gi|, c); global_clipnorm: scale all by
                           # c / max(global_norm, c); clipvalue: clip(gi, -c, c)
        w *= 1 - weight_decay * lr                                  # if set and not excluded
        update_step(gi, wi, lr) for each variable
        iterations += 1

    Args:
        learning_rate: a float >= 0, a ``LearningRateSchedule`` (called with ``iterations``
            before the increment) or a callable of no arguments returning the rate.
        weight_decay: decoupled weight decay factor (default None: off).
        clipnorm: clip each gradient to this L2 norm (default None).
        clipvalue: clip each gradient element to [-clipvalue, clipvalue] (default None).
        global_clipnorm: clip all gradients together to this global L2 norm (default None).
        use_ema: keep an exponential moving average of the variables (default False).
        ema_momentum: EMA momentum in [0, 1] (default 0.99).
        ema_overwrite_frequency: copy the EMA into the variables every this many steps
            (default None: only in ``finalize_variable_values``).
        loss_scale_factor: divide gradients by this (default None).
        gradient_accumulation_steps: average gradients over this many calls (an int >= 2)
            before one update (default None).
        name: the name (default: snake-case class name, made unique as in Keras).

    Raises:
        ValueError: for an unknown keyword, a negative or non-numeric learning rate, more than
            one clipping option, or an out-of-range EMA / accumulation setting.

    Matches Keras 3 ``keras/src/optimizers/base_optimizer.py`` (torch-backend weight decay form).
    """

    #: How many scratch arrays (shaped like a variable) ``update_step`` may use.
    _n_scratch = 2

    def __init__(
        self,
        learning_rate,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema=False,
        ema_momentum=0.99,
        ema_overwrite_frequency=None,
        loss_scale_factor=None,
        gradient_accumulation_steps=None,
        name=None,
        **kwargs,
    ):
        if kwargs.pop("decay", None) is not None:
            warnings.warn(
                "Argument `decay` is no longer supported and will be ignored.", stacklevel=2
            )
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        check_number("weight_decay", weight_decay, low=0, allow_none=True)
        for arg, val in (
            ("clipnorm", clipnorm),
            ("clipvalue", clipvalue),
            ("global_clipnorm", global_clipnorm),
        ):
            check_number(arg, val, low=0, allow_none=True)
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}"
            )
        if use_ema:
            check_number("ema_momentum", ema_momentum, low=0, high=1)
            if ema_overwrite_frequency is not None and (
                not isinstance(ema_overwrite_frequency, (int, np.integer))
                or ema_overwrite_frequency < 1
            ):
                raise ValueError(
                    "`ema_overwrite_frequency` must be an integer >= 1 or None. "
                    f"Received: ema_overwrite_frequency={ema_overwrite_frequency}"
                )
        if gradient_accumulation_steps is not None and (
            not isinstance(gradient_accumulation_steps, (int, np.integer))
            or gradient_accumulation_steps < 2
        ):
            raise ValueError(
                "`gradient_accumulation_steps` must be an integer >= 2. Received: "
                f"gradient_accumulation_steps={gradient_accumulation_steps}"
            )
        if loss_scale_factor is not None:
            check_number("loss_scale_factor", loss_scale_factor, low=0, low_open=True)
        self.name = name if name is not None else auto_name(type(self).__name__)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = bool(use_ema)
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.built = False
        self._iterations = 0
        self._trainable_variables: list = []
        self._index: dict[int, int] = {}
        self._slots: list = []  # every slot array, in Keras's saving order
        self._scratch: list = []  # per variable: tuple of scratch views
        self._const_cache: dict = {}  # per-step scalar constants, see `_constants`
        self._exclude_ids: set = set()
        self._exclude_pattern = None
        self._decay_cache: dict[int, bool] = {}
        if isinstance(learning_rate, _schedules.LearningRateSchedule) or (
            callable(learning_rate) and not is_real(learning_rate)
        ):
            self._learning_rate = learning_rate
        else:
            self._learning_rate = _as_lr(learning_rate)

    # -- iterations and learning rate ---------------------------------------------------------
    @property
    def iterations(self) -> int:
        """The number of updates applied (Python int; divided by the accumulation steps)."""
        if self.gradient_accumulation_steps:
            return _IterationCount(self._iterations // self.gradient_accumulation_steps)
        return _IterationCount(self._iterations)

    @iterations.setter
    def iterations(self, value: int) -> None:
        self._iterations = int(value)
        self._const_cache.clear()

    @property
    def learning_rate(self) -> np.float32:
        """The current learning rate as a float32 number (a schedule is read at ``iterations``);
        ``.numpy()`` and ``.assign(value)`` work on it as on Keras's learning-rate Variable."""
        lr = _LearningRateValue(self._get_current_learning_rate())
        lr._optimizer = self
        return lr

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if isinstance(value, _schedules.LearningRateSchedule) or (
            callable(value) and not is_real(value)
        ):
            self._learning_rate = value
            return
        if isinstance(self._learning_rate, _schedules.LearningRateSchedule):
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` object as its "
                "`learning_rate` constructor argument, hence its learning rate is not settable. "
                "If you need the learning rate to be settable, you should instantiate the "
                "optimizer with a float `learning_rate` argument."
            )
        self._learning_rate = _as_lr(value)

    def _get_current_learning_rate(self) -> np.float32:
        lr = self._learning_rate
        if isinstance(lr, _schedules.LearningRateSchedule):
            return np.float32(lr(self._iterations))
        if callable(lr):
            return np.float32(lr())
        return lr

    # -- building ---------------------------------------------------------------------------
    def build(self, variables: Sequence) -> None:
        """Record the variables to update and create the shared slots (EMA, accumulators).

        Subclasses call ``super().build(variables)`` and then ``add_optimizer_variables``.

        Raises:
            TypeError: if an entry is not a float ``Tensor``/``Variable``.
        """
        variables = list(variables)
        for i, v in enumerate(variables):
            if not isinstance(v, Tensor) or v.data.dtype.kind != "f":
                raise TypeError(
                    f"optimizer {self.name!r}: variables must be float chainrule Tensors or "
                    f"Variables, received {type(v).__name__} at index {i}"
                    + (f" with dtype {v.dtype}" if isinstance(v, Tensor) else "")
                )
        self._trainable_variables = variables
        self._index = {id(v): i for i, v in enumerate(variables)}
        # NOTE: scratch buffers are shared flat arrays (one per dtype and slot number) sized
        # for the largest variable, so a step allocates nothing and costs little memory.
        flat: dict = {}
        for v in variables:
            key = v.data.dtype
            flat[key] = max(flat.get(key, 0), v.data.size)
        bufs = {k: [np.empty(n, k) for _ in range(self._n_scratch)] for k, n in flat.items()}
        self._scratch = [
            tuple(b[: v.data.size].reshape(v.data.shape) for b in bufs[v.data.dtype])
            for v in variables
        ]
        if self.use_ema:
            self._averages = self.add_optimizer_variables(variables, "average")
        if self.gradient_accumulation_steps:
            self._accumulators = self.add_optimizer_variables(variables, "gradient_accumulator")
        self.built = True

    def add_optimizer_variables(self, variables: Sequence, names, initializer=0.0):
        """Create one slot array per variable and per name, interleaved as Keras saves them.

        Args:
            variables: the model variables (slots take their shape and dtype).
            names: a slot name or a list of names.
            initializer: the fill value (default 0).

        Returns:
            A list of arrays (one name) or a tuple of lists (several names).
        """
        single = isinstance(names, str)
        names = [names] if single else list(names)
        out = tuple([] for _ in names)
        for v in variables:
            for lst in out:
                arr = np.full(v.data.shape, initializer, dtype=v.data.dtype)
                lst.append(arr)
                self._slots.append(arr)
        return out[0] if single else out

    def add_variable(self, shape, initializer=0.0, dtype=None, name=None) -> np.ndarray:
        """Create one extra slot array (saved after those created before it)."""
        arr = np.full(tuple(shape), initializer, dtype=dtype or floatx())
        self._slots.append(arr)
        return arr

    def _get_variable_index(self, variable) -> int:
        return self._index[id(variable)]

    def _constants(self, dtype, learning_rate) -> tuple:
        # NOTE: the scalar coefficients of a step (bias corrections, 1 - beta, ...) are computed
        # once per step and dtype, in that dtype as Keras does, not once per variable: NumPy
        # scalar arithmetic costs microseconds, which dominates small variables.
        key = (dtype, learning_rate)
        c = self._const_cache.get(key)
        if c is None:
            c = self._const_cache[key] = self._step_constants(dtype.type, learning_rate)
        return c

    def _step_constants(self, t, learning_rate) -> tuple:
        """The scalars ``update_step`` needs this step, each of scalar type ``t``."""
        return (t(learning_rate),)

    # -- weight decay -------------------------------------------------------------------------
    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """Exclude variables (by identity, or by a name containing one of ``var_names``) from
        weight decay. Must be called before ``build``.

        Raises:
            ValueError: if the optimizer is already built.
        """
        if self.built:
            raise ValueError(
                "`exclude_from_weight_decay()` can only be configured before the optimizer "
                "is built."
            )
        self._exclude_ids = {id(v) for v in var_list} if var_list else set()
        self._exclude_pattern = re.compile("|".join(set(var_names))) if var_names else None
        self._decay_cache = {}

    def _use_weight_decay(self, variable) -> bool:
        key = id(variable)
        use = self._decay_cache.get(key)
        if use is None:
            use = key not in self._exclude_ids and not (
                self._exclude_pattern is not None
                and self._exclude_pattern.search(str(getattr(variable, "name", ""))) is not None
            )
            self._decay_cache[key] = use
        return use

    def _apply_weight_decay(self, variables) -> None:
        """Decay each variable not excluded: ``w *= 1 - weight_decay * learning_rate`` (Keras's
        signature, so that a subclass written for Keras can override it)."""
        if self.weight_decay is None:
            return
        lr = self._get_current_learning_rate()
        # NOTE: the torch backend's form `w *= 1 - wd*lr` (one rounding of the factor).
        factor = np.float32(1) - np.float32(self.weight_decay) * np.float32(lr)
        for v in variables:
            if self._use_weight_decay(v):
                np.multiply(v.data, factor.astype(v.data.dtype), out=v.data)

    def _clip_gradients(self, grads: list) -> list:
        return clip_gradients(grads, self.clipnorm, self.global_clipnorm, self.clipvalue)

    # -- applying -----------------------------------------------------------------------------
    def update_step(self, gradient: np.ndarray, variable, learning_rate: np.float32) -> None:
        """Apply the rule to one variable in place (``variable.data``); subclasses define it."""
        raise NotImplementedError(f"optimizer {type(self).__name__} must implement `update_step`")

    def apply_gradients(self, grads_and_vars) -> int:
        """Apply ``[(gradient, variable), ...]``; returns ``iterations`` (see ``apply``)."""
        pairs = list(grads_and_vars)
        if not pairs:
            return self.iterations
        grads, variables = zip(*pairs, strict=True)
        self.apply(list(grads), list(variables))
        return self.iterations

    def apply(self, grads: Sequence, trainable_variables: Sequence | None = None) -> None:
        """Update the variables in place from their gradients, then ``iterations += 1``.

        Args:
            grads: one gradient per variable: NumPy arrays, chainrule Tensors, Python numbers,
                or None (that variable is skipped, with a warning, as in Keras).
            trainable_variables: the variables (default: those given to ``build``); the first
                call builds the optimizer on them.

        Raises:
            ValueError: if not built and no variables are given, the counts differ, a variable
                is unknown to this optimizer, a gradient's shape differs from its variable's, or
                every gradient is None.
        """
        if len(grads) == 0:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer must already be "
                    "built on a list of variables. Call `optimizer.build(trainable_variables)` "
                    "first."
                )
            variables = self._trainable_variables
        else:
            variables = list(trainable_variables)
            if not self.built:
                self.build(variables)
            index = self._index
            for v in variables:
                if id(v) not in index:
                    raise ValueError(
                        f"Unknown variable: {getattr(v, 'name', type(v).__name__)!r}. This "
                        "optimizer can only be called for the variables it was originally "
                        "built with. When working with a new set of variables, you should "
                        "recreate a new optimizer instance."
                    )
        if len(grads) != len(variables):
            raise ValueError(
                f"received {len(grads)} gradients for {len(variables)} variables; pass one "
                "gradient (or None) per variable"
            )
        grads, variables = self._standardize(grads, variables)
        if self.loss_scale_factor is not None:
            grads = [g / g.dtype.type(self.loss_scale_factor) for g in grads]
        steps = self.gradient_accumulation_steps
        if steps:
            accs = [self._accumulators[self._index[id(v)]] for v in variables]
            if (self._iterations + 1) % steps == 0:
                grads = [(g + a) / a.dtype.type(steps) for g, a in zip(grads, accs, strict=True)]
                self._update(grads, variables)
                for a in accs:
                    a.fill(0)
            else:
                for g, a in zip(grads, accs, strict=True):
                    np.add(a, g, out=a)
        else:
            self._update(grads, variables)
        if self.use_ema:
            self._update_moving_average()
        for v in variables:
            constraint = getattr(v, "constraint", None)
            if constraint is not None:
                new = constraint(v)
                v.data[...] = new.data if isinstance(new, Tensor) else new
        self._iterations += 1
        self._const_cache.clear()

    def _apply_from_fit(self, grads: list, variables: list) -> None:
        """``apply`` for ``fit``'s own training step.

        The gradients come from ``chainrule.grad``: one array per variable, of its shape and
        dtype, never None, and ``variables`` is the list this optimizer was built on, so the
        checks and conversions of ``apply`` cannot fail and are skipped. A subclass that
        overrides ``apply`` is called through it; the other features (loss scaling, gradient
        accumulation, EMA, variable constraints) take ``apply``'s own path.
        """
        if self._fit_skips_apply(variables):
            self._fit_update(grads, variables, self._rule_only())
        else:
            self.apply(grads, variables)

    def _fit_skips_apply(self, variables) -> bool:
        """True when ``apply`` would do no more than :meth:`_fit_update` for fit's gradients
        of ``variables``: ``apply`` is the base class's and there is nothing to scale,
        accumulate, average or constrain (asked on every step by :meth:`_apply_from_fit`,
        once an epoch by fit's sealed epochs, ``trainers/array_step.py``)."""
        return (type(self).apply is Optimizer.apply and _APPLY_EXTRAS(self) == _NO_APPLY_EXTRAS
                and self._fit_plain(variables))  # fmt: skip

    def _rule_only(self) -> bool:
        """True when ``_update`` would do no more than the update rule: nothing to clip or
        decay, and ``_update`` and its parts are the base class's."""
        cls = type(self)
        return (_UPDATE_EXTRAS(self) == _NO_UPDATE_EXTRAS and cls._update is Optimizer._update
                and cls._clip_gradients is Optimizer._clip_gradients
                and cls._apply_weight_decay is Optimizer._apply_weight_decay)  # fmt: skip

    def _fit_update(self, grads: list, variables: list, rule_only: bool) -> None:
        """``apply``'s update where :meth:`_fit_skips_apply`: ``_update`` (clipping, weight
        decay, the rule), or the rule alone where :meth:`_rule_only`; then the step count."""
        if rule_only:
            self._backend_update_step(grads, variables, self._get_current_learning_rate())
        else:
            self._update(grads, variables)
        self._iterations += 1
        self._const_cache.clear()

    def _fit_plain(self, variables) -> bool:
        """True when no variable in ``variables`` has a ``constraint`` attribute for ``apply``
        to honour (asked once per list, since ``fit`` passes the same list every step)."""
        seen = self.__dict__.get("_plain_for")
        if seen is not None and seen[0] is variables:
            return seen[1]
        plain = all(getattr(v, "constraint", None) is None for v in variables)
        self.__dict__["_plain_for"] = (variables, plain)
        return plain

    def _update(self, grads, variables) -> None:
        grads = self._clip_gradients(grads)
        self._apply_weight_decay(variables)
        self._backend_update_step(grads, variables, self._get_current_learning_rate())

    def _backend_update_step(self, grads, variables, learning_rate) -> None:
        for g, v in zip(grads, variables, strict=True):
            self.update_step(g, v, learning_rate)

    def _standardize(self, grads, variables):
        out_g, out_v, missing = [], [], []
        for g, v in zip(grads, variables, strict=True):
            if g is None:
                missing.append(getattr(v, "path", getattr(v, "name", "tensor")))
                continue
            if isinstance(g, Tensor):
                g = g.data
            dtype = v.data.dtype
            if type(g) is not np.ndarray or g.dtype != dtype:
                g = np.asarray(g, dtype=dtype)
            if g.shape != v.data.shape:
                raise ValueError(
                    f"gradient for variable {getattr(v, 'name', 'tensor')!r} has shape "
                    f"{g.shape}, expected the variable's shape {v.data.shape}"
                )
            out_g.append(g)
            out_v.append(v)
        if not out_g:
            raise ValueError("No gradients provided for any variable.")
        if missing:
            warnings.warn(
                f"Gradients do not exist for variables {missing} when minimizing the loss. If "
                "using `model.compile()`, did you forget to provide a `loss` argument?",
                stacklevel=3,
            )
        return out_g, out_v

    # -- misc ---------------------------------------------------------------------------------
    def scale_loss(self, loss):
        """Multiply ``loss`` by ``loss_scale_factor`` when set."""
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (learning rate as a float32 value, or a serialised
        schedule), as Keras writes them."""
        lr = self._learning_rate
        if isinstance(lr, _schedules.LearningRateSchedule):
            lr = _schedules.serialize(lr)
        elif not callable(lr):
            lr = float(lr)
        return {
            "name": self.name,
            "learning_rate": lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Optimizer:
        """Rebuild an optimizer (without state) from ``get_config``'s output."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _schedules.deserialize(
                config["learning_rate"], custom_objects=custom_objects
            )
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} learning_rate={self.learning_rate}>"


BaseOptimizer = Optimizer
