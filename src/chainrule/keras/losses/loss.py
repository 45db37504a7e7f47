"""The ``Loss`` base class, ``LossFunctionWrapper``, rank matching and the reductions.

Matches Keras 3 ``keras/src/losses/loss.py`` (``Loss``, ``squeeze_or_expand_to_same_rank``,
``reduce_values``, ``reduce_weighted_values``) and ``losses.py:LossFunctionWrapper``.

Convention for every loss function in this package: ``y_pred`` becomes a float Tensor (its own
float dtype is kept; integer data becomes ``floatx()``), ``y_true`` is cast to ``y_pred``'s
dtype, and the result is a chainrule Tensor differentiable with respect to ``y_pred`` (and to
``y_true`` when that is a Tensor that requires grad).
"""

from __future__ import annotations

import re

from ... import ops
from ...autodiff.tensor import Tensor, as_array
from ...backend import floatx, np

__all__ = [
    "Loss",
    "LossFunctionWrapper",
    "standardize_reduction",
    "squeeze_or_expand_to_same_rank",
    "reduce_values",
    "reduce_weighted_values",
]

_REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")


def standardize_reduction(reduction):
    """Return ``reduction`` unchanged if Keras accepts it.

    Raises:
        ValueError: naming the allowed values and the one received.
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"Invalid value for argument `reduction`. Expected one of {list(_REDUCTIONS)}. "
            f"Received: reduction={reduction!r}"
        )
    return reduction


# NOTE: arrays use plain indexing (a view): np.expand_dims/np.squeeze cost ~10 us a call,
# and this runs on every training step.
def _expand_last(x):
    return ops.expand_dims(x, -1) if isinstance(x, Tensor) else np.asarray(x)[..., None]


def _squeeze_last(x):
    return ops.squeeze(x, -1) if isinstance(x, Tensor) else np.asarray(x)[..., 0]


def squeeze_or_expand_to_same_rank(x1, x2, expand_rank_1: bool = True):
    """Make the ranks of ``x1`` and ``x2`` equal when they differ by one trailing size-1 axis.

    If one has one more axis and that last axis has size 1: a rank-1 partner is expanded to
    ``(N, 1)`` (when ``expand_rank_1``), otherwise the size-1 axis is squeezed. So ``(N,)``
    against ``(N, 1)`` gives ``(N, 1)`` and ``(N, T)`` against ``(N, T, 1)`` gives ``(N, T)``;
    anything else is returned unchanged (never broadcast to ``(N, N)``).

    Args:
        x1, x2: Tensors or arrays.
        expand_rank_1: expand a rank-1 input instead of squeezing the other (default True).

    Returns:
        ``(x1, x2)``, each still a Tensor or array as given.

    Matches Keras 3 ``keras/src/losses/loss.py:squeeze_or_expand_to_same_rank``.

    >>> import numpy as np
    >>> a, b = squeeze_or_expand_to_same_rank(np.zeros(4), np.zeros((4, 1)))
    >>> a.shape, b.shape
    ((4, 1), (4, 1))
    """
    r1, r2 = np.ndim(x1), np.ndim(x2)
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and np.shape(x1)[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = _expand_last(x2)
        else:
            x1 = _squeeze_last(x1)
    elif r2 == r1 + 1 and np.shape(x2)[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = _expand_last(x1)
        else:
            x2 = _squeeze_last(x2)
    return x1, x2


def _as_pred(y_pred) -> Tensor:
    """``y_pred`` as a float Tensor: its float dtype is kept, integers become ``floatx()``."""
    if isinstance(y_pred, Tensor):
        return y_pred if y_pred.dtype.kind == "f" else ops.astype(y_pred, floatx())
    arr = as_array(y_pred)
    if arr.dtype.kind != "f":
        arr = arr.astype(floatx())
    return Tensor._wrap(arr)


def _as_true(y_true, dtype):
    """``y_true`` cast to ``dtype``: an array, or a Tensor if it is one that requires grad."""
    if isinstance(y_true, Tensor):
        if y_true.requires_grad:
            return y_true if y_true.dtype == dtype else ops.astype(y_true, dtype)
        y_true = y_true.data
    arr = np.asarray(y_true)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"y_true must be numeric (an array, list or Tensor of numbers), received "
            f"{type(y_true).__name__} with dtype {arr.dtype}"
        )
    return arr if arr.dtype == dtype else arr.astype(dtype)


def _data(x):
    return x.data if isinstance(x, Tensor) else x


def _prepare(y_true, y_pred, name: str, same_rank: bool = True, same_shape: bool = True):
    """Convert the inputs, match ranks and check shapes; returns ``(y_true, y_pred)``.

    Raises:
        ValueError: naming both shapes when they still differ (a scalar ``y_true`` is
            allowed to broadcast).
    """
    y_pred = _as_pred(y_pred)
    y_true = _as_true(y_true, y_pred.dtype)
    if same_rank:
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if same_shape and np.shape(y_true) != y_pred.shape and np.ndim(y_true) != 0:
        raise ValueError(
            f"{name}: y_true and y_pred must have the same shape (after matching a trailing "
            f"size-1 axis), received y_true.shape={np.shape(y_true)} and "
            f"y_pred.shape={y_pred.shape}"
        )
    return y_true, y_pred


def _in_float32(fn, x):
    """``fn(x)``, computed in float32 for a half-precision ``x`` and rounded back to its dtype.

    NOTE: Keras's torch backend upcasts half precision for its reductions and log-softmax and
    rounds once; in float16 a long sum drifts by several ulps and logsumexp - logit loses up
    to a few percent of a small loss."""
    if x.dtype.itemsize >= 4:
        return fn(x)
    return ops.astype(fn(ops.astype(x, "float32")), x.dtype)


def _mean(x: Tensor, axis: int = -1) -> Tensor:
    n = x.shape[axis] if x.ndim else 1
    # Sum then divide: one NumPy reduction cheaper than np.mean, same value in float32.
    return _in_float32(lambda v: ops.divide(ops.sum(v, axis=axis), float(max(n, 1))), x)


def _broadcast_weights(values, sample_weight):
    """Rank-match ``sample_weight`` to ``values``, then check it broadcasts."""
    values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
    vs, ws = np.shape(values), np.shape(sample_weight)
    if 0 < len(ws) < len(vs) and ws == vs[: len(ws)]:
        # NOTE: per-sample weights of shape (N,) against values (N, T) weight whole samples.
        # Keras 3 broadcasts from the right instead (an error, or the time axis when T == N);
        # we follow the documented meaning of `sample_weight`.
        sample_weight = sample_weight.reshape(ws + (1,) * (len(vs) - len(ws)))
    try:
        np.broadcast_shapes(vs, np.shape(sample_weight))
    except ValueError:
        raise ValueError(
            f"sample_weight of shape {ws} cannot be broadcast to the per-sample losses of "
            f"shape {vs}"
        ) from None
    return values, sample_weight


def reduce_values(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Reduce (already weighted) loss ``values`` to a scalar.

    ``"sum"``: ``sum(values)``. ``"sum_over_batch_size"`` and ``"mean"``:
    ``sum(values) / values.size``. ``"mean_with_sample_weight"``: ``sum(values) /
    sum(sample_weight)`` (``values.size`` without weights). A zero divisor gives 0
    (``divide_no_nan``). ``None``/``"none"``, or values of shape ``()`` or ``(0,)``: unchanged.

    Dtypes as Keras 3 (torch backend): float16 values are summed in float32 and rounded once;
    float64 values give a float32 result for the three divided reductions (Keras's
    ``divide_no_nan`` promotes float64 to float32), a float64 one for ``"sum"``.

    Matches Keras 3 ``keras/src/losses/loss.py:reduce_values``.
    """
    if reduction is None or reduction == "none" or values.shape in ((), (0,)):
        return values
    dtype = values.dtype
    if (sample_weight is None and reduction in ("sum_over_batch_size", "mean") and values.size
            and dtype == np.float32):  # fmt: skip
        # one node instead of sum + divide; np.mean is the same float32 sum / size
        return ops.mean(values)
    total = _in_float32(ops.sum, values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        w = np.asarray(_data(sample_weight))
        divisor = float(np.sum(w, dtype=np.float32 if w.dtype.itemsize < 4 else w.dtype))
    else:
        divisor = float(values.size)
    if dtype == np.float64:
        # NOTE: Keras's result: the float64 sum rounded to float32, divided in float32.
        total = ops.astype(total, "float32")
    if divisor == 0:
        return ops.multiply(total, 0.0)
    return ops.divide(total, np.asarray(divisor, total.dtype))


def reduce_weighted_values(
    values, sample_weight=None, mask=None, reduction="sum_over_batch_size", dtype=None
):
    """Apply ``sample_weight`` and ``mask`` to per-sample loss ``values``, then reduce them.

    ``sample_weight`` is rank-matched to ``values`` (:func:`squeeze_or_expand_to_same_rank`),
    leading-axis weights are broadcast over the remaining axes, and ``values * sample_weight``
    is reduced with :func:`reduce_values`. A boolean ``mask`` (True = valid) zeroes invalid
    entries; for ``"sum_over_batch_size"``/``"mean"`` the valid ones are scaled by
    ``total / valid``, so the result is the mean over valid entries.

    Raises:
        ValueError: for an unknown ``reduction``, or weights that do not broadcast (naming
            both shapes).

    Matches Keras 3 ``keras/src/losses/loss.py:reduce_weighted_values`` and ``apply_mask``.
    """
    reduction = standardize_reduction(reduction)
    if not isinstance(values, Tensor):
        values = Tensor._wrap(as_array(values, dtype))
    dtype = values.dtype
    if sample_weight is not None:
        sample_weight = _as_true(sample_weight, dtype)
    if mask is not None:
        mask = np.asarray(_data(mask), dtype=bool)
        if reduction in ("mean", "sum_over_batch_size"):
            valid = int(mask.sum())
            scale = mask.size / valid if valid else 0.0
            float_mask = np.where(mask, scale, 0.0).astype(dtype)
        else:
            float_mask = mask.astype(dtype)
        if sample_weight is None:
            sample_weight = float_mask
        else:
            # (per-sample weights of shape (N,) weight whole samples here too)
            float_mask, sample_weight = _broadcast_weights(float_mask, sample_weight)
            sample_weight = sample_weight * float_mask
    if sample_weight is not None:
        values, sample_weight = _broadcast_weights(values, sample_weight)
        values = ops.multiply(values, sample_weight)
    return reduce_values(values, sample_weight, reduction)


def _snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


class Loss:
    """Base class of losses: ``loss = reduce(call(y_true, y_pred) * sample_weight)``.

    Subclasses implement ``call(y_true, y_pred)`` returning per-sample values.

    Args:
        name: the loss name (default: the class name in snake_case).
        reduction: ``"sum_over_batch_size"`` (default: ``sum(values * sw) / values.size``),
            ``"sum"``, ``"mean"`` (as sum_over_batch_size), ``"mean_with_sample_weight"``
            (``sum(values * sw) / sum(sw)``), or ``"none"``/``None`` (no reduction).
        dtype: the computation dtype (default ``floatx()``, float32); ``y_pred`` is cast to it.

    ``__call__(y_true, y_pred, sample_weight=None)`` returns a scalar Tensor, or the weighted
    per-sample values (shape ``y_pred.shape[:-1]`` for most losses) with reduction "none". The
    values are in ``dtype``; so is the scalar, except that a float64 loss reduced by a division
    ("sum_over_batch_size", "mean", "mean_with_sample_weight") gives float32, as Keras's does
    on torch (see :func:`reduce_values`).

    Raises:
        ValueError: for an unknown ``reduction`` or a non-float ``dtype``.

    Matches Keras 3 ``keras/src/losses/loss.py:Loss``. Differences: ``y_true`` is not cast to
    ``dtype`` here (each loss casts it to ``y_pred``'s dtype; integer labels stay exact), nested
    structures of tensors are not supported, and names are not made unique.
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or _snake_case(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        dt = np.dtype(dtype or floatx())
        if dt.kind != "f":
            raise ValueError(f"dtype must be a float dtype, received dtype={dtype!r}")
        self._dtype = dt

    @property
    def dtype(self) -> str:
        return self._dtype.name

    def __call__(self, y_true, y_pred, sample_weight=None) -> Tensor:
        _, values, mask = self._values(y_true, y_pred)
        return reduce_weighted_values(values, sample_weight, mask, self.reduction)

    def _values(self, y_true, y_pred):
        """``(y_pred cast to the loss's dtype, per-sample values as a Tensor, mask or None)``:
        what ``__call__`` reduces (fit's array step reads them too)."""
        y_pred = _cast_pred(y_pred, self._dtype)
        values, mask = self._call_with_mask(y_true, y_pred)
        if not isinstance(values, Tensor):
            values = Tensor._wrap(as_array(values, self._dtype))
        elif values.dtype != self._dtype:
            values = ops.astype(values, self._dtype)  # (Keras reduces in the loss's dtype)
        return y_pred, values, mask

    def _call_with_mask(self, y_true, y_pred):
        # Losses that drop entries (sparse cross-entropy with ignore_class) override this to
        # return the mask that the reduction must honour (Keras carries it on the tensor).
        return self.call(y_true, y_pred), None

    def call(self, y_true, y_pred):
        """Per-sample loss values; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred)")

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


def _cast_pred(y_pred, dtype) -> Tensor:
    if isinstance(y_pred, Tensor):
        return y_pred if y_pred.dtype == dtype else ops.astype(y_pred, dtype)
    return Tensor._wrap(as_array(y_pred, dtype))


class LossFunctionWrapper(Loss):
    """A ``Loss`` around a function ``fn(y_true, y_pred, **kwargs) -> per-sample values``.

    ``call`` first matches ranks with :func:`squeeze_or_expand_to_same_rank`, then calls
    ``fn(y_true, y_pred, **kwargs)``.

    Args:
        fn: the loss function.
        reduction: as :class:`Loss` (default ``"sum_over_batch_size"``).
        name: default: ``"loss_function_wrapper"``.
        dtype: as :class:`Loss`.
        **kwargs: extra keyword arguments passed to ``fn`` (e.g. ``from_logits=True``).

    Raises:
        TypeError: if ``fn`` is not callable.

    Matches Keras 3 ``keras/src/losses/losses.py:LossFunctionWrapper``.

    >>> from chainrule.keras import losses
    >>> float(losses.LossFunctionWrapper(losses.mean_squared_error)([[1.0]], [[3.0]]))
    4.0
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"fn must be callable, received fn={fn!r}")
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def __call__(self, y_true, y_pred, sample_weight=None) -> Tensor:
        spec = self._fast_mean(y_true, y_pred, sample_weight)
        if spec is not None:
            op, args, kwargs = spec
            return op(*args, **kwargs)
        return super().__call__(y_true, y_pred, sample_weight)

    def _fast_mean(self, y_true, y_pred, sample_weight):
        """The one-node form of this loss for these inputs (see ``register_fast_mean``):
        ``(primitive, args, kwargs)`` whose call is the loss, or None for the general path."""
        if (sample_weight is not None or self.reduction not in ("sum_over_batch_size", "mean")
                or type(self).call is not _WRAPPER_CALL or "call" in vars(self)):
            return None  # (another `call`, the class's or the object's, is what Keras runs)
        fast = _FAST_MEANS.get(getattr(self.fn, "__name__", None))
        if fast is None or fast[0] is not self.fn or not _fast_inputs(y_true, y_pred,
                                                                      self._dtype):  # fmt: skip
            return None
        return fast[1](y_true, y_pred, self._dtype, **self._fn_kwargs)

    def call(self, y_true, y_pred):
        y_true, y_pred = squeeze_or_expand_to_same_rank(_true_array(y_true), y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def _call_with_mask(self, y_true, y_pred):
        # A loss function whose values carry a mask in Keras (``circle``) gives it as its
        # ``values_mask`` attribute, so the reduction honours it whoever wraps the function.
        values = self.call(y_true, y_pred)
        mask_of = getattr(self.fn, "values_mask", None)
        return values, None if mask_of is None else mask_of(values)

    def get_config(self) -> dict:
        from . import serialize  # noqa: PLC0415 - the registry imports this module

        config = super().get_config()
        config["fn"] = serialize(self.fn)
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config: dict):
        if "fn" in config:
            from . import deserialize  # noqa: PLC0415

            config = dict(config)
            config["fn"] = deserialize(config["fn"])
        return cls(**config)

    def __repr__(self):
        fn = getattr(self.fn, "__name__", repr(self.fn))
        return f"<{type(self).__name__}({fn}, name={self.name!r}, kwargs={self._fn_kwargs})>"


_WRAPPER_CALL = LossFunctionWrapper.call  # as defined, before anything can patch it

# NOTE: fused for speed. A loss function may register a one-node form of its unweighted
# "sum_over_batch_size" mean for the inputs a training loop passes (a Tensor prediction and an
# array target of matching shape); it returns None for anything else, and the general path
# (conversions, rank matching, checks, reduction) runs. name -> (function, fast form)
_FAST_MEANS: dict = {}


def register_fast_mean(fn, fast) -> None:
    """Register ``fast(y_true, y_pred, dtype, **kwargs)`` for loss ``fn``.

    ``fast`` is only called on what :func:`_fast_inputs` accepts. It returns
    ``(primitive, args, kwargs)``, whose call ``primitive(*args, **kwargs)`` is the loss (a
    primitive with no other effect, so fit's array step may run its forward and gradient rule
    on arrays: ``trainers/array_step.py``), or None for any case it does not handle."""
    _FAST_MEANS[fn.__name__] = (fn, fast)


def _fast_inputs(y_true, y_pred, dtype) -> bool:
    """What every fast form needs: an array target and a Tensor prediction of the loss's
    dtype, float32 (the general path gives other dtypes Keras's result dtype and rounding),
    of rank >= 2, with at least one element."""
    if type(y_pred) is not Tensor or type(y_true) is not np.ndarray:
        return False
    p = y_pred.data
    return p.dtype == dtype == np.float32 and p.ndim >= 2 and p.size > 0


def _true_array(y_true):
    """``y_true`` as an array (Tensors that require grad are kept), so ranks can be read."""
    if isinstance(y_true, Tensor) or hasattr(y_true, "shape"):
        return y_true
    return np.asarray(y_true)


class BuiltinLoss(LossFunctionWrapper):
    """Base of the built-in loss classes (``MeanSquaredError``, ``CategoricalCrossentropy``, ...).

    Their config is the ``Loss`` config plus the keyword arguments given to their function
    (``from_logits``, ``axis``, ``delta``, ...), without ``fn``: the layout Keras 3 writes for
    its loss classes, so ``cls(**config)`` rebuilds the loss.
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(fn, reduction=reduction, name=name, dtype=dtype, **kwargs)
        for key, value in kwargs.items():  # (loss.from_logits, loss.axis, ... as in Keras)
            setattr(self, key, value)

    def get_config(self) -> dict:
        return {**Loss.get_config(self), **self._fn_kwargs}
