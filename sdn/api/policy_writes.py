"""Policy API writes (admin only): ``PUT``, ``PATCH`` and ``DELETE`` of the objects a
network admin owns.

Which objects: the kinds ``sdn apply`` takes (groups, security policies, named
services) and a security policy's rules at their own path. Everything else in the state
is ``ncp``'s (tier-1s, segments, ports, pools, NAT, load balancers follow the
Kubernetes objects), so the API serves it read-only: another method there is 405.
Semantics, protection and revisions: :mod:`sdn.api.write_ops`; one transaction per
request: :mod:`sdn.api.write_commit`.

Answers: ``PUT`` is 200 with the object as a later ``GET`` returns it; ``PATCH`` and
``DELETE`` are 200 with ``{}`` (NSX sends no body; every answer here is JSON, and NSX's
clients read neither).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.requests import ClientDisconnect

from sdn.api.auth import Writer
from sdn.api.errors import MALFORMED_REQUEST, ApiError, not_found, parse_json_body
from sdn.api.policy_reads import PREFIX, json_response, path_parameters
from sdn.api.stateview import encode
from sdn.api.write_commit import StateWriter
from sdn.api.write_ops import Method, Write

#: The objects an admin writes, by route template (the Policy path after ``PREFIX``).
WRITABLE: dict[str, str] = {
    "/infra/domains/{domain}/groups/{id}": "Group",
    "/infra/domains/{domain}/security-policies/{id}": "SecurityPolicy",
    "/infra/domains/{domain}/security-policies/{policy_id}/rules/{id}": "Rule",
    "/infra/services/{id}": "Service",
}

_METHODS: tuple[Method, ...] = ("PUT", "PATCH", "DELETE")
#: A write's OpenAPI body and refusals beyond every operation's: any JSON object (checked
#: as ``sdn apply`` checks it, with references no schema can state), and 412 for a stale
#: ``_revision``.
JSON_BODY: dict[str, Any] = {
    "requestBody": {"required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}}},
    "responses": {"412": {"description": "Stale _revision (NSX's error body)",
                          "content": {"application/json": {"schema": {
                              "$ref": "#/components/schemas/ApiError"}}}}}}

#: The header NSX requires to change an object NCP owns.
OVERRIDE_HEADER = "X-Allow-Overwrite"


def allow_overwrite(request: Request) -> bool:
    """Whether the request carries ``X-Allow-Overwrite: true``."""
    return request.headers.get(OVERRIDE_HEADER, "").strip().lower() == "true"


def writer_of(request: Request) -> StateWriter:
    """The server's writing connection (see :class:`StateWriter`)."""
    found: StateWriter = request.app.state.writer
    return found


async def read_body(request: Request) -> Any:
    """The request's JSON body (a client gone before sending all of it changes nothing:
    the request ends here)."""
    try:
        raw = await request.body()
    except ClientDisconnect:
        raise ApiError(400, MALFORMED_REQUEST, "The client went away mid-request.") from None
    return parse_json_body(raw)


def _handler(kind: str, method: Method) -> Any:
    async def write(request: Request, user: Writer) -> Response:
        path = str(request.scope["path"])[len(PREFIX):].rstrip("/")
        if request.path_params.get("domain") != "default" and "/domains/" in path:
            raise not_found(path)
        body = None if method == "DELETE" else await read_body(request)
        writer_of(request).commit([Write(method, kind, path, body)],
                                  allow_overwrite=allow_overwrite(request),
                                  user=user.name, command=f"{method} {request.url.path}")
        if method != "PUT":
            return json_response(b"{}")
        doc = writer_of(request).document(path)
        if doc is None:  # cannot happen: the PUT just wrote it
            raise not_found(path)
        return json_response(encode(doc))

    write.__doc__ = f"{method} a {kind} (admin only)."
    return write


def build_router() -> APIRouter:
    """PUT, PATCH and DELETE for every writable object."""
    router = APIRouter(tags=["policy"])
    for template, kind in WRITABLE.items():
        for method in _METHODS:
            router.add_api_route(PREFIX + template, _handler(kind, method),
                                 methods=[method], name=f"{method.lower()} {template}",
                                 operation_id=f"{method.lower()}{kind}",
                                 openapi_extra={"parameters": path_parameters(template),
                                                **({} if method == "DELETE" else JSON_BODY)},
                                 summary=f"{method} a {kind}")
    return router
