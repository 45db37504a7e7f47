"""``keras.utils``: seeding, label encoding, normalisation, plotting and the summary table."""

from __future__ import annotations

from ...backend import np
from ...backend import set_random_seed as _set_random_seed
from .file_utils import get_file
from .py_dataset import PyDataset

# Keras's keras.utils names for what chainrule defines in other modules: name -> (module, name)
_ELSEWHERE = {
    "Sequence": (".py_dataset", "PyDataset"),  # Keras 3's alias of PyDataset
    "clear_session": ("..backend", "clear_session"),
    "is_keras_tensor": ("..backend", "is_keras_tensor"),
    "register_keras_serializable": ("..saving", "register_keras_serializable"),
    "get_custom_objects": ("..saving", "get_custom_objects"),
    "custom_object_scope": ("..saving", "custom_object_scope"),
    "CustomObjectScope": ("..saving", "CustomObjectScope"),
    "get_registered_name": ("..saving", "get_registered_name"),
    "get_registered_object": ("..saving", "get_registered_object"),
    "serialize_keras_object": ("..saving", "serialize_keras_object"),
    "deserialize_keras_object": ("..saving", "deserialize_keras_object"),
    "split_dataset": (".dataset_utils", "split_dataset"),
}

__all__ = ["PyDataset", "set_random_seed", "to_categorical", "normalize", "plot_history",
           "pad_sequences", "get_file", "pack_x_y_sample_weight", "unpack_x_y_sample_weight",
           "plot_model", *sorted(_ELSEWHERE)]  # fmt: skip


def __getattr__(name):
    if name in _ELSEWHERE:  # imported on first use, to keep `import chainrule.keras` fast
        import importlib  # noqa: PLC0415

        module, attr = _ELSEWHERE[name]
        return getattr(importlib.import_module(module, __name__), attr)
    raise AttributeError(f"module 'chainrule.keras.utils' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The batch ``fit`` expects from ``x``, ``y`` and ``sample_weight``: ``x`` alone (``(x,)``
    when ``x`` is a tuple or list), ``(x, y)`` or ``(x, y, sample_weight)``; matches Keras 3
    ``keras.utils.pack_x_y_sample_weight``."""
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def unpack_x_y_sample_weight(data):
    """``(x, y, sample_weight)`` from a batch given as ``x``, ``(x,)``, ``(x, y)`` or
    ``(x, y, sample_weight)`` (missing ones None); matches Keras 3
    ``keras.utils.unpack_x_y_sample_weight``.

    Raises:
        ValueError: for a tuple or list of more than three elements.
    """
    from ..trainers.data_adapter import unpack  # noqa: PLC0415

    return unpack(data)


def plot_model(model, to_file="model.png", **kwargs):
    """Keras's ``plot_model`` draws the model with pydot and graphviz. chainrule does not draw
    models yet: without pydot this raises Keras's own ``ImportError``, and with it, a
    ``NotImplementedError``; ``model.summary()`` prints the same structure as text.

    Raises:
        ValueError: if the model is not built (as Keras).
        ImportError: if pydot is not installed (Keras's message).
        NotImplementedError: otherwise.
    """
    if not getattr(model, "built", True):
        raise ValueError(
            "This model has not yet been built. Build the model first by calling `build()` "
            "or by calling the model on a batch of data."
        )
    import importlib.util  # noqa: PLC0415

    if importlib.util.find_spec("pydot") is None:
        raise ImportError("You must install pydot (`pip install pydot`) for `plot_model` to work.")
    raise NotImplementedError(
        "plot_model is not supported by chainrule yet; model.summary() prints the layers, "
        "their output shapes and how they connect"
    )


def set_random_seed(seed: int) -> None:
    """Seed every random draw (chainrule's generator, NumPy's global one, Python's ``random``)
    so that initial weights, dropout and shuffling repeat (matches Keras 3
    ``keras.utils.set_random_seed``).

    Raises:
        ValueError: if ``seed`` is not a non-negative integer.
    """
    _set_random_seed(seed)


def to_categorical(x, num_classes=None):
    """One-hot encode integer labels: ``(..., ) -> (..., num_classes)`` float32 (a trailing
    axis of size 1 is dropped first, as Keras 3).

    Args:
        x: integer class labels in ``[0, num_classes)``.
        num_classes: default ``max(x) + 1``.

    Raises:
        ValueError: for negative or out-of-range labels, or non-integer values.
    """
    y = np.asarray(x)
    if y.dtype.kind == "f":
        if not np.all(np.mod(y, 1) == 0):
            raise ValueError("to_categorical needs integer labels, received non-integer values")
        y = y.astype(np.int64)
    if y.dtype.kind not in "iub":
        raise ValueError(f"to_categorical needs integer labels, received dtype {y.dtype}")
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        bad = int(y.min()) if y.min() < 0 else int(y.max())
        raise ValueError(f"label {bad} is out of range: expected labels in [0, {num_classes})")
    out = np.zeros(y.shape + (int(num_classes),), dtype="float32")
    np.put_along_axis(out, y[..., None].astype(np.int64), 1.0, axis=-1)
    return out


def normalize(x, axis=-1, order=2):
    """Scale ``x`` so each slice along ``axis`` has unit ``order``-norm (zero slices stay 0)."""
    x = np.asarray(x)
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    norm = np.where(norm == 0, 1, norm)
    return (x / norm).astype(x.dtype if x.dtype.kind == "f" else "float32")


def plot_history(history, path=None, metrics=None):
    """Draw loss and metric curves (train and validation) from a History (or its dict).

    Not in Keras, but every Keras user writes it. matplotlib is imported lazily.

    Args:
        history: a ``History`` or a ``{"loss": [...], "val_loss": [...], ...}`` dict.
        path: optional PNG file to write (written to a temporary name, then renamed).
        metrics: names to plot (default: every key without a ``val_`` prefix).

    Returns:
        The matplotlib Figure.

    Raises:
        ImportError: saying how to install matplotlib when it is missing.
    """
    from .plotting import plot_history as _plot  # noqa: PLC0415

    return _plot(history, path=path, metrics=metrics)


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre",
                  value=0.0):  # fmt: skip
    """Sequences of different lengths as one ``(num_samples, maxlen, ...)`` array.

    Each sequence longer than ``maxlen`` loses its first (``truncating="pre"``) or last
    (``"post"``) items; each shorter one is filled with ``value`` before (``padding="pre"``)
    or after (``"post"``) its items. An empty sequence is all ``value``.

    Args:
        sequences: a list of sequences (lists or arrays; items may themselves be arrays of
            one common shape).
        maxlen: default the length of the longest sequence.
        dtype: of the result, default "int32" (``object`` for strings of any length).
        padding, truncating: "pre" (default) or "post".
        value: the fill value, default 0.

    Returns:
        ``(len(sequences), maxlen, *item_shape)`` NumPy array of ``dtype``.

    Raises:
        ValueError: for something that is not a list of sequences, a string ``value`` with a
            numeric ``dtype``, ``padding``/``truncating`` other than "pre"/"post", or items
            of different shapes (naming the sequence).

    Matches Keras 3 ``keras/src/utils/sequence_utils.py``.

    >>> pad_sequences([[1], [2, 3], [4, 5, 6]], maxlen=2).tolist()
    [[0, 1], [2, 3], [5, 6]]
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError("`sequences` must be iterable.")
    for name, where in (("padding", padding), ("truncating", truncating)):
        if where not in ("pre", "post"):
            raise ValueError(f'{name.capitalize()} type "{where}" not understood: '
                             f"expected 'pre' or 'post', received {name}={where!r}")  # fmt: skip
    lengths, item_shape = [], None
    for seq in sequences:
        if not hasattr(seq, "__len__"):
            raise ValueError(f"`sequences` must be a list of iterables. Found non-iterable: {seq}")
        lengths.append(len(seq))
        if item_shape is None and len(seq):
            item_shape = np.asarray(seq).shape[1:]
    item_shape = item_shape or ()
    maxlen = (max(lengths) if lengths else 0) if maxlen is None else int(maxlen)
    text = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not text:
        raise ValueError(f"`dtype` {dtype} is not compatible with `value`'s type: "
                         f"{type(value)}; set dtype=object for strings of any length")  # fmt: skip
    out = np.full((len(lengths), maxlen, *item_shape), value, dtype=dtype)
    for i, seq in enumerate(sequences):
        if not len(seq) or not maxlen:
            continue
        kept = np.asarray(seq[-maxlen:] if truncating == "pre" else seq[:maxlen], dtype=dtype)
        if kept.shape[1:] != item_shape:
            raise ValueError(f"Shape of sample {kept.shape[1:]} of sequence at position {i} "
                             f"is different from expected shape {item_shape}")  # fmt: skip
        if padding == "post":
            out[i, : len(kept)] = kept
        else:
            out[i, maxlen - len(kept):] = kept
    return out
