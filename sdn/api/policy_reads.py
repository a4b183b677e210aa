"""Policy API reads: ``GET /policy/api/v1/infra/...`` for every kind ``sdn show`` has.

A URL under ``/policy/api/v1`` is the Policy path of what it names, so one handler
serves every collection (its members, paged: :mod:`sdn.api.paging`) and one every
object (:mod:`sdn.api.stateview`). The routes are still declared one per collection,
so that the OpenAPI document lists each with its path parameters, and an unknown path
is a 404 rather than an empty list.

Choices: a collection under an object that does not exist (the ports of an unknown
segment) is 404, as the object would be; NAT rules live in the ``USER`` section (NCP
and admins write there), and the ``DEFAULT`` and ``INTERNAL`` sections list empty;
``/infra/services`` lists the named services the state holds (an admin's, written with
``sdn apply`` or the API: NSX's predefined services are not invented here).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response

from sdn.api.auth import Reader
from sdn.api.errors import not_found
from sdn.api.paging import Cursor, PageRequest, PageSize, SortAscending, SortBy, list_page
from sdn.api.stateview import Snapshot, StateView

PREFIX = "/policy/api/v1"

#: Every Policy collection served, as a route template (its members' ids are ``{id}``
#: beneath it). Parameters name the parent objects; ``domain`` and ``section`` are
#: NSX's fixed names.
COLLECTIONS: tuple[str, ...] = (
    "/infra/tier-0s",
    "/infra/tier-1s",
    "/infra/segments",
    "/infra/segments/{segment_id}/ports",
    "/infra/ip-blocks",
    "/infra/ip-pools",
    "/infra/ip-pools/{pool_id}/ip-subnets",
    "/infra/ip-pools/{pool_id}/ip-allocations",
    "/infra/tier-0s/{tier0_id}/nat/{section}/nat-rules",
    "/infra/tier-1s/{tier1_id}/nat/{section}/nat-rules",
    "/infra/domains/{domain}/groups",
    "/infra/domains/{domain}/security-policies",
    "/infra/domains/{domain}/security-policies/{policy_id}/rules",
    "/infra/services",
    "/infra/lb-services",
    "/infra/lb-virtual-servers",
    "/infra/lb-pools",
    "/infra/lb-app-profiles",
    "/infra/lb-persistence-profiles",
)

#: Path parameters with a fixed set of values (anything else names nothing).
FIXED = {"domain": ("default",), "section": ("USER", "DEFAULT", "INTERNAL")}

_PARAM = re.compile(r"{(\w+)}")


def view(request: Request) -> Snapshot:
    """The state as of now (the view rebuilds on a new revision)."""
    state: StateView = request.app.state.view
    return state.current()


def json_response(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json")


def path_parameters(template: str) -> list[dict[str, Any]]:
    """The OpenAPI path parameters of a route template."""
    out: list[dict[str, Any]] = []
    for name in _PARAM.findall(template):
        schema: dict[str, Any] = {"type": "string"}
        if name in FIXED:
            schema["enum"] = list(FIXED[name])
        out.append({"name": name, "in": "path", "required": True, "schema": schema})
    return out


def _check_parents(snapshot: Snapshot, request: Request, collection: str) -> None:
    """404 unless the fixed parameters have their values and every parent object of
    ``collection`` exists."""
    for name, allowed in FIXED.items():
        value = request.path_params.get(name)
        if value is not None and value not in allowed:
            raise not_found(collection)
    parts = collection.split("/")
    # "/infra/segments/S/ports": the parent objects are every even-length prefix past infra
    for end in range(4, len(parts), 2):
        parent = "/".join(parts[:end])
        if parent.startswith("/infra/domains/") and end == 4:
            continue  # the domain itself: checked above
        if "/nat/" in parent:
            continue  # a NAT section: a fixed name, not an object
        if parent not in snapshot.docs:
            raise not_found(parent)


def _policy_path(request: Request) -> str:
    return str(request.scope["path"])[len(PREFIX):].rstrip("/")


def _list_handler(template: str) -> Any:
    async def list_collection(
        request: Request, _user: Reader, cursor: Cursor = None, page_size: PageSize = None,
        sort_by: SortBy = None, sort_ascending: SortAscending = True,
    ) -> Response:
        collection = _policy_path(request)
        snapshot = view(request)
        _check_parents(snapshot, request, collection)
        page = PageRequest(cursor, page_size, sort_by, sort_ascending)
        members = snapshot.members.get(collection, [])
        return json_response(list_page(snapshot.documents, collection, members, page))

    list_collection.__doc__ = f"List the members of {template} (NSX paging)."
    return list_collection


def _get_handler(template: str) -> Any:
    async def get_object(request: Request, _user: Reader) -> Response:
        path = _policy_path(request)
        snapshot = view(request)
        body = snapshot.documents.body(path)
        if body is None:
            raise not_found(path)
        return json_response(body)

    get_object.__doc__ = f"One member of {template}."
    return get_object


def build_router() -> APIRouter:
    """A route for every collection and every member of one."""
    router = APIRouter(tags=["policy"])
    for template in COLLECTIONS:
        kind = template.rsplit("/", 1)[1]
        router.add_api_route(PREFIX + template, _list_handler(template), methods=["GET"],
                             name=f"list {template}", operation_id=f"list{_op(template)}",
                             openapi_extra={"parameters": path_parameters(template)},
                             summary=f"List {kind}")
        item = template + "/{id}"
        router.add_api_route(PREFIX + item, _get_handler(template), methods=["GET"],
                             name=f"get {item}", operation_id=f"get{_op(template)}",
                             openapi_extra={"parameters": path_parameters(item)},
                             summary=f"Read one of {kind}")
    return router


def _op(template: str) -> str:
    """An operation id from a template's words (``/infra/segments/{segment_id}/ports``:
    ``InfraSegmentsPorts``)."""
    words = [w for w in re.split(r"[/\-_]", _PARAM.sub("", template)) if w]
    return "".join(w[:1].upper() + w[1:] for w in words)
