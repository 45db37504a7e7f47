"""Training curves with matplotlib: ``plot_history`` (not in Keras) and a safe PNG writer.

matplotlib is an optional dependency (the ``examples`` extra); it is imported only when a
function here is called, so ``import chainrule.keras.utils`` never needs it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping, Sequence

__all__ = ["plot_history", "save_figure"]

_INSTALL_HINT = (
    "plot_history needs matplotlib, which is not installed: install it with "
    "`pip install matplotlib` or `pip install chainrule[examples]`"
)


def _pyplot():
    """matplotlib.pyplot, with the file-only "Agg" backend unless a backend was chosen."""
    try:
        import matplotlib  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    # Respect a backend the user already picked (e.g. in a notebook); otherwise stay headless,
    # so plotting works on servers and in CI without a display.
    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> str:
    """Write ``fig`` as a PNG to ``path`` atomically: to a temporary file, then renamed.

    A reader (or a crash half-way) never sees a half-written image. Missing parent folders
    are created.

    Args:
        fig: a matplotlib Figure.
        path: the target file name (``.png``).
        dpi: resolution (default 100).

    Returns:
        The path written, as a string.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".png", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format="png", dpi=dpi)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def _as_dict(history) -> dict[str, list[float]]:
    logs = getattr(history, "history", history)
    if not isinstance(logs, Mapping):
        raise TypeError(
            "history must be a History (as returned by fit) or a dict of per-epoch lists, "
            f"received {type(history).__name__}"
        )
    if not logs:
        raise ValueError("history is empty: there is nothing to plot (was fit run for 0 epochs?)")
    out = {}
    for key, values in logs.items():
        if not isinstance(values, Sequence) and not hasattr(values, "__len__"):
            raise ValueError(
                f"history[{key!r}] must be a list of per-epoch values, received {values!r}"
            )
        out[str(key)] = [float(v) for v in values]
    return out


def plot_history(history, path: str | os.PathLike | None = None, metrics=None):
    """Draw the per-epoch loss and metric curves of a ``fit``, train and validation together.

    One panel per metric ``m``: the curve ``history[m]`` against the epoch (1, 2, ...) and,
    when present, ``history["val_" + m]`` on the same axes. Not part of Keras; every Keras
    user writes this by hand.

    Args:
        history: a ``keras.callbacks.History`` (what ``fit`` returns) or its ``.history`` dict
            ``{"loss": [...], "val_loss": [...], ...}``.
        path: optional PNG file to write (to a temporary name, then renamed into place so that
            no half-written file is ever seen; default None: nothing written).
        metrics: the names to plot, e.g. ``["loss", "accuracy"]`` (default None: every key
            without a ``val_`` prefix, plus ``m`` for any ``val_m`` whose ``m`` is absent).

    Returns:
        The matplotlib ``Figure`` (close it with ``matplotlib.pyplot.close(fig)``).

    Raises:
        ImportError: when matplotlib is missing, saying how to install it.
        TypeError: when ``history`` is neither a History nor a dict.
        ValueError: for an empty history, or a requested metric absent from it (the message
            lists the available keys).

    >>> fig = plot_history({"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6]})
    >>> [ax.get_title() for ax in fig.axes]
    ['loss']
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['loss', 'val_loss']
    >>> import matplotlib.pyplot as plt
    >>> plt.close(fig)
    """
    logs = _as_dict(history)
    if metrics is None:
        names = [k for k in logs if not k.startswith("val_")]
        names += [k[4:] for k in logs if k.startswith("val_") and k[4:] not in logs]
    else:
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        for name in names:
            if name not in logs and f"val_{name}" not in logs:
                raise ValueError(
                    f"metric {name!r} is not in the history: available keys are {sorted(logs)}"
                )
    if not names:
        raise ValueError(f"no metric to plot: received metrics={metrics!r}")
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for key, style in ((name, "-"), (f"val_{name}", "--")):
            if key in logs:
                epochs = range(1, len(logs[key]) + 1)
                ax.plot(epochs, logs[key], style, marker="." if len(logs[key]) < 30 else None,
                        label=key)  # fmt: skip
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig
