"""NSX's hierarchical Policy API: ``PATCH /policy/api/v1/infra`` (admin only) writes a
whole tree of groups, security policies, rules and services in one transaction, and
``GET /policy/api/v1/infra`` reads the state as such a tree (see
:mod:`sdn.api.hierarchy` for the tree and its choices).

``nsx-enable-partial-patch: true`` is accepted: every object of the tree is patched
(created, or its given fields merged) whether or not it is sent, so the header changes
nothing here. The write is all or nothing: any problem of any object (a shape problem of
the tree, a validation problem, a stale ``_revision``, a protected object without
``X-Allow-Overwrite: true``) refuses the whole tree, as one NSX error with every problem
in ``related_errors``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from sdn.api.auth import Reader, Writer
from sdn.api.errors import not_found
from sdn.api.hierarchy import infra_tree, infra_writes, type_filter
from sdn.api.policy_reads import PREFIX, json_response, view
from sdn.api.policy_writes import JSON_BODY, allow_overwrite, read_body, writer_of
from sdn.api.stateview import encode
from sdn.api.write_commit import problems_error

router = APIRouter(tags=["policy"])


@router.patch(PREFIX + "/infra", operation_id="patchInfra", openapi_extra=JSON_BODY)
async def patch_infra(request: Request, user: Writer) -> Response:
    """Write a tree of admin objects in one transaction (admin only)."""
    writes, problems = infra_writes(await read_body(request))
    if problems:
        raise problems_error(problems)
    if writes:
        writer_of(request).commit(writes, allow_overwrite=allow_overwrite(request),
                                  user=user.name, command=f"PATCH {request.url.path}")
    return json_response(b"{}")


@router.get(PREFIX + "/infra", operation_id="readInfra")
async def read_infra(
    request: Request, _user: Reader,
    filter_: Annotated[str | None, Query(alias="filter")] = None,
    type_filter_: Annotated[str | None, Query(alias="type_filter")] = None,
    base_path: Annotated[str, Query()] = "/infra",
) -> Response:
    """The state as NSX's hierarchical tree (``filter=Type-Domain|Group|...``). The
    whole tree's answer, per type filter, is kept for the state's revision (drawing it
    walks every object); a subtree is drawn each time."""
    types = type_filter(filter_, type_filter_)
    base = base_path.rstrip("/") or "/infra"
    snapshot = view(request)
    if base != "/infra":
        tree = infra_tree(snapshot.docs.values(), types=types, base_path=base)
        if tree is None:
            raise not_found(base_path)
        return json_response(encode(tree))
    key = "infra tree " + ("|".join(sorted(types)) if types is not None else "*")
    return json_response(snapshot.derived(key, lambda s: encode(
        infra_tree(s.docs.values(), types=types))))
