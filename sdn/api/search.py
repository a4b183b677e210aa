"""NSX's search: ``GET /policy/api/v1/search/query?query=...`` over every object the
Policy API serves, in NSX's Lucene-style syntax (:mod:`sdn.api.lucene`).

Parameters: ``query`` (required), ``sort_by`` (a dotted field), ``sort_ascending``,
``page_size`` (default and cap 1,000, as NSX), ``cursor``, ``included_fields`` (a
comma-separated list of top-level fields each result keeps).

Answers always carry ``result_count`` (every match) and ``cursor``: while results remain
the position of the next one as a decimal string; on the last page NSX's search gives a
cursor starting with ``0000``, and clients stop on that prefix (nsxlib) or on a cursor
not below ``result_count`` (other clients), so it is ``0000`` followed by the
``result_count``, which satisfies both.

Choices (named): without ``sort_by`` results are in path order (NSX orders by its index;
path order is deterministic and free); with it, by that field's first value, objects
without one last, ties by path. The index is built per state revision, a field the
first time a query names it (:class:`~sdn.api.lucene.SearchIndex`); a bad query is 400
with NSX's field-validation code and the parser's message.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pyroaring import BitMap

from sdn.api.auth import Reader
from sdn.api.errors import MALFORMED_REQUEST, POLICY, ApiError
from sdn.api.lucene import QuerySyntaxError, SearchIndex, parse, resolve, scalar_text
from sdn.api.paging import Cursor, PageRequest, PageSize, SortAscending, SortBy
from sdn.api.policy_reads import json_response, view
from sdn.api.stateview import Snapshot, encode

#: The cursor prefix of NSX's last search page.
LAST_PAGE = "0000"


class SearchState:
    """The search index of one snapshot, and the sort orders asked of it (one per
    revision: :meth:`~sdn.api.stateview.Snapshot.derived`)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.paths = sorted(snapshot.docs)
        self.index = SearchIndex([snapshot.docs[p] for p in self.paths])
        self._ranks: dict[tuple[str, bool], list[int]] = {}

    def ordered(self, ids: BitMap, sort_by: str | None, ascending: bool) -> list[int]:
        """``ids`` in answer order (see the module's doc)."""
        if sort_by is None:
            found = list(ids)
            return found if ascending else found[::-1]
        rank = self._rank(sort_by, ascending)
        return sorted(ids, key=rank.__getitem__)

    def _rank(self, sort_by: str, ascending: bool) -> list[int]:
        """Each object's position in the order of ``sort_by`` (computed once per field)."""
        key = (sort_by, ascending)
        found = self._ranks.get(key)
        if found is None:
            parts = sort_by.split(".")
            keyed = [(_sort_value(obj, parts), i) for i, obj in enumerate(self.index.objects)]
            present = [(v, i) for v, i in keyed if v is not None]
            # a stable sort, reversed or not, keeps ties in path order
            present.sort(key=lambda k: k[0], reverse=not ascending)
            order = [i for _, i in present] + [i for v, i in keyed if v is None]
            found = [0] * len(order)
            for position, i in enumerate(order):
                found[i] = position
            self._ranks[key] = found
        return found


def _sort_value(obj: object, parts: list[str]) -> tuple[int, Any] | None:
    """A field's first value as a key comparing across JSON types (numbers first)."""
    for value in resolve(obj, parts):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (0, float(value))
        text = scalar_text(value)
        if text is not None:
            return (1, text)
    return None


async def search_query(
    request: Request, _user: Reader,
    query: Annotated[str, Query(min_length=1)],
    cursor: Cursor = None,
    page_size: PageSize = None,
    sort_by: SortBy = None,
    sort_ascending: SortAscending = True,
    included_fields: Annotated[str | None, Query()] = None,
) -> Response:
    """Objects matching an NSX search query, paged (see the module's doc)."""
    try:
        tree = parse(query)
    except QuerySyntaxError as err:
        raise ApiError(400, MALFORMED_REQUEST, f"Invalid search query {query!r}: {err}",
                       POLICY) from None
    snapshot = view(request)
    state = snapshot.derived("search", SearchState)
    page = PageRequest(cursor, page_size, sort_by, sort_ascending)
    ids = state.ordered(state.index.select(tree), sort_by, sort_ascending)
    start = min(page.start(), len(ids))
    chosen = ids[start:start + page.size()]
    end = start + len(chosen)
    if included_fields:
        keep = [f.strip() for f in included_fields.split(",") if f.strip()]
        bodies = [encode({k: state.index.objects[i][k] for k in keep
                          if k in state.index.objects[i]}) for i in chosen]
    else:
        bodies = [snapshot.documents.body(state.paths[i]) or b"{}" for i in chosen]
    next_cursor = str(end) if end < len(ids) else f"{LAST_PAGE}{len(ids)}"
    out = [b'{"results":[', b",".join(bodies), b'],"result_count":', str(len(ids)).encode(),
           b',"cursor":', encode(next_cursor)]
    if sort_by is not None:
        out += [b',"sort_by":', encode(sort_by), b',"sort_ascending":',
                b"true" if sort_ascending else b"false"]
    return json_response(b"".join(out) + b"}")


def build_router() -> APIRouter:
    """The search route."""
    router = APIRouter(tags=["search"])
    router.add_api_route("/policy/api/v1/search/query", search_query, methods=["GET"])
    return router


__all__ = ["LAST_PAGE", "SearchState", "build_router"]
