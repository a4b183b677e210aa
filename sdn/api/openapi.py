"""The OpenAPI document (``/openapi.json``) as the API really answers: FastAPI's,
with NSX's error body (``ApiError``) for the refusals every operation can give (400,
403, 404, 429) instead of FastAPI's own 422, which this API never sends (its
parameter errors are NSX's 400: :mod:`sdn.api.errors`)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA = {
    "title": "ApiError",
    "type": "object",
    "description": "NSX's error body.",
    "properties": {
        "httpStatus": {"type": "string"},
        "error_code": {"type": "integer"},
        "error_message": {"type": "string"},
        "module_name": {"type": "string"},
    },
    "required": ["httpStatus", "error_code", "error_message", "module_name"],
}

#: The refusals any operation may give, and why.
REFUSALS = {
    "400": "Malformed request (a parameter or body NSX would refuse)",
    "403": "Bad credentials (error_code 403), missing XSRF token (98), not permitted (401)",
    "404": "No such object",
    "429": "Over the user's request rate (see Retry-After)",
}


def nsx_openapi(app: FastAPI) -> dict[str, Any]:
    """The document, built once per server."""
    if app.openapi_schema is None:
        doc = get_openapi(title=app.title, version=app.version,
                          description=app.description, routes=app.routes)
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        schemas["ApiError"] = ERROR_SCHEMA
        error = {"content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ApiError"}}}}
        for operations in doc.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                for status, why in REFUSALS.items():
                    responses.setdefault(status, {"description": why, **error})
        app.openapi_schema = doc
    return app.openapi_schema
