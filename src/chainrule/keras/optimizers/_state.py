"""The optimizer state in Keras's saving order, and the EMA of the model variables (matches
Keras 3 ``keras/src/optimizers/base_optimizer.py``: ``variables``, ``save_own_variables``,
``load_own_variables``, ``_update_model_variables_moving_average``)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from ...autodiff.tensor import Tensor
from ...backend import np

__all__ = ["OptimizerStateMixin"]


class OptimizerStateMixin:
    """State saving and EMA for ``Optimizer`` (which defines the attributes used here)."""

    @property
    def variables(self) -> list:
        """The optimizer state as arrays, in Keras's saving order: iterations, learning rate
        (absent for a schedule or callable), then the slots (live arrays, not copies)."""
        out = [np.array(self._iterations, dtype=np.int64)]
        if not callable(self._learning_rate):
            out.append(np.array(self._learning_rate, dtype=np.float32))
        return out + list(self._slots)

    def set_variables(self, values: Sequence) -> None:
        """Restore the state written by ``variables`` (same order and shapes).

        Raises:
            ValueError: if not built, or if the count or a shape differs.
        """
        if not self.built:
            raise ValueError(
                f"optimizer {self.name!r} is not built: call `optimizer.build(variables)` "
                "before restoring its variables"
            )
        own = self.variables
        if len(values) != len(own):
            raise ValueError(
                f"optimizer {self.name!r} has {len(own)} variables, received {len(values)}"
            )
        values = [np.asarray(v.data if isinstance(v, Tensor) else v) for v in values]
        for i, (mine, new) in enumerate(zip(own, values, strict=True)):
            if mine.shape != new.shape:
                raise ValueError(
                    f"optimizer {self.name!r}: variable {i} has shape {mine.shape}, received "
                    f"a value of shape {new.shape}"
                )
        self._iterations = int(values[0])
        self._const_cache.clear()
        k = 1
        if not callable(self._learning_rate):
            self._learning_rate = np.float32(values[1])
            k = 2
        for slot, new in zip(self._slots, values[k:], strict=True):
            slot[...] = new

    set_weights = set_variables

    def save_own_variables(self, store) -> None:
        """Write ``variables`` into ``store`` under keys "0", "1", ... (Keras saving layout)."""
        for i, arr in enumerate(self.variables):
            store[str(i)] = np.array(arr)

    def load_own_variables(self, store) -> None:
        """Read ``variables`` from ``store``; warns and skips on a count mismatch, as Keras."""
        n = len(self.variables) if self.built else 0
        if len(store.keys()) != n:
            warnings.warn(
                f"Skipping variable loading for optimizer '{self.name}', because it has {n} "
                f"variables whereas the saved optimizer has {len(store.keys())} variables.",
                stacklevel=2,
            )
            return
        self.set_variables([np.asarray(store[str(i)]) for i in range(n)])

    def _update_moving_average(self) -> None:
        mom = self.ema_momentum if self.iterations != 0 else 0.0
        for v, avg in zip(self._trainable_variables, self._averages, strict=True):
            t = avg.dtype.type
            np.multiply(avg, t(mom), out=avg)
            avg += t(1 - mom) * v.data
        freq = self.ema_overwrite_frequency
        if freq and (self.iterations + 1) % freq == 0:
            self.finalize_variable_values(self._trainable_variables)

    def finalize_variable_values(self, var_list) -> None:
        """With ``use_ema``, overwrite the variables with their moving averages."""
        if not self.use_ema:
            return
        if len(var_list) != len(self._averages):
            raise ValueError(
                f"The length of model variables ({len(var_list)}) to override does not match "
                f"the length of model variables stored in the optimizer "
                f"({len(self._averages)}). Please check if the optimizer was called on your "
                "model."
            )
        for v, avg in zip(var_list, self._averages, strict=True):
            v.data[...] = avg
