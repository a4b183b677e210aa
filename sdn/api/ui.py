"""The web page at ``/`` and the JSON it reads under ``/ui/api/``.

The page (``sdn/api/static/``: hand-written HTML, CSS and JavaScript modules, bundled as
package data, nothing fetched from the internet) signs in with NSX's own session form
(``/api/session/create``) and then reads:

* ``/ui/api/session``: who is signed in and whether that user may write;
* ``/ui/api/topology?collapse=auto|all|none&expand=PATH...``: the topology tree
  (collapsed per Tier-1 at scale, the ``expand``-ed gateways opened);
* ``/ui/api/ipam``: ``sdn ipam --show-blocks -o json``;
* ``/ui/api/dfw?pod=NS/POD|group=TEXT``: the DFW in NSX's order, searched;
* ``/ui/api/pods``: the pod names the traceflow form offers;
* ``/ui/api/traceflow?src=&dst=&protocol=&port=``: ``sdn traceflow -o json``'s trace
  plus the topology nodes it crossed;

and, for the object inspector, the NSX API itself (Policy reads, realized state).

Choices: every ``/ui/api`` answer needs a signed-in user (any: the page never writes, so
the audit user sees the same page, without a single write control); the traceflow is a
GET, being a simulation that changes nothing (no XSRF token involved). A question the
engine refuses (an unknown pod, a bad port) is 404 (``OBJECT_NOT_FOUND``) when it names
something that does not exist (a ``NotFoundError``, or any ``UNKNOWN_*`` code: an unknown
service is one), else 400 with :data:`INVALID_QUESTION`, the engine's own code leading
the message. The page itself and its assets need no sign-in (they hold no
data), and are the only answers here that are not JSON.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from sdn.api.auth import Reader
from sdn.api.errors import OBJECT_NOT_FOUND, POLICY, ApiError
from sdn.api.ui_answers import UiAnswers
from sdn.errors import NotFoundError, SdnError
from sdn.render.topology_json import Collapse

#: ``error_code`` of a question the engine refuses as asked (a port out of range, a
#: protocol without ports given one): NSX's "invalid parameter" family, our choice.
INVALID_QUESTION = 257

#: The page's files and their media types (nothing else under /ui/static is served).
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    **{name: "text/javascript; charset=utf-8" for name in (
        "api.js", "app.js", "topology.js", "inspector.js", "traceflow.js", "dfw.js",
        "ipam.js")},
}


def _asset(name: str) -> bytes:
    return resources.files("sdn.api").joinpath("static", name).read_bytes()


def _answers(request: Request) -> UiAnswers:
    answers: UiAnswers = request.app.state.ui
    return answers


def _refused(err: SdnError) -> ApiError:
    """The engine's refusal of a question as NSX's error body."""
    if isinstance(err, NotFoundError) or err.code.startswith("UNKNOWN_"):
        return ApiError(404, OBJECT_NOT_FOUND, str(err), POLICY)
    return ApiError(400, INVALID_QUESTION, str(err), POLICY)


def build_router() -> APIRouter:
    """The page, its assets and its JSON endpoints (the assets read once, here)."""
    router = APIRouter(tags=["web UI"])
    assets = {name: (_asset(name), media) for name, media in ASSETS.items()}

    @router.get("/", include_in_schema=False)
    async def page() -> Response:
        body, media = assets["index.html"]
        return Response(body, media_type=media, headers={"Cache-Control": "no-cache"})

    @router.get("/ui/static/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in assets:
            raise ApiError(404, OBJECT_NOT_FOUND, f"no such file: {name}")
        body, media = assets[name]
        return Response(body, media_type=media, headers={"Cache-Control": "no-cache"})

    @router.get("/ui/api/session")
    async def session(user: Reader) -> dict[str, Any]:
        return {"user": user.name, "writer": user.writer}

    @router.get("/ui/api/topology")
    async def topology(request: Request, _user: Reader, collapse: Collapse = "auto",
                       expand: Annotated[tuple[str, ...], Query()] = ()) -> Response:
        tree = _answers(request).topology(collapse, expand)
        return JSONResponse(tree)

    @router.get("/ui/api/ipam")
    async def ipam(request: Request, _user: Reader) -> dict[str, Any]:
        return _answers(request).ipam()

    @router.get("/ui/api/dfw")
    async def dfw(request: Request, _user: Reader, pod: str | None = None,
                  group: str | None = None, cluster: str | None = None) -> dict[str, Any]:
        try:
            return _answers(request).dfw(pod=pod or None, group=group or None,
                                         cluster=cluster or None)
        except SdnError as err:
            raise _refused(err) from None

    @router.get("/ui/api/pods")
    async def pods(request: Request, _user: Reader) -> list[str]:
        return _answers(request).pods()

    @router.get("/ui/api/traceflow")
    async def traceflow(request: Request, _user: Reader, src: str, dst: str,
                        protocol: str = "TCP", port: int | None = None,
                        cluster: str | None = None) -> dict[str, Any]:
        try:
            return _answers(request).traceflow(src, dst, protocol=protocol.upper(),
                                               dport=port, cluster=cluster or None)
        except SdnError as err:
            raise _refused(err) from None

    return router
