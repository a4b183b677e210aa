"""The ``writer`` and ``reader`` dependencies and the error handlers on a small app of
their own (no write endpoint is needed to know who may write), through httpx's client
on the application in-process (its ASGI transport)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from sdn.api import auth
from sdn.api.auth import Reader, Writer
from sdn.api.errors import BodyLimit, install_handlers, parse_json_body

ADMIN = ("admin", "a-pass")
AUDIT = ("audit", "b-pass")


def _app(rate: float = 0.0) -> FastAPI:
    app = FastAPI()
    app.state.auth = auth.Authenticator({"admin": ADMIN[1], "audit": AUDIT[1]}, rate=rate)
    install_handlers(app)
    app.add_middleware(BodyLimit, limit=100)
    app.include_router(auth.router)

    @app.post("/write")
    async def write(user: Writer) -> dict[str, str]:
        return {"user": user.name}

    @app.get("/read")
    async def read(user: Reader) -> dict[str, str]:
        return {"user": user.name}

    @app.post("/json")
    async def body(user: Reader, request: Request) -> dict[str, str]:
        return {"type": type(parse_json_body(await request.body())).__name__}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    return app


def talk(app: FastAPI, exchange: Callable[[httpx.AsyncClient], Awaitable[Any]]) -> Any:
    """Run ``exchange`` with a client of ``app`` (cookies kept between its requests)."""

    async def run() -> Any:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await exchange(http)

    return asyncio.run(run())


@dataclass(frozen=True)
class Write:
    login: tuple[str, str] | None  # a session of this user (None: Basic as `basic`)
    basic: tuple[str, str] | None
    xsrf: str  # "good", "bad" or "none"
    status: int
    error_code: int | None = None


@pytest.mark.parametrize("case", [
    pytest.param(Write(None, ADMIN, "none", 200), id="admin-basic-needs-no-xsrf"),
    pytest.param(Write(None, AUDIT, "none", 403, 401), id="audit-basic-read-only"),
    pytest.param(Write(None, ("admin", "x"), "none", 403, 403), id="bad-password"),
    pytest.param(Write(None, None, "none", 403, 403), id="anonymous"),
    pytest.param(Write(ADMIN, None, "good", 200), id="admin-session-with-xsrf"),
    pytest.param(Write(ADMIN, None, "none", 403, 98), id="admin-session-without-xsrf"),
    pytest.param(Write(ADMIN, None, "bad", 403, 98), id="admin-session-wrong-xsrf"),
    pytest.param(Write(AUDIT, None, "good", 403, 401), id="audit-session-read-only"),
    pytest.param(Write(AUDIT, None, "none", 403, 98), id="audit-session-without-xsrf"),
])
def test_who_may_write(case: Write) -> None:
    async def exchange(http: httpx.AsyncClient) -> httpx.Response:
        headers = {}
        if case.login is not None:
            login = await http.post("/api/session/create", data={
                "j_username": case.login[0], "j_password": case.login[1]})
            token = login.headers["x-xsrf-token"]
            headers = {"good": {"X-XSRF-TOKEN": token}, "bad": {"X-XSRF-TOKEN": token + "x"},
                       "none": {}}[case.xsrf]
        return await http.post("/write", headers=headers, auth=case.basic)

    answer = talk(_app(), exchange)
    assert answer.status_code == case.status, answer.text
    if case.error_code is not None:
        assert answer.json()["error_code"] == case.error_code
        assert answer.json()["httpStatus"] == "FORBIDDEN"


def test_rate_limit_answers_429_with_retry_after() -> None:
    async def exchange(http: httpx.AsyncClient) -> tuple[list[int], httpx.Response, int]:
        codes = [(await http.get("/read", auth=ADMIN)).status_code for _ in range(6)]
        limited = await http.get("/read", auth=ADMIN)
        return codes, limited, (await http.get("/read", auth=AUDIT)).status_code

    codes, limited, audit = talk(_app(rate=3), exchange)
    assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.json()["httpStatus"] == "TOO_MANY_REQUESTS"
    assert audit == 200  # per user: the audit user still has its own budget


def test_bucket_refills_with_time() -> None:
    authn = auth.Authenticator({"admin": "p"}, rate=2)
    user = auth.User("admin", writer=True)
    authn.spend(user, now=0.0)
    authn.spend(user, now=0.0)
    with pytest.raises(Exception) as refused:
        authn.spend(user, now=0.1)
    assert getattr(refused.value, "status", None) == 429
    authn.spend(user, now=0.6)  # half a second later: one request's worth came back


@pytest.mark.parametrize(("body", "status"), [
    pytest.param(b'{"a": 1}', 200, id="json"),
    pytest.param(b'{"a": ', 400, id="malformed"),
    pytest.param(b"\xff\xfe", 400, id="not-utf8"),
    pytest.param(b"[" + b"1," * 100 + b"1]", 413, id="too-large"),
])
def test_bodies(body: bytes, status: int) -> None:
    answer = talk(_app(), lambda http: http.post(
        "/json", content=body, auth=ADMIN, headers={"content-type": "application/octet-stream"}))
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/json"
    if status != 200:
        assert set(answer.json()) == {"httpStatus", "error_code", "error_message",
                                      "module_name"}


def test_a_chunked_body_too_large_is_413() -> None:
    """Without a Content-Length, the limit is counted as the body arrives."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"x" * 60

    answer = talk(_app(), lambda http: http.post("/json", content=chunks(), auth=ADMIN))
    assert answer.status_code == 413
    assert answer.json()["httpStatus"] == "REQUEST_ENTITY_TOO_LARGE"


def test_a_bug_is_a_500_without_its_traceback() -> None:
    answer = talk(_app(), lambda http: http.get("/boom"))
    assert answer.status_code == 500
    assert answer.json()["httpStatus"] == "INTERNAL_SERVER_ERROR"
    assert "secret" not in answer.text and "Traceback" not in answer.text
