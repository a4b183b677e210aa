"""A table written as rich writes it into a pipe, without rich's layout engine.

Why: rich lays every cell out as styled text (markup, emoji codes, wrapping, measuring),
about 0.3 ms a cell: ``sdn lint`` on 10,000 findings spent 3 s drawing its table into a
file, far more than answering. Into a pipe or a file rich draws nothing it needs for that:
no colour, no terminal width to fold to (:func:`~sdn.render.output.console` gives it
1000 columns). So when every cell is plain printable ASCII that rich would not read as
markup or an emoji code, and the table fits that width, the lines are simply the cells
padded to their column's width, one space apart, byte for byte what rich prints (a
property test compares the two); anything else (a terminal, styling, a cell that is
wide, folds, or holds ``[`` or an emoji code such as ``:smile:``) is left to rich.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: Text between two colons, which rich may read as an emoji code (``:smile:``).
_COLONS = re.compile(r":\S*?:")


def as_is(text: str) -> bool:
    """Whether rich prints ``text`` as it is: no markup, no control or wide characters,
    and no emoji code. Text between colons is common (a MAC address) and mostly no
    emoji: rich's own replacement decides then (``:ab:`` is one, ``:50:`` is not)."""
    # printable ASCII only (no control codes, tabs or wide characters), no markup tag
    if not (text.isascii() and text.isprintable()) or "[" in text:
        return False
    if _COLONS.search(text) is None:
        return True
    from rich._emoji_replace import _emoji_replace  # only its table: no console, no layout

    return _emoji_replace(text) == text


def plain_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, title: str,
                width: int) -> str | None:
    """The text rich prints for a title (when not empty) and a table of ``header`` and
    ``rows`` (no box, no edge padding, one space between columns) on a console ``width``
    columns wide without styling; None when rich must draw it itself: a cell or the
    title that is not :func:`as_is`, a table or title wider than ``width`` (rich folds),
    an empty header or a row of another length.
    """
    if not header or not all(header) or any(len(row) != len(header) for row in rows):
        return None
    if title and len(title) > width:
        return None
    # one search over every cell: a space between two cells is plain and ends any
    # ``:name:`` (no space inside), so the text is plain exactly when every cell is
    if not as_is(" ".join([title, *(cell for row in (header, *rows) for cell in row)])):
        return None
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    if sum(widths) + len(widths) - 1 > width:
        return None
    lines = [title] if title else []
    lines += [" ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
              for row in (header, *rows)]
    return "\n".join(lines) + "\n"
