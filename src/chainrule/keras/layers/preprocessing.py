"""The preprocessing layer ``Normalization`` (Keras 3
``keras/src/layers/preprocessing/normalization.py``; ``Rescaling`` is in ``rescaling.py``).

It has no trainable weights and passes gradients through to earlier layers. Its statistics
are ordinary non-trainable weights (``mean``, ``variance``, ``count``), so
``get_weights``/``set_weights`` and ``.keras`` files carry them in Keras's layout.
"""

from __future__ import annotations

import itertools
import math
import numbers
import warnings

from ... import ops
from ...autodiff.tensor import Tensor
from ...backend import epsilon, np
from .layer import Layer
from .layer_losses import _SYMBOLIC

__all__ = ["Normalization"]


def _as_float(x, dtype):
    """``x`` (an array or Tensor of any dtype) as ``dtype``, keeping the graph for Tensors."""
    if x.dtype == dtype:
        return x
    if isinstance(x, Tensor):
        return ops.astype(x, dtype)
    return np.asarray(x, dtype=dtype)


def _numeric(value, what: str) -> np.ndarray:
    """``value`` (a number or nested list/array of numbers) as a finite float64 array, or a
    clear error naming ``what``."""
    bad = f"{what} must be a number or a list/array of numbers, received {what}={value!r}"
    if isinstance(value, (bool, np.bool_, str)) or value is None:
        raise ValueError(bad)
    try:
        arr = np.asarray(value.data if isinstance(value, Tensor) else value)
    except (TypeError, ValueError) as e:
        raise ValueError(bad) from e
    if arr.dtype.kind not in "iuf":
        raise ValueError(bad)
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} must be finite, received {what}={value!r}")
    return arr.astype(np.float64)


def _standard_axis(axis) -> tuple:
    axes = () if axis is None else tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    if not all(isinstance(a, numbers.Integral) and not isinstance(a, (bool, np.bool_))
               for a in axes):  # fmt: skip
        raise ValueError(f"axis must be an integer, a tuple of integers or None, received "
                         f"axis={axis!r}")  # fmt: skip
    return tuple(int(a) for a in axes)


def _first_input(batch):
    """The inputs of a batch that may be ``(x, y)`` or ``(x, y, sample_weight)``."""
    return batch[0] if isinstance(batch, tuple) else batch


class Normalization(Layer):
    """Shifts and scales inputs to mean 0 and variance 1 with fixed per-feature statistics.

    Matches Keras 3 ``keras/src/layers/preprocessing/normalization.py``::

        out = (inputs - mean) / maximum(sqrt(variance), epsilon)       # invert=False
        out = mean + inputs * maximum(sqrt(variance), epsilon)         # invert=True

    with ``epsilon = keras.config.epsilon()`` (1e-7). The statistics come from ``mean`` and
    ``variance`` given here (constants, no weights) or from :meth:`adapt`, which stores them in
    three non-trainable weights, as Keras: ``mean`` and ``variance`` (float, the shape of the
    kept axes) and ``count`` (int32 scalar, kept at 0 as Keras keeps it). Before ``adapt`` the
    weights hold mean 0 and variance 1, so the layer returns its input (as Keras); chainrule
    warns once when it is called in that state.

    Args:
        axis: default -1. The axis or axes that keep separate statistics per index (an int, a
            tuple of ints, or None for one scalar mean and variance). With -1 on input
            ``(batch, 5)`` there are 5 means; on batched scalars ``(batch,)`` each batch index
            would get its own, so pass ``axis=None`` there.
        mean: default None. Mean value(s), broadcast to the kept axes (aligned from the right);
            must be given with ``variance``.
        variance: default None. Variance value(s), as ``mean``; must be >= 0.
        invert: default False. If True, undo the normalization (``mean + x * std``).
        **kwargs: base layer arguments (``name``, ``dtype``, ...).

    Shape: any input whose kept axes have the sizes the layer was built with; output the same
    shape, in the layer's float dtype.

    Raises:
        ValueError: only one of ``mean``/``variance``; their shapes differ, or their rank
            exceeds the number of axes, or they do not broadcast to the kept axes; a negative
            or non-finite value; a bad ``axis`` (not ints, or out of range for the input);
            a kept axis of unknown size; inputs or adapt data whose kept axes differ from the
            built shape.

    >>> import numpy as np
    >>> from chainrule import keras
    >>> layer = keras.layers.Normalization(axis=None)
    >>> layer.adapt(np.array([1.0, 2.0, 3.0, 4.0, 5.0], "float32"))  # mean 3, variance 2
    >>> layer(np.array([1.0, 3.0], "float32")).numpy()
    array([-1.4142135,  0.       ], dtype=float32)
    """

    _mask_passthrough = True

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = _standard_axis(axis)
        if not isinstance(invert, (bool, np.bool_)):
            raise ValueError(f"invert must be True or False, received invert={invert!r}")
        self.invert = bool(invert)
        if (mean is None) != (variance is None):
            raise ValueError(
                "When setting values directly, both `mean` and `variance` must be set. "
                f"Received: mean={mean} and variance={variance}"
            )
        self.input_mean = mean
        self.input_variance = variance
        self._given = None  # float64 (mean, variance) when given here
        if mean is not None:
            given = (_numeric(mean, "mean"), _numeric(variance, "variance"))
            if given[0].shape != given[1].shape:
                raise ValueError(
                    "When setting values directly, `mean` and `variance` must have the same "
                    f"shape. Received: mean shape {given[0].shape} and variance shape "
                    f"{given[1].shape}"
                )
            if given[0].ndim > len(self.axis):
                raise ValueError(
                    "The rank of `mean` must be less than or equal to the number of axes "
                    f"({len(self.axis)}). Received: mean shape {given[0].shape} for axis "
                    f"{self.axis}"
                )
            if (given[1] < 0).any():
                raise ValueError(f"variance must be >= 0, received variance={variance!r}")
            self._given = given
        self.supports_masking = True
        self._keep_axis = None
        self._broadcast_shape = None
        self._fixed = None  # the given (mean, variance), broadcast and cast, after build
        self._check_unadapted = True  # until the statistics were seen set (see call)

    # -- building ---------------------------------------------------------------------------
    def build(self, input_shape):
        shape = tuple(input_shape)
        ndim = len(shape)
        self._build_input_shape = shape
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(
                "All `axis` values must be in the range [-ndim, ndim). Received inputs with "
                f"ndim={ndim}, while axis={self.axis}"
            )
        keep = tuple(sorted(a % ndim for a in self.axis))
        if len(set(keep)) != len(keep):
            raise ValueError(f"axis names an axis twice, received axis={self.axis} for inputs "
                             f"with ndim={ndim}")  # fmt: skip
        for d in keep:
            if shape[d] is None:
                raise ValueError(
                    f"All `axis` values to be kept must have a known shape. Received "
                    f"axis={self.axis}, inputs.shape={shape}, with unknown axis at index {d}"
                )
        self._keep_axis = keep
        self._broadcast_shape = tuple(shape[d] if d in keep else 1 for d in range(ndim))
        stats_shape = tuple(shape[d] for d in keep)
        if self._given is None:
            self.adapt_mean = self.add_weight(name="mean", shape=stats_shape,
                                              initializer="zeros", trainable=False)  # fmt: skip
            self.adapt_variance = self.add_weight(name="variance", shape=stats_shape,
                                                  initializer="ones", trainable=False)  # fmt: skip
            # Keras keeps this weight only so that older files load; adapt leaves it at 0
            self.count = self.add_weight(name="count", shape=(), dtype="int32",
                                         initializer="zeros", trainable=False)  # fmt: skip
        else:
            self._fixed = tuple(self._placed(v, keep, ndim) for v in self._given)
        self.built = True

    def _placed(self, value, keep, ndim):
        """A given mean/variance aligned from the right with the kept axes and broadcast to
        the broadcast shape, in the layer's dtype."""
        expanded = [1] * ndim
        for i in range(1, value.ndim + 1):
            expanded[keep[-i]] = value.shape[-i]
        try:
            out = np.broadcast_to(value.reshape(expanded), self._broadcast_shape)
        except ValueError as e:
            raise ValueError(
                f"Normalization: mean and variance of shape {value.shape} do not broadcast to "
                f"the kept axes {keep} of the input (sizes "
                f"{tuple(self._broadcast_shape[d] for d in keep)}), received axis={self.axis}"
            ) from e
        return np.array(out, dtype=self.dtype)

    def get_build_config(self):
        if self._build_input_shape is None:
            return None
        # NOTE: a tuple, as Keras returns it: the serializer then keeps the batch size, which
        # a kept batch axis (axis=-1 on batched scalars) needs to be rebuilt.
        return {"input_shape": tuple(None if s is None else int(s)
                                     for s in self._build_input_shape)}  # fmt: skip

    # -- statistics -------------------------------------------------------------------------
    def _stats(self):
        """(mean, variance) as arrays of the broadcast shape, in the layer's dtype."""
        if self._fixed is not None:
            return self._fixed
        dtype = self.dtype
        return (self.adapt_mean.data.reshape(self._broadcast_shape).astype(dtype, copy=False),
                self.adapt_variance.data.reshape(self._broadcast_shape).astype(
                    dtype, copy=False))  # fmt: skip

    @property
    def mean(self):
        """The mean in the broadcast shape (a Tensor), or None before the layer is built."""
        return None if not self.built else Tensor(np.array(self._stats()[0]))

    @property
    def variance(self):
        """The variance in the broadcast shape (a Tensor), or None before the layer is built."""
        return None if not self.built else Tensor(np.array(self._stats()[1]))

    def adapt(self, data) -> None:
        """Compute the mean and variance of ``data`` over the reduced axes and store them.

        Matches Keras 3 ``Normalization.adapt``: a NumPy array (or Tensor, or anything with
        ``__array__``) is reduced in one pass with ``np.mean``/``np.var`` (biased); an
        iterable of batches (a list of arrays, a generator, a ``keras.utils.PyDataset``;
        batches may be ``(x, y)`` tuples) is combined batch by batch::

            w = n_batch / n_total
            mean' = mean * (1 - w) + batch_mean * w
            var' = (var + (mean - mean')**2) * (1 - w) + (batch_var + (batch_mean - mean')**2) * w

        Args:
            data: the data, batched as it will be given to the layer.

        Raises:
            TypeError: data of another kind, or batches without a ``shape``.
            ValueError: empty data, NaN or inf in it (the statistics would be NaN), kept axes
                whose sizes differ from the built shape, or a layer given ``mean``/``variance``.
        """
        if self._given is not None:
            raise ValueError(
                f"Normalization layer {self.name!r} was given mean and variance when it was "
                "created; adapt() cannot replace them. Create it without mean/variance to adapt"
            )
        if isinstance(data, Tensor):
            data = data.data
        elif not isinstance(data, np.ndarray) and hasattr(data, "__array__") and not (
                isinstance(data, (list, tuple))):  # fmt: skip
            data = np.asarray(data)  # a DataFrame, a torch tensor
        if isinstance(data, np.ndarray):
            self._check_built(data.shape)
            _check_finite(data, "adapt() data")
            reduce = self._reduced(data.shape)
            total_mean = np.mean(data, axis=reduce)
            total_var = np.var(data, axis=reduce)
        elif hasattr(data, "__iter__") and not isinstance(data, (str, bytes, dict)):
            total_mean, total_var = self._adapt_batches(data)
        else:
            raise TypeError(
                f"Unsupported data type: {type(data)}. `adapt` supports `np.ndarray`, "
                "tensors, `keras.utils.PyDataset`, and iterables of batches (e.g. list, "
                "generator)."
            )
        self.adapt_mean.assign(total_mean)
        self.adapt_variance.assign(total_var)

    def _fits(self, shape) -> bool:
        """Whether the statistics broadcast against ``shape`` (aligned from the right, as
        Keras) without changing it: the built sizes on the kept axes, any rank above."""
        want = self._broadcast_shape
        lead = len(shape) - len(want)
        return lead >= 0 and all(w == 1 or shape[lead + i] == w for i, w in enumerate(want))

    def _reduced(self, shape) -> tuple:
        """The axes of data of ``shape`` that adapt() reduces: all but the kept ones (aligned
        from the right, so data of a higher rank than the built one is reduced as called)."""
        lead = len(shape) - len(self._broadcast_shape)
        return tuple(d for d in range(len(shape)) if d - lead not in self._keep_axis)

    def _check_built(self, shape):
        shape = tuple(shape)
        if not self.built:
            self.build(shape)
            return
        if not self._fits(shape):
            raise ValueError(
                f"The layer was built with input_shape={self._build_input_shape}, but adapt() "
                f"is being called with data with an incompatible shape, data.shape={shape}"
            )

    def _adapt_batches(self, data):
        batches = iter(data)
        first = next(batches, None)
        if first is None:
            raise ValueError(
                "adapt() received an empty iterable (no batches). Expected at least one batch. "
                "Pass a non-empty iterable of arrays or tensors, e.g. layer.adapt([x]) or "
                "layer.adapt(list_of_batches)."
            )
        first = _first_input(first)
        if getattr(first, "shape", None) is None:
            raise TypeError(
                "adapt() expects an iterable that yields arrays or tensors with a `.shape` "
                f"attribute (e.g. numpy arrays or backend tensors). Got an element of type "
                f"{type(first).__name__}. Ensure each yielded element is array-like with a "
                "`.shape` attribute."
            )
        self._check_built(first.shape)
        dtype = np.dtype(self.dtype)
        stats_shape = tuple(self._broadcast_shape[d] for d in self._keep_axis)
        total_mean = np.zeros(stats_shape, dtype)
        total_var = np.zeros(stats_shape, dtype)
        total_count = 0
        for batch in itertools.chain([first], batches):
            batch = _first_input(batch)
            batch = np.asarray(batch.data if isinstance(batch, Tensor) else batch, dtype=dtype)
            if not self._fits(batch.shape):
                raise ValueError(
                    f"adapt() yielded a batch with incompatible shape. Expected "
                    f"{self._build_input_shape}, got {batch.shape}."
                )
            _check_finite(batch, "an adapt() batch")
            reduce = self._reduced(batch.shape)
            count = math.prod(batch.shape[d] for d in reduce)
            batch_mean = np.mean(batch, axis=reduce)
            batch_var = np.var(batch, axis=reduce)
            total_count += count
            # NOTE: the lack-of-fit sum of squares update (Keras's), in the layer's dtype;
            # the weights are Python floats so the arithmetic stays in that dtype.
            new_w = float(count) / total_count
            old_w = 1.0 - new_w
            new_mean = total_mean * old_w + batch_mean * new_w
            total_var = (total_var + (total_mean - new_mean) ** 2) * old_w + (
                batch_var + (batch_mean - new_mean) ** 2) * new_w  # fmt: skip
            total_mean = new_mean
        return total_mean, total_var

    # -- calling ----------------------------------------------------------------------------
    def call(self, inputs):
        dtype = np.dtype(self.dtype)
        x = _as_float(inputs, dtype)
        if not self._fits(x.shape):
            self._shape_error(x.shape)
        mean, var = self._stats()
        if self._check_unadapted and self._fixed is None:
            self._warn_if_unadapted(mean, var)
        # NOTE: max(sqrt(var), eps), not sqrt(var + eps): Keras's guard for a zero variance
        # (a constant feature), which leaves every other feature's scale exact.
        std = np.maximum(np.sqrt(var), np.asarray(epsilon(), dtype))
        if self.invert:
            return ops.add(mean, ops.multiply(x, std))
        return ops.divide(ops.subtract(x, mean), std)

    def _shape_error(self, shape):
        keep = {d: self._broadcast_shape[d] for d in self._keep_axis}
        if _SYMBOLIC[0]:
            # the placeholder batch sizes of a symbolic call differ: a kept axis is unknown
            raise ValueError(
                f"All `axis` values to be kept must have a known shape. Received "
                f"axis={self.axis}, with an unknown (batch) axis among the kept axes {keep}"
            )
        raise ValueError(
            f"Normalization layer {self.name!r} was built for inputs of shape "
            f"{self._build_input_shape} (axis={self.axis}: sizes {keep} on the kept axes); its "
            f"statistics of shape {self._broadcast_shape} do not broadcast against inputs of "
            f"shape {tuple(shape)} without changing it"
        )

    def _warn_if_unadapted(self, mean, var):
        if mean.any() or (var != 1).any():
            self._check_unadapted = False
        elif not _SYMBOLIC[0]:
            self._check_unadapted = False
            warnings.warn(
                f"Normalization layer {self.name!r} is called before adapt(): its mean is 0 and "
                "its variance 1, so it returns its input unchanged (as Keras). Call "
                "layer.adapt(data) first, or pass mean= and variance=.",
                UserWarning,
                stacklevel=6,
            )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": _listed(self.input_mean),
                "variance": _listed(self.input_variance)}  # fmt: skip


def _listed(value):
    """A given mean/variance as plain Python numbers or lists (None stays None), as Keras."""
    if isinstance(value, Tensor):
        value = value.data
    return np.array(value).tolist()


def _check_finite(arr: np.ndarray, what: str) -> None:
    if arr.size == 0:
        raise ValueError(f"{what} is empty (shape {arr.shape}): there is nothing to adapt on")
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        bad = int(arr.size - np.isfinite(arr).sum())
        raise ValueError(
            f"{what} holds {bad} NaN or inf values (shape {arr.shape}); the mean and variance "
            "would be NaN. Drop or fill them before adapt()"
        )
