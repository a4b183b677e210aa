"""NSX's list answers: ``{"results", "result_count", "cursor"?, "sort_by",
"sort_ascending"}`` with ``page_size``, ``cursor``, ``sort_by`` and ``sort_ascending``.

Choices where NSX leaves room (each a documented assumption):

* ``result_count`` is the size of the whole list, not of the page; ``cursor`` is present
  only when more results remain after this page.
* Without ``sort_by`` the list is ordered by ``display_name``, as NSX's Policy lists
  answer, ties by path (so the order is total and the same every time).
* A cursor is the position of the next result, as a decimal string. A client following
  cursors while the state changes may see an object twice or miss one (as with NSX);
  it never sees an error for it.
* ``page_size`` defaults to 1,000 and is capped at 1,000, NSX's limits; a client that
  follows cursors without sending it gets pages of 1,000.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query

from sdn.api.errors import MALFORMED_REQUEST, ApiError
from sdn.api.stateview import Documents, encode

DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE = 1000
DEFAULT_SORT = "display_name"
CURSOR_PATTERN = r"^[0-9]*$"

#: The paging parameters as every list operation declares them (so the OpenAPI document
#: says what a valid cursor is).
Cursor = Annotated[str | None, Query(pattern=CURSOR_PATTERN,
                                     description="where the previous page ended")]
PageSize = Annotated[int | None, Query(ge=0, description="results per page (at most 1000)")]
SortBy = Annotated[str | None, Query(description="the field to sort by")]
SortAscending = Annotated[bool, Query()]


@dataclass(frozen=True)
class PageRequest:
    """What a client asked of a list."""

    cursor: str | None = None
    page_size: int | None = None
    sort_by: str | None = None
    sort_ascending: bool = True

    def start(self) -> int:
        if self.cursor is None or self.cursor == "":
            return 0
        if not re.fullmatch(CURSOR_PATTERN, self.cursor):
            raise ApiError(400, MALFORMED_REQUEST, f"Invalid cursor {self.cursor!r}.")
        return int(self.cursor)

    def size(self) -> int:
        if self.page_size is None:
            return DEFAULT_PAGE_SIZE
        if self.page_size < 0:
            raise ApiError(400, MALFORMED_REQUEST, f"Invalid page_size {self.page_size}.")
        return min(self.page_size, MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE


def page_bodies(bodies: list[bytes], total: int, request: PageRequest, sort_by: str,
                start: int) -> bytes:
    """One list answer from the page's object bodies (already serialized)."""
    end = start + len(bodies)
    out = [b'{"results":[', b",".join(bodies), b'],"result_count":', str(total).encode()]
    if end < total:
        out += [b',"cursor":', encode(str(end))]
    out += [b',"sort_by":', encode(sort_by), b',"sort_ascending":',
            b"true" if request.sort_ascending else b"false", b"}"]
    return b"".join(out)


def list_page(documents: Documents, listing: str, keys: list[str],
              request: PageRequest) -> bytes:
    """One page of the documents ``keys`` (the members of ``listing``)."""
    sort_by = request.sort_by or DEFAULT_SORT
    ordered = documents.ordered(listing, keys, sort_by, request.sort_ascending)
    start = request.start()
    chosen = ordered[start:start + request.size()]
    bodies = [b for k in chosen if (b := documents.body(k)) is not None]
    return page_bodies(bodies, len(ordered), request, sort_by, start)
