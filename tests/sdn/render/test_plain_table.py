"""The plain table writer prints exactly what rich prints into a pipe, and declines
whatever rich would lay out differently (rich itself is the oracle)."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TextIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdn.render.output import PIPE_WIDTH, console, print_table, rich_table, surely_no_terminal
from sdn.render.plain_table import as_is, plain_table


def rich_text(header: list[str], rows: list[list[str]], title: str) -> str:
    """What rich prints for the table into a file (as ``print_table`` used to)."""
    stream = io.StringIO()
    rich_table(console(stream), header, rows, title=title, stream=stream)
    return stream.getvalue()


#: Cells of the characters our tables hold, plus those rich treats specially
#: (markup, emoji codes, tabs, control and wide characters).
CELL = st.text(alphabet=st.sampled_from(list("ab /-_.,()09:[]\\\t\x07é界 ")), max_size=12)
#: Cells with colons: MAC addresses, and emoji codes among them.
COLON_CELL = st.lists(st.sampled_from(["02", "50", "0a", "ab", "a", "100", "", "x y"]),
                      max_size=6).map(":".join)
#: Cells the plain writer always takes (no colon, bracket or special character).
PLAIN_CELL = st.text(alphabet=st.sampled_from(list("ab /-_.,()09 ")), max_size=12)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), columns=st.integers(1, 4),
       cells=st.sampled_from([CELL, PLAIN_CELL, COLON_CELL]))
def test_plain_table_prints_what_rich_prints(data: st.DataObject, columns: int,
                                            cells: st.SearchStrategy[str]) -> None:
    """Any table it writes is rich's; every table of plain cells it writes."""
    title = data.draw(cells)
    header = data.draw(st.lists(cells.filter(bool), min_size=columns, max_size=columns))
    rows = data.draw(st.lists(st.lists(cells, min_size=columns, max_size=columns),
                              max_size=5))
    text = plain_table(header, rows, title=title, width=1000)
    if cells is PLAIN_CELL:
        assert text is not None
    if text is not None:
        assert text == rich_text(header, rows, title)


@settings(max_examples=50, deadline=None)
@given(widths=st.lists(st.integers(0, 400), min_size=1, max_size=4),
       width=st.integers(20, 1000))
def test_wide_tables_fit_or_are_left_to_rich(widths: list[int], width: int) -> None:
    """At the console's width exactly the table still fits; one more column folds (rich)."""
    header = [f"H{i}" for i in range(len(widths))]
    rows = [["x" * w for w in widths]]
    text = plain_table(header, rows, title="t", width=width)
    natural = sum(max(w, 2) for w in widths) + len(widths) - 1
    assert (text is not None) == (natural <= width)
    if text is not None and width == 1000:
        assert text == rich_text(header, rows, "t")


@pytest.mark.parametrize(("text", "expected"), [
    ("plain text: with a colon", True),
    ("/infra/domains/default/groups/g-1", True),
    ("[bold]markup", False),
    ("a :smile: code", False),
    ("02:ab:00:54", False),  # :ab: is an emoji code to rich
    ("02:50:0a:00:54:02", True),  # a MAC address: colons, but no emoji code
    ("two::colons", True),
    ("tab\there", False),
    ("wide 界", False),
], ids=["colon", "path", "markup", "emoji", "emoji-in-mac", "mac", "double-colon", "tab",
        "wide"])
def test_what_rich_prints_as_is(text: str, expected: bool) -> None:
    assert as_is(text) is expected


@pytest.mark.parametrize(("header", "rows"), [
    ([], []),
    (["A", ""], [["x", "y"]]),
    (["A", "B"], [["x"]]),
], ids=["no-columns", "empty-header", "short-row"])
def test_odd_shapes_are_left_to_rich(header: list[str], rows: list[list[str]]) -> None:
    assert plain_table(header, rows, title="", width=1000) is None


def test_print_table_into_a_file_is_rich_byte_for_byte() -> None:
    """Through ``print_table``: the plain path and rich's agree, markup cell or not."""
    for rows in ([["a", "b: c"], ["long cell here", ""]], [["[x]", "y"]]):
        stream = io.StringIO()
        print_table(["ONE", "TWO"], rows, title="things: 2", stream=stream)
        assert stream.getvalue() == rich_text(["ONE", "TWO"], rows, "things: 2")


@contextmanager
def _pty_stream() -> Iterator[TextIO]:
    """A stream on a pseudo-terminal (what rich takes for a terminal)."""
    leader, follower = os.openpty()
    try:
        with os.fdopen(follower, "w") as stream:
            yield stream
    finally:
        os.close(leader)


STREAMS: dict[str, Callable[[], AbstractContextManager[TextIO]]] = {
    "string": io.StringIO,
    "file": lambda: tempfile.TemporaryFile("w"),  # noqa: SIM115 (entered by the test)
    "terminal": _pty_stream,
}
ENVIRONMENTS: dict[str, dict[str, str]] = {
    "none": {}, "FORCE_COLOR=1": {"FORCE_COLOR": "1"}, "FORCE_COLOR=": {"FORCE_COLOR": ""},
    "TTY_COMPATIBLE=1": {"TTY_COMPATIBLE": "1"}, "TTY_COMPATIBLE=0": {"TTY_COMPATIBLE": "0"},
    "NO_COLOR": {"NO_COLOR": "1"}, "TERM=dumb": {"TERM": "dumb"},
}


@pytest.mark.parametrize("stream_kind", list(STREAMS))
@pytest.mark.parametrize("env", list(ENVIRONMENTS))
def test_surely_no_terminal_only_where_rich_sees_none(
        monkeypatch: pytest.MonkeyPatch, stream_kind: str, env: str) -> None:
    """Told without rich, but never where rich would style or fold: the plain path is
    taken only where rich draws at the pipe width without styling."""
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)
    for name, value in ENVIRONMENTS[env].items():
        monkeypatch.setenv(name, value)
    with STREAMS[stream_kind]() as stream:
        out = console(stream)
        if surely_no_terminal(stream):
            assert not out.is_terminal and out.color_system is None
            assert out.width == PIPE_WIDTH
        if stream_kind != "terminal" and env in ("none", "NO_COLOR", "TERM=dumb"):
            assert surely_no_terminal(stream)  # the common case takes the plain path
        if stream_kind == "terminal":
            assert not surely_no_terminal(stream)
