"""NSX's error body and every way a request ends in one.

NSX answers every failure with ``{"httpStatus", "error_code", "error_message",
"module_name"}``: ``httpStatus`` is the HTTP reason as an upper-case name
(``"NOT_FOUND"``), ``error_code`` an integer clients branch on. Clients built on NSX's
own library retry or log in again by (status, code) pairs, so the codes here are chosen
for what those clients do with them:

* 403 + 403: the credentials are wrong or missing (clients log in again on it, so no
  other denial uses it); 403 + 98: a session's write without its XSRF token (clients
  make a new session); 403 + 401: the user may not do this (the audit user's write; a
  code no client treats as "log in again").
* 404 + 600: the object (or path) does not exist, as NSX's "requested object could not be
  found"; 405 + 604 and 413 + 605: method not allowed, body too large (our choice, no
  NSX client branches on them).
* 400 + 255: the body is not JSON (our choice); 429 + 102: over the user's request rate
  (with ``Retry-After``); 500 + 99: anything unexpected, whose traceback goes to the
  server's stderr and never into the answer.

Every answer of the API is JSON (``Content-Type: application/json``), errors included.
"""

from __future__ import annotations

import json
import sys
import traceback
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The error codes this API answers with (see the module's doc for why each).
INVALID_CREDENTIALS = 403
BAD_XSRF_TOKEN = 98
PERMISSION_DENIED = 401
OBJECT_NOT_FOUND = 600
METHOD_NOT_ALLOWED = 604
BODY_TOO_LARGE = 605
MALFORMED_REQUEST = 255
RATE_LIMITED = 102
INTERNAL_ERROR = 99

#: ``module_name`` of errors not owned by one object family.
COMMON = "common-services"
POLICY = "policy"

#: The largest request body accepted (NSX's own reverse proxy refuses bodies far
#: smaller than a whole state; 10 MiB holds any hierarchical PATCH a client sends).
MAX_BODY_BYTES = 10 * 1024 * 1024


class ApiError(Exception):
    """An NSX error answer: raised anywhere in a request, turned into NSX's body."""

    def __init__(self, status: int, error_code: int, message: str,
                 module_name: str = COMMON, headers: dict[str, str] | None = None,
                 related: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
        self.module_name = module_name
        self.headers = headers or {}
        #: NSX's ``related_errors``: one error body per problem of a refused write.
        self.related = related or []


def error_body(status: int, error_code: int, message: str, module_name: str) -> dict[str, Any]:
    """NSX's error body."""
    return {"httpStatus": HTTPStatus(status).name, "error_code": error_code,
            "error_message": message, "module_name": module_name}


def error_response(err: ApiError) -> JSONResponse:
    body = error_body(err.status, err.error_code, err.message, err.module_name)
    if err.related:
        body["related_errors"] = err.related
    return JSONResponse(body, status_code=err.status, headers=err.headers)


def not_found(what: str) -> ApiError:
    """404: ``what`` (a path or an id) names nothing."""
    return ApiError(404, OBJECT_NOT_FOUND,
                    f"The requested object : {what} could not be found. Object identifiers "
                    "are case sensitive.", POLICY)


def parse_json_body(raw: bytes) -> Any:
    """The request body as JSON, or a 400 in NSX's shape (writers call this rather than
    letting a framework answer in its own)."""
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ApiError(400, MALFORMED_REQUEST, f"The request body is not valid JSON: {err}",
                       COMMON) from None


async def _api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc)


#: The methods a 405's ``Allow`` may list.
_METHODS = ("GET", "PUT", "POST", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the application serves at the request's path. (The
    router's own ``Allow`` names only the first route it met there, and one path often
    has a route per method: a GET, a PUT and a DELETE.)"""
    routes = request.app.router.routes
    return [m for m in _METHODS
            if any(r.matches({**request.scope, "method": m})[0] == Match.FULL for r in routes)]


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no route, wrong method) in NSX's shape."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return error_response(ApiError(404, OBJECT_NOT_FOUND,
                                       "The requested URI could not be found.", COMMON))
    if exc.status_code == 405:
        headers = dict(exc.headers or {})
        headers["Allow"] = ", ".join(allowed_methods(request)) or headers.get("Allow", "")
        return error_response(ApiError(405, METHOD_NOT_ALLOWED,
                                       "The method is not allowed for the requested URI.",
                                       COMMON, headers))
    code = MALFORMED_REQUEST if exc.status_code == 400 else exc.status_code
    return error_response(ApiError(exc.status_code, code, str(exc.detail), COMMON))


async def _validation_error(_request: Request, exc: Exception) -> Response:
    """A parameter or body FastAPI could not read: 400 naming the first field."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return error_response(ApiError(400, MALFORMED_REQUEST,
                                   f"Invalid request: {where}: {first.get('msg', 'invalid')}",
                                   COMMON))


async def _unexpected(_request: Request, exc: Exception) -> Response:
    """A bug: the traceback to stderr for the operator, a plain 500 for the client."""
    traceback.print_exception(exc, file=sys.stderr)
    return error_response(ApiError(500, INTERNAL_ERROR, "The server met an unexpected error.",
                                   COMMON))


def install_handlers(app: FastAPI) -> None:
    """Every failure of ``app`` answers in NSX's shape."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)


class BodyLimit:
    """ASGI middleware: a body over ``limit`` bytes is refused with 413 before the
    application reads it (by its ``Content-Length``), or as soon as a chunked body passes
    the limit. Nothing of the request is acted upon."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await _send_too_large(send, self.limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise ApiError(413, BODY_TOO_LARGE,
                                   f"The request body is larger than {self.limit} bytes.")
            return message

        await self.app(scope, counted, send)


async def _send_too_large(send: Send, limit: int) -> None:
    body = json.dumps(error_body(413, BODY_TOO_LARGE,
                                 f"The request body is larger than {limit} bytes.",
                                 COMMON)).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
