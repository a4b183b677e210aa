"""Who is asking, and may they: NSX's two users, HTTP Basic, sessions, XSRF, rate limit.

Users are NSX's built-in pair: ``admin`` (read-write, ``$SDN_ADMIN_PASSWORD``) and
``audit`` (read-only, ``$SDN_AUDIT_PASSWORD``; absent, the audit user cannot log in).
A request proves who it is by HTTP Basic (on any request) or by the ``JSESSIONID``
cookie of ``POST /api/session/create``; a session's writes must also carry the
``X-XSRF-TOKEN`` header the session was given (Basic requests need none: they cannot be
forged by a browser without the password).

Choices where NSX leaves room:

* No credentials at all, an unknown session and a bad password are the same answer,
  403 with ``error_code`` 403: clients log in again on it, which is what each needs.
* Sessions live in this process's memory (a restart logs everyone out, as an NSX manager
  restart does); they do not expire while the server runs.
* The rate limit is a token bucket per user: ``rate`` requests per second sustained,
  bursts of up to ``rate`` at once; beyond it 429 with ``Retry-After`` (whole seconds,
  at least 1). ``rate`` 0 turns it off.
"""

from __future__ import annotations

import base64
import binascii
import math
import secrets
import time
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request, Response

from sdn.api.errors import (
    BAD_XSRF_TOKEN,
    INVALID_CREDENTIALS,
    PERMISSION_DENIED,
    RATE_LIMITED,
    ApiError,
)

ADMIN, AUDIT = "admin", "audit"
SESSION_COOKIE = "JSESSIONID"
XSRF_HEADER = "X-XSRF-TOKEN"


@dataclass(frozen=True)
class User:
    """An authenticated user; ``writer`` when it may change the state."""

    name: str
    writer: bool


@dataclass
class Session:
    user: User
    xsrf_token: str


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class Authenticator:
    """The users, their sessions and their request budgets (one per server)."""

    passwords: dict[str, str]
    rate: float = 0.0
    sessions: dict[str, Session] = field(default_factory=dict)
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def check_password(self, name: str, password: str) -> User:
        expected = self.passwords.get(name)
        if expected is None or not secrets.compare_digest(expected.encode(), password.encode()):
            raise ApiError(403, INVALID_CREDENTIALS, "The credentials were incorrect or the "
                           "account specified has been locked.")
        return User(name, writer=name == ADMIN)

    def create_session(self, user: User) -> tuple[str, Session]:
        """A new session of ``user``: its cookie value and its state."""
        token = secrets.token_urlsafe(24)
        session = Session(user, secrets.token_urlsafe(24))
        self.sessions[token] = session
        return token, session

    def spend(self, user: User, now: float | None = None) -> None:
        """Take one request from ``user``'s budget, or refuse with 429."""
        if self.rate <= 0:
            return
        now = time.monotonic() if now is None else now
        bucket = self._buckets.setdefault(user.name, _Bucket(self.rate, now))
        bucket.tokens = min(self.rate, bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens < 1:
            wait = max(1, math.ceil((1 - bucket.tokens) / self.rate))
            raise ApiError(429, RATE_LIMITED, f"Client '{user.name}' exceeded request rate "
                           f"of {self.rate:g} per second.", headers={"Retry-After": str(wait)})
        bucket.tokens -= 1


def _basic(header: str) -> tuple[str, str] | None:
    """``(user, password)`` of an ``Authorization: Basic`` header, None for another kind."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        user, sep, password = "", "", ""
    if not sep:
        raise ApiError(403, INVALID_CREDENTIALS, "The credentials were incorrect or the "
                       "account specified has been locked.")
    return user, password


def authenticator(request: Request) -> Authenticator:
    auth: Authenticator = request.app.state.auth
    return auth


def _identify(request: Request, auth: Authenticator) -> tuple[User, Session | None]:
    header = request.headers.get("authorization")
    pair = _basic(header) if header else None
    if pair is not None:
        return auth.check_password(*pair), None
    session = auth.sessions.get(request.cookies.get(SESSION_COOKIE, ""))
    if session is None:
        raise ApiError(403, INVALID_CREDENTIALS, "The credentials were incorrect or the "
                       "account specified has been locked.")
    return session.user, session


async def reader(request: Request) -> User:
    """FastAPI dependency: any authenticated user within their rate. (Coroutines, as
    every handler here: they run on the server's one event loop, so the sessions and
    budgets are never touched by two threads.)"""
    auth = authenticator(request)
    user, _ = _identify(request, auth)
    auth.spend(user)
    return user


async def writer(request: Request) -> User:
    """FastAPI dependency: a user who may write; a session's write needs its XSRF token."""
    auth = authenticator(request)
    user, session = _identify(request, auth)
    auth.spend(user)
    if session is not None and not secrets.compare_digest(
            request.headers.get(XSRF_HEADER, "").encode(), session.xsrf_token.encode()):
        raise ApiError(403, BAD_XSRF_TOKEN, "Bad XSRF token")
    if not user.writer:
        raise ApiError(403, PERMISSION_DENIED, f"The user '{user.name}' does not have "
                       "permission to perform this operation (read-only).")
    return user


Reader = Annotated[User, Depends(reader)]
Writer = Annotated[User, Depends(writer)]


def form_credentials(body: bytes) -> tuple[str, str] | None:
    """``(j_username, j_password)`` of a session-create form body, None when absent."""
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        return None
    if "j_username" not in fields:
        return None
    return fields["j_username"][0], fields.get("j_password", [""])[0]


router = APIRouter(tags=["session"])


@router.post("/api/session/create")
async def create_session(request: Request) -> Response:
    """Log in (form ``j_username``/``j_password``, or HTTP Basic): the answer sets the
    ``JSESSIONID`` cookie and gives the session's ``X-XSRF-TOKEN``."""
    auth = authenticator(request)
    pair = form_credentials(await request.body())
    header = request.headers.get("authorization")
    if pair is None and header:
        pair = _basic(header)
    if pair is None:
        raise ApiError(403, INVALID_CREDENTIALS, "The credentials were incorrect or the "
                       "account specified has been locked.")
    user = auth.check_password(*pair)
    auth.spend(user)
    token, session = auth.create_session(user)
    response = Response(b"{}", media_type="application/json",
                        headers={XSRF_HEADER: session.xsrf_token})
    response.set_cookie(SESSION_COOKIE, token, path="/", httponly=True,
                        secure=request.url.scheme == "https", samesite=None)
    return response


@router.post("/api/session/destroy")
async def destroy_session(request: Request) -> Response:
    """Log out: the session's cookie no longer authenticates."""
    auth = authenticator(request)
    auth.sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
    response = Response(b"{}", media_type="application/json")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
