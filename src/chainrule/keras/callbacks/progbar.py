"""The progress display behind :class:`ProgbarLogger`: a live bar (tqdm) or one line per epoch.

verbose=1 draws a bar with ``tqdm`` when it is installed (imported on first use) and a plain
carriage-return text bar otherwise. verbose=2 prints one summary line when the bar is finalized.
Numbers are formatted as Keras 3 ``keras/src/utils/progbar.py`` does.
"""

from __future__ import annotations

import math
import shutil
import sys
import time

__all__ = ["Progbar", "format_value", "format_time"]

DRAW_INTERVAL = 0.05  # default seconds between redraws of the live bar, as Keras
_TQDM = None  # the tqdm class, or False when tqdm is not installed; resolved on first bar


def _interactive() -> bool:
    """True when stdout is a terminal or a notebook, where a bar can be redrawn in place
    (Keras's ``_dynamic_display``)."""
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty()) or "ipykernel" in sys.modules


def _tqdm_class():
    global _TQDM
    if _TQDM is None:
        try:
            from tqdm import tqdm  # noqa: PLC0415 - optional dependency, imported when needed
        except ImportError:
            _TQDM = False
        else:
            _TQDM = tqdm
    return _TQDM


def format_value(value, signed: bool = True) -> str:
    """``.4f`` if ``|value| > 1e-3`` else ``.4e``; non-numbers as ``str``.

    ``signed=False`` reproduces Keras's verbose=2 line, which tests ``value > 1e-3`` (so a
    negative value is printed in ``.4e``).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return str(value)
    big = abs(value) > 1e-3 if signed else value > 1e-3
    return f"{value:.4f}" if big else f"{value:.4e}"


def format_time(seconds_per_unit: float, unit_name: str = "step") -> str:
    """A step duration as Keras prints it: ``2s/step``, ``15ms/step`` or ``80us/step``."""
    if seconds_per_unit >= 1 or seconds_per_unit == 0:
        return f"{seconds_per_unit:.0f}s/{unit_name}"
    if seconds_per_unit >= 1e-3:
        return f"{seconds_per_unit * 1e3:.0f}ms/{unit_name}"
    return f"{seconds_per_unit * 1e6:.0f}us/{unit_name}"


def format_eta(seconds: float) -> str:
    """Remaining time as ``h:mm:ss``, ``m:ss`` or ``Ns`` (Keras's thresholds)."""
    if seconds > 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds > 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


class Progbar:
    """A progress display for one epoch (or one evaluate/predict run).

    Args:
        target: total number of steps, or None if unknown.
        verbose: 1 for a live bar, 2 for one line at the end, 0 for nothing (default 1).
        desc: text before the step count, e.g. "Epoch 3/10" (default "").
        interval: minimum seconds between redraws of the live bar (default None: the module's
            ``DRAW_INTERVAL``, 0.05 as in Keras).
        unit_name: the unit in the step time (default "step").
        width: width of the bar in characters (default 20, as Keras).

    Values passed to :meth:`update` are shown as given (they are already running means), in the
    order their keys first appeared.
    """

    def __init__(self, target, verbose=1, desc="", interval=None, unit_name="step", width=20):
        if verbose == 1:
            _tqdm_class()  # import now, so that the import time is not counted as step time
        self.target = target
        self.verbose = verbose
        self.desc = desc
        self.interval = DRAW_INTERVAL if interval is None else interval
        self.unit_name = unit_name
        self.width = width
        self._values: dict = {}
        self._start = time.time()
        self._last_draw = 0.0
        self._time_after_first_step = None
        self._bar = None  # the tqdm instance, made at the first draw
        self._prev_width = 0
        self.closed = False

    def _step_time(self, current: int, now: float) -> float:
        # The first step (graph set-up, caches) is not representative: leave it out when we can.
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            return (now - self._time_after_first_step) / (current - 1)
        return (now - self._start) / current

    def _metrics_text(self, signed: bool = True) -> str:
        return "".join(f" - {k}: {format_value(v, signed)}" for k, v in self._values.items())

    def update(self, current: int, values=None, finalize: bool = False) -> None:
        """Record ``current`` steps done and the latest ``values`` (a dict or (name, value) list).

        Draws when ``finalize`` is True or ``interval`` seconds have passed since the last draw.
        """
        if self.closed:
            return
        if values:
            self._values.update(values)
        now = time.time()
        if current == 1 and self._time_after_first_step is None:
            self._time_after_first_step = now
        if self.verbose == 1:
            if not finalize and (now - self._last_draw < self.interval or not _interactive()):
                return  # in a log file (no terminal) only the final line of each bar is drawn
            self._last_draw = now
            self._draw(current, now, finalize)
        elif self.verbose == 2 and finalize:
            self._summary_line(current, now)
        if finalize:
            self.closed = True

    def _summary_line(self, current: int, now: float) -> None:
        if self.target is None or self.target <= 0:
            return
        digits = int(math.log10(self.target)) + 1
        line = (
            f"{current:{digits}d}/{self.target} - {now - self._start:.0f}s - "
            f"{format_time(self._step_time(current, now), self.unit_name)}"
            f"{self._metrics_text(signed=False)}"
        )
        out = sys.stdout
        out.write(line + "\n")
        out.flush()

    def _info(self, current: int, now: float, finalize: bool) -> str:
        step = format_time(self._step_time(current, now), self.unit_name)
        if finalize or self.target is None:
            head = f"{now - self._start:.0f}s {step}"
        else:
            eta = self._step_time(current, now) * (self.target - current)
            head = f"ETA {format_eta(eta)} - {step}"
        return head + self._metrics_text()

    def _draw(self, current: int, now: float, finalize: bool) -> None:
        info = self._info(current, now, finalize)
        tqdm = _tqdm_class()
        if tqdm and _interactive():
            self._draw_tqdm(tqdm, current, info, finalize)
        else:
            self._draw_text(current, info, finalize)

    def _draw_tqdm(self, tqdm, current: int, info: str, finalize: bool) -> None:
        def esc(s):
            return s.replace("{", "{{").replace("}", "}}")

        prefix = f"{esc(self.desc)} " if self.desc else ""
        if self.target:
            fmt = f"{prefix}{{n_fmt}}/{{total_fmt}} {{bar:{self.width}}} {esc(info)}"
        else:
            fmt = f"{prefix}{{n_fmt}}/Unknown {esc(info)}"
        if self._bar is None:
            # NOTE: a terminal that reports a 0x0 size (some CI ptys, `docker exec -t`) made
            # tqdm trim or hide every frame: give it a size then.
            size = shutil.get_terminal_size(fallback=(0, 0))
            self._bar = tqdm(
                total=self.target or None, initial=current, file=sys.stdout, bar_format=fmt,
                leave=True, dynamic_ncols=False, mininterval=0, miniters=1, delay=0,
                ncols=None if size.columns > 0 else 200, nrows=None if size.lines > 0 else 50,
            )  # fmt: skip
            if not finalize:
                return  # the constructor has drawn this frame
        bar = self._bar
        bar.bar_format = fmt
        bar.n = current
        if finalize:
            bar.close()  # redraws with the final text, then ends the line
        else:
            bar.refresh()

    def _draw_text(self, current: int, info: str, finalize: bool) -> None:
        prefix = f"{self.desc} " if self.desc else ""
        if self.target:
            done = int(self.width * min(current, self.target) / self.target)
            arrow = ">" if done < self.width else ""
            bar = "[" + "=" * done + arrow + "." * (self.width - done - len(arrow)) + "]"
            text = f"{prefix}{current}/{self.target} {bar} {info}"
        else:
            text = f"{prefix}{current}/Unknown {info}"
        pad = " " * max(0, self._prev_width - len(text))
        self._prev_width = len(text)
        out = sys.stdout
        out.write(("\r" if _interactive() else "") + text + pad + ("\n" if finalize else ""))
        out.flush()

    def close(self) -> None:
        """Release the tqdm bar without a final draw (e.g. after an exception)."""
        if self._bar is not None and not self.closed:
            self._bar.close()
        self.closed = True
