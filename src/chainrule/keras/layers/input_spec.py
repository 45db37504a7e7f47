"""``InputSpec``: what a layer accepts, checked before ``build`` and on each call (Keras 3
``keras/src/layers/input_spec.py``)."""

from __future__ import annotations

from ..variables import GENERATION

__all__ = ["InputSpec", "assert_input_compatibility"]


class _Axes(dict):
    """``InputSpec.axes``: a dict whose changes move ``GENERATION``, so that layers check
    their inputs against the changed spec (Keras checks on every call; we check once per
    shape, see ``Layer._spec_checked``)."""

    def _changed(self, result=None):
        GENERATION[0] += 1
        return result

    def __setitem__(self, key, value):
        self._changed(super().__setitem__(key, value))

    def __delitem__(self, key):
        self._changed(super().__delitem__(key))

    def __ior__(self, other):
        return self._changed(super().__ior__(other))

    def update(self, *args, **kwargs):
        self._changed(super().update(*args, **kwargs))

    def pop(self, *args):
        return self._changed(super().pop(*args))

    def popitem(self):
        return self._changed(super().popitem())

    def setdefault(self, key, default=None):
        return self._changed(super().setdefault(key, default))

    def clear(self):
        self._changed(super().clear())


class InputSpec:
    """Rank and axis-size constraints on a layer's input.

    Args:
        dtype: expected dtype (unchecked here; data is cast by the trainer).
        shape: full expected shape, None for any size on an axis.
        ndim: exact rank. max_ndim, min_ndim: rank bounds.
        axes: ``{axis: size}`` fixed sizes (e.g. ``{-1: 3}`` for Dense after build).
        allow_last_axis_squeeze: accept a trailing size-1 axis difference.
        name: optional name used in errors.
    """

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None,
                 axes=None, allow_last_axis_squeeze=False, name=None, optional=False):  # fmt: skip
        self.dtype = dtype
        self.shape = tuple(shape) if shape is not None else None
        self.ndim = len(self.shape) if self.shape is not None else ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.axes = _Axes(axes or {})
        self.allow_last_axis_squeeze = allow_last_axis_squeeze
        self.name = name
        self.optional = optional

    def __setattr__(self, name, value):
        if name == "axes" and type(value) is not _Axes:
            value = _Axes(value or {})
        GENERATION[0] += 1  # a spec changed after layers checked inputs against it
        object.__setattr__(self, name, value)

    def __repr__(self):
        return (
            f"InputSpec(ndim={self.ndim}, min_ndim={self.min_ndim}, max_ndim={self.max_ndim}, "
            f"axes={self.axes})"
        )


# id(placeholder array) -> the KerasTensor shape it stands for, while a layer is called on
# placeholders to record a symbolic call (input_layer.symbolic_call): error messages then show
# the symbolic shape, ``(None, 4)``, not the placeholder's ``(2, 4)``, as Keras's do
PLACEHOLDER_SHAPES: dict = {}


def assert_input_compatibility(spec, shape, layer_name, symbolic=None):
    """Raise ValueError, in Keras's words, when ``shape`` violates ``spec``; a ``symbolic``
    shape (None for unknown sizes) is checked and shown in its place, as Keras checks a
    KerasTensor's."""
    if spec is None:
        return
    if symbolic is not None:
        shape = tuple(symbolic)
    ndim = len(shape)
    where = f"Input 0 of layer '{layer_name}' is incompatible with the layer: "
    if spec.ndim is not None and ndim != spec.ndim:
        raise ValueError(
            f"{where}expected ndim={spec.ndim}, found ndim={ndim}. Full shape received: {shape}"
        )
    if spec.max_ndim is not None and ndim > spec.max_ndim:
        raise ValueError(
            f"{where}expected max_ndim={spec.max_ndim}, found ndim={ndim}. "
            f"Full shape received: {shape}"
        )
    if spec.min_ndim is not None and ndim < spec.min_ndim:
        raise ValueError(
            f"{where}expected min_ndim={spec.min_ndim}, found ndim={ndim}. "
            f"Full shape received: {shape}"
        )
    for axis, size in spec.axes.items():
        if size is None:
            continue
        try:
            got = shape[axis]
        except IndexError:
            got = None
        if got is not None and got != size:
            raise ValueError(
                f"{where}expected axis {axis} of input shape to have value {size}, but received "
                f"input with shape {shape}"
            )
    if spec.shape is not None:
        for want, got in zip(spec.shape, shape):
            if want is not None and got is not None and want != got:
                raise ValueError(
                    f"{where}expected shape={spec.shape}, found shape={shape}"
                )
