"""Who may do what: HTTP Basic, sessions with their XSRF token, NSX's codes for each
refusal (a table of cases with ids)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from tests.support.served import ADMIN, AUDIT, Served

SEGMENTS = "/policy/api/v1/infra/segments"


@dataclass(frozen=True)
class Case:
    auth: tuple[str, str] | None
    status: int
    error_code: int | None = None


@pytest.mark.parametrize("case", [
    pytest.param(Case(ADMIN, 200), id="admin-basic"),
    pytest.param(Case(AUDIT, 200), id="audit-basic"),
    pytest.param(Case(("admin", "wrong"), 403, 403), id="bad-password"),
    pytest.param(Case(("nobody", "x"), 403, 403), id="unknown-user"),
    pytest.param(Case(None, 403, 403), id="no-credentials"),
])
def test_basic_auth_on_a_read(guestbook_api: Served, case: Case) -> None:
    with guestbook_api.client(case.auth) as http:
        answer = http.get(SEGMENTS)
    assert answer.status_code == case.status
    assert answer.headers["content-type"] == "application/json"
    if case.error_code is not None:
        assert answer.json()["error_code"] == case.error_code


def _login(http: httpx.Client, user: tuple[str, str]) -> httpx.Response:
    return http.post("/api/session/create", data={"j_username": user[0], "j_password": user[1]})


def test_session_create_sets_cookie_and_xsrf_token(guestbook_api: Served) -> None:
    with guestbook_api.client(None) as http:
        answer = _login(http, ADMIN)
        assert answer.status_code == 200
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("JSESSIONID=") and "Path=/" in cookie
        assert "HttpOnly" in cookie and "Secure" not in cookie
        assert answer.headers["x-xsrf-token"]
        assert http.get(SEGMENTS).status_code == 200  # the cookie authenticates
        assert http.post("/api/session/destroy").status_code == 200
        assert http.get(SEGMENTS).json()["error_code"] == 403


@pytest.mark.parametrize(("form", "code"), [
    pytest.param({"j_username": "admin", "j_password": "wrong"}, 403, id="bad-password"),
    pytest.param({}, 403, id="no-form"),
])
def test_session_create_refused(guestbook_api: Served, form: dict[str, str], code: int) -> None:
    with guestbook_api.client(None) as http:
        answer = http.post("/api/session/create", data=form)
    assert answer.status_code == 403 and answer.json()["error_code"] == code
    assert "set-cookie" not in answer.headers


def test_session_create_accepts_basic(guestbook_api: Served) -> None:
    with guestbook_api.client(AUDIT) as http:
        answer = http.post("/api/session/create")
    assert answer.status_code == 200 and answer.headers["x-xsrf-token"]
