"""The preprocessing layer ``Discretization`` (Keras 3
``keras/src/layers/preprocessing/discretization.py``): bucket values by boundaries, given or
learned by ``adapt`` with Keras's approximate-quantile summaries.

The layer has no weights: after ``adapt`` its boundaries live in ``bin_boundaries`` and so in
its config, as in Keras (a ``.keras`` file carries them in ``config.json``).
"""

from __future__ import annotations

import numbers

from ...autodiff.tensor import Tensor
from ...backend import floatx, np
from .category_encoding import encode_categorical
from .layer import Layer

__all__ = ["Discretization"]

_MODES = ("int", "one_hot", "multi_hot", "count")


class Discretization(Layer):
    """Replaces each value by the index of the bin it falls in.

    Matches Keras 3 ``keras/src/layers/preprocessing/discretization.py``::

        index = sum(x >= b for b in bin_boundaries)   # np.digitize: bins (-inf, b0), [b0, b1),
                                                      # ..., [b_last, inf)

    compared in float32 (Keras casts inputs to ``floatx``), then encoded by ``output_mode``
    over ``depth = len(bin_boundaries) + 1`` bins, as ``CategoryEncoding``.

    ``adapt(data)`` learns ``num_bins - 1`` boundaries as Keras does: each batch is sorted and
    every ``max(n * epsilon, 1)``-th value kept with that weight; summaries are merged and
    compressed by interpolating their cumulative weights at ``epsilon, 2 * epsilon, ...``; the
    boundaries are the compressed summary at ``1 / num_bins`` steps, less the last.

    Args:
        bin_boundaries: default None. A sorted list of numbers; not with ``num_bins``.
        num_bins: default None. The number of bins ``adapt`` learns (>= 0).
        epsilon: default 0.01. The quantile summary's error tolerance.
        output_mode: "int" (default; int32 indices), "one_hot", "multi_hot" or "count"
            (float, the layer's dtype).
        sparse: default False; True is refused (Keras's torch backend refuses it too).
        dtype: default None (float32). name: default None.

    Shape: any ``(...)``; "int" keeps it, the other modes as ``CategoryEncoding``
    (``(batch, n) -> (batch, depth)`` for "multi_hot"/"count", rank 1 or 2 only).

    Raises:
        ValueError: both or neither of ``bin_boundaries``/``num_bins``; a negative or
            non-integer ``num_bins``; unsorted or non-finite boundaries; an unknown
            ``output_mode``; ``sparse=True``; a call before ``adapt`` with ``num_bins``;
            ``adapt`` on a layer given boundaries; NaN inputs or adapt data (Keras puts NaN
            in the last bin); rank above 2 in "multi_hot"/"count" mode.

    >>> import numpy as np
    >>> from chainrule import keras
    >>> layer = keras.layers.Discretization(bin_boundaries=[0.0, 1.0, 2.0])
    >>> layer(np.array([[-1.5, 1.0, 3.4, 0.5]])).numpy()
    array([[0, 2, 3, 1]], dtype=int32)
    """

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int",
                 sparse=False, dtype=None, name=None):  # fmt: skip
        # NOTE: no autocast: the inputs are compared in floatx whatever the layer's dtype (the
        # output dtype), as Keras's `input_dtype`; a cast to an int32 or float16 dtype first
        # would move 0.5 or 1.0002 into another bin
        super().__init__(name=name, dtype=dtype, autocast=False)
        if sparse:
            raise ValueError("`sparse=True` cannot be used: chainrule has no sparse tensors "
                             "(as Keras's torch backend), received sparse=True")  # fmt: skip
        if output_mode not in _MODES:
            raise ValueError(f"Unknown value for `output_mode`: expected one of {_MODES}, "
                             f"received output_mode={output_mode!r}")  # fmt: skip
        if num_bins is not None and (not isinstance(num_bins, numbers.Integral)
                                     or isinstance(num_bins, bool)):  # fmt: skip
            raise ValueError(f"`num_bins` must be an integer, received num_bins={num_bins!r}")
        if num_bins is not None and num_bins < 0:
            raise ValueError("`num_bins` must be greater than or equal to 0. "
                             f"Received: `num_bins={num_bins}`")  # fmt: skip
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(
                "Both `num_bins` and `bin_boundaries` should not be set. Received: "
                f"`num_bins={num_bins}` and `bin_boundaries={bin_boundaries}`"
            )
        if num_bins is None and bin_boundaries is None:
            raise ValueError("You need to set either `num_bins` or `bin_boundaries`.")
        if not isinstance(epsilon, numbers.Real) or not 0 < epsilon <= 1:
            raise ValueError(f"`epsilon` must be a number in (0, 1], received epsilon={epsilon!r}")
        self.bin_boundaries = None if bin_boundaries is None else _boundaries(bin_boundaries)
        self.num_bins = None if num_bins is None else int(num_bins)
        self.epsilon = epsilon
        self.output_mode = output_mode
        self.sparse = False
        self._summary = np.zeros((2, 0), "float32")

    @property
    def output_dtype(self) -> str:
        return "int32" if self.output_mode == "int" else self.dtype

    # -- adapt ------------------------------------------------------------------------------
    def adapt(self, data, steps=None) -> None:
        """Learn ``num_bins - 1`` boundaries from ``data`` (an array, or an iterable of batches
        such as a list of arrays or a generator; ``steps`` limits the batches taken).

        Keras 3.15.1 without TensorFlow cannot run ``adapt`` (it imports tf.data); its
        ``update_state``/``finalize_state`` give the numbers this matches.

        Raises:
            ValueError: a layer made with ``bin_boundaries``; empty data; NaN or inf values.
        """
        if self.num_bins is None:
            raise ValueError("Cannot adapt a Discretization layer that has been initialized "
                             "with `bin_boundaries`, use `num_bins` instead.")  # fmt: skip
        self.reset_state()
        if isinstance(data, (np.ndarray, Tensor)) or not hasattr(data, "__iter__"):
            self.update_state(data)
        else:
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                self.update_state(batch)
        if not self._summary.shape[1]:
            raise ValueError("adapt() received no data: there is nothing to learn bins from")
        self.finalize_state()

    def update_state(self, data) -> None:
        """Merge one batch into the running quantile summary."""
        if isinstance(data, tuple):  # an (x, y) batch
            data = data[0]
        values = np.asarray(data.data if isinstance(data, Tensor) else data).astype("float32")
        if not np.isfinite(values).all():
            raise ValueError(f"Discretization.adapt: the data holds NaN or inf values (shape "
                             f"{values.shape}); drop or fill them first")  # fmt: skip
        if values.size:
            merged = np.concatenate((_summarize(values, self.epsilon), self._summary), axis=1)
            merged = merged[:, np.argsort(merged[0])]
            self._summary = _compress(merged, self.epsilon)

    def finalize_state(self) -> None:
        if self.num_bins is not None:
            # NOTE: a summary with fewer points than num_bins is not compressed, and the
            # boundaries are then its points less the last (Keras's numbers).
            self.bin_boundaries = _compress(self._summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def reset_state(self) -> None:
        if self.num_bins is not None:
            self._summary = np.zeros((2, 0), "float32")

    # -- calling ----------------------------------------------------------------------------
    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError(
                "You need to either pass the `bin_boundaries` argument at construction time or "
                "call `adapt(dataset)` before you can start using the `Discretization` layer."
            )
        x = np.asarray(inputs.data if isinstance(inputs, Tensor) else inputs)
        x = x.astype(floatx(), copy=False)
        if np.isnan(x).any():
            raise ValueError(f"Discretization {self.name!r}: the inputs hold NaN values, which "
                             "fall in no bin")  # fmt: skip
        idx = np.digitize(x, np.asarray(self.bin_boundaries, floatx()))
        if self.output_mode == "int":
            return Tensor(idx.astype("int32"))
        return encode_categorical(idx, self.output_mode, len(self.bin_boundaries) + 1,
                                  self.dtype, who=f"Discretization {self.name!r}")  # fmt: skip

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        if self.output_mode == "int":
            return shape
        depth = len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else self.num_bins
        if self.output_mode == "one_hot":
            return (shape[:-1] if len(shape) > 1 and shape[-1] == 1 else shape) + (depth,)
        return (shape[0], *shape[2:], depth) if len(shape) >= 2 else (depth,)

    def get_config(self) -> dict:
        # Keras's own keys: no `trainable`, and `dtype` as a plain name
        return {"bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins,
                "epsilon": self.epsilon, "output_mode": self.output_mode,
                "sparse": self.sparse, "name": self.name, "dtype": self.dtype}  # fmt: skip

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        learned = None
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            learned = config.pop("bin_boundaries")  # an adapted layer: both are set
        layer = cls(**config)
        if learned is not None:
            layer.bin_boundaries = _boundaries(learned)
        return layer


def _boundaries(values) -> list:
    """Given boundaries as a sorted list of Python floats, or a clear error."""
    arr = np.asarray(values.data if isinstance(values, Tensor) else values)
    if arr.ndim != 1 or arr.dtype.kind not in "iuf" or not np.isfinite(arr).all():
        raise ValueError(f"bin_boundaries must be a list of finite numbers, received "
                         f"bin_boundaries={values!r}")  # fmt: skip
    if np.any(np.diff(arr) < 0):
        raise ValueError(f"bin_boundaries must be sorted in increasing order, received "
                         f"bin_boundaries={values!r}")  # fmt: skip
    return [float(v) for v in arr.tolist()]


def _summarize(values: np.ndarray, epsilon: float) -> np.ndarray:
    """``(2, k)`` float32 summary of one batch: every ``step``-th sorted value, weight ``step``."""
    ordered = np.sort(values.reshape(-1))
    step = max(ordered.size / (1.0 / epsilon), 1)  # n per bucket; Keras's float arithmetic
    picked = ordered[int(step - 1) :: int(step)]
    return np.stack([picked, np.ones_like(picked) * step])


def _compress(summary: np.ndarray, epsilon: float) -> np.ndarray:
    """The summary re-sampled at cumulative-weight fractions ``epsilon, 2 * epsilon, ...``
    (unchanged when it has fewer than ``1 / epsilon`` points)."""
    if summary.shape[1] * epsilon < 1:
        return summary
    # NOTE: the same float arithmetic as Keras's (float64 grid, float32 cumulative weights),
    # so that the learned boundaries agree to the last bit
    grid = epsilon + np.arange(0.0, 1.0, epsilon)
    cum = summary[1].cumsum()
    fraction = cum / cum[-1]
    points = np.interp(grid, fraction, summary[0])
    cum_at = np.interp(grid, fraction, cum)
    weights = np.diff(cum_at, prepend=0.0)
    return np.stack((points, weights)).astype("float32")
