"""Plain-text tables laid out as ``rich`` lays out the ones Keras 3 prints (used by
``summary_utils``): cell widths of wide characters, word wrapping, cuts with "…", column
widths from a line length, the heavy-head box, and the console width."""

from __future__ import annotations

import builtins
import math
import os
import re
import sys
import unicodedata

# Box characters: top rule, header row, header rule, body row, rule between rows, bottom rule.
# In each rule: left, horizontal, cross, right; in each row: left, (unused), divider, right.
_HEAVY_HEAD = ("┏━┳┓", "┃ ┃┃", "┡━╇┩", "│ ││", "├─┼┤", "└─┴┘")
_ASCII = ("+--+", "| ||", "|-+|", "| ||", "|-+|", "+--+")  # rich's fallback off UTF-8
_WORD = re.compile(r"\s*\S+\s*")  # a word with the spaces around it, as rich splits text


# -- text in cells (what rich does for a Text in a table column) -------------------------------
def _char_len(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _cell_len(text: str) -> int:
    """Terminal cells taken by ``text`` (wide East Asian characters take two)."""
    return len(text) if text.isascii() else sum(_char_len(c) for c in text)


def _crop(text: str, width: int) -> str:
    if width <= 0 or text.isascii():
        return text[: max(width, 0)]
    out, used = [], 0
    for ch in text:
        n = _char_len(ch)
        if used + n > width:
            return "".join(out) + " " * (width - used)  # a wide character split in two
        out.append(ch)
        used += n
    return "".join(out)


def _fit(text: str, width: int) -> str:
    """``text`` cropped or padded with spaces to exactly ``width`` cells."""
    n = _cell_len(text)
    return text + " " * (width - n) if n < width else _crop(text, width)


def _break_offsets(text: str, width: int, fold: bool) -> list[int]:
    """Where to break ``text`` into lines of at most ``width`` cells, at spaces; a word longer
    than a line is chopped (``fold``) or left whole for the truncation to cut."""
    offsets, used = [], 0
    for match in _WORD.finditer(text):
        start, word = match.start(), match.group()
        length = _cell_len(word.rstrip())
        if width - used >= length:
            used += _cell_len(word)
        elif length > width:
            if start:
                offsets.append(start)
            used = 0
            for i, ch in enumerate(word):  # fold: chop the word into lines of `width`
                if fold and used and used + _char_len(ch) > width:
                    offsets.append(start + i)
                    used = 0
                used += _char_len(ch)
        elif used and start:
            offsets.append(start)
            used = _cell_len(word)
    return offsets


def _wrap(text: str, width: int, justify: str, overflow: str) -> list[str]:
    """``text`` as lines of at most ``width`` cells. ``justify`` is "left", "right" or
    "center" (lines padded to ``width``) or "default" (not padded); ``overflow`` "ellipsis"
    ends a cut line with "…", "fold" chops long words onto the next line."""
    lines = []
    for para in text.split("\n"):
        cuts = [0, *_break_offsets(para, width, overflow == "fold"), len(para)]
        for a, b in zip(cuts, cuts[1:], strict=False):
            line = para[a:b]
            if len(line) > width:  # spaces past the edge go first
                stripped = line.rstrip()
                line = line[: max(len(stripped), width)]
            if justify in ("right", "center"):
                line = line.rstrip()
            if _cell_len(line) > width:
                cut = overflow == "ellipsis"
                line = _crop(line, width - cut) + "…" * cut
            gap = width - _cell_len(line)
            if justify == "left":
                line += " " * gap
            elif justify == "right":
                line = " " * gap + line
            elif justify == "center":
                line = " " * (gap // 2) + line + " " * (gap - gap // 2)
            lines.append(line)
    return lines


def _cell(text: str, width: int, justify: str) -> list[str]:
    """A table cell of ``width`` cells, one space of padding each side."""
    inner = width - 2
    return [_fit(" " + _fit(line, inner) + " ", width)
            for line in _wrap(text, inner, justify, "ellipsis")]  # fmt: skip


def _column_widths(content: list[int], line_length: int) -> list[int]:
    """Each column's width with its padding, as rich sizes a table of fixed-width columns
    given ``width=line_length``: the padded widths, then what they exceed the room left by
    the borders taken off evenly (rounding half to even), or what they fall short of it
    added in proportion to them (rounding up), column by column from the left."""
    room = line_length - len(content) - 1  # the borders take one character per column + 1
    widths = [min(w + 2, room) for w in content]
    excess = sum(widths) - room
    share = sum(1 for w in widths if w) if excess > 0 else sum(widths)
    for i, w in enumerate(widths):
        if excess > 0 and w:
            cut = min(w, round(excess / share))
            widths[i], excess, share = w - cut, excess - cut, share - 1
        elif excess < 0:
            extra = math.ceil(w * -excess / share)
            widths[i], excess, share = w + extra, excess + extra, share - w
    return widths


def _table(headers, aligns, widths, rows, box) -> list[str]:
    top, head, head_rule, body, row_rule, bottom = box

    def rule(chars):
        return chars[0] + chars[2].join(chars[1] * w for w in widths) + chars[3]

    def row(chars, cells, valign_bottom):
        cells = [_cell(t, w, a) for t, w, a in zip(cells, widths, aligns, strict=True)]
        height = max(len(c) for c in cells)
        pads = [[" " * w] * (height - len(c)) for c, w in zip(cells, widths, strict=True)]
        cells = [p + c if valign_bottom else c + p for c, p in zip(cells, pads, strict=True)]
        return [chars[0] + chars[2].join(c[i] for c in cells) + chars[3] for i in range(height)]

    lines = [rule(top), *row(head, headers, True), rule(head_rule)]
    for i, cells in enumerate(rows):
        if i:
            lines.append(rule(row_rule))
        lines.extend(row(body, cells, False))
    return lines + [rule(bottom)]


def _console_width(capturing: bool) -> int:
    """The width rich gives Keras's console: Jupyter's, $COLUMNS, else the first of
    stdin/stdout/stderr that is a terminal, else 80 (a dumb terminal is 80)."""
    shell = getattr(builtins, "get_ipython", lambda: None)()
    if shell is not None and (type(shell).__name__ == "ZMQInteractiveShell"
                              or "google.colab" in str(type(shell))):  # fmt: skip
        cols = os.environ.get("JUPYTER_COLUMNS", "")
        return int(cols) if cols.isdigit() else 115
    tty = getattr(sys.stdout, "isatty", lambda: False)()
    if not capturing and tty and os.environ.get("TERM", "").lower() in ("dumb", "unknown"):
        return 80
    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit():
        return int(cols)
    for fd in (0, 1, 2):
        try:
            return os.get_terminal_size(fd).columns or 80
        except (AttributeError, ValueError, OSError):
            continue
    return 80
