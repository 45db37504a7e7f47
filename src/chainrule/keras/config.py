"""Global settings (Keras 3 ``keras.config``): the default float type, the fuzz factor, the
image data format and the backend's name.

Matches Keras 3 ``keras/src/backend/config.py`` for the functions given here.
"""

from __future__ import annotations

from ..backend import epsilon, floatx, set_floatx

__all__ = ["floatx", "set_floatx", "epsilon", "image_data_format", "set_image_data_format",
           "backend"]  # fmt: skip


def image_data_format() -> str:
    """``"channels_last"``: the layout layers use when their ``data_format`` is None."""
    return "channels_last"


def set_image_data_format(data_format: str) -> None:
    """Accept ``"channels_last"`` (the only global default chainrule has).

    Raises:
        ValueError: for a value other than "channels_last" or "channels_first".
        NotImplementedError: for "channels_first": pass ``data_format="channels_first"`` to
            each layer instead (every convolution and pooling layer takes it).
    """
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError("data_format must be 'channels_last' or 'channels_first', received "
                         f"data_format={data_format!r}")  # fmt: skip
    if data_format == "channels_first":
        raise NotImplementedError(
            "a global channels_first default is not supported; pass "
            "data_format='channels_first' to each convolution and pooling layer"
        )


def backend() -> str:
    """``"numpy"``: chainrule computes on NumPy arrays (the name of Keras's NumPy backend)."""
    return "numpy"
