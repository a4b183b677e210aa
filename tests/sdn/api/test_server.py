"""The server as a whole, over real HTTP: a concurrent ``ncp sync`` shows on the next
read, TLS, the rate limit, bounded bodies, JSON on every answer, the OpenAPI document
and its offline documentation page."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.cli_runs import TOPOLOGIES
from tests.support.served import ADMIN, ROOT, Served, serve_env

SEGMENTS = "/policy/api/v1/infra/segments"


def test_a_concurrent_sync_shows_on_the_next_read(serve: Callable[..., Served]) -> None:
    served = serve("guestbook", "--rate-limit", "0")
    with served.client() as http:
        before = {d["path"] for d in http.get(SEGMENTS).json()["results"]}
        sync = subprocess.Popen(
            [sys.executable, "-m", "ncp", "sync", "--cluster", str(TOPOLOGIES / "multi-tenant"),
             "--cluster-name", "second", "--state", str(served.state), "-q"],
            env=serve_env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        try:
            while sync.poll() is None:  # reads while the sync writes: never an error
                assert http.get(SEGMENTS).status_code == 200
            out, err = sync.communicate()
        finally:
            if sync.poll() is None:
                sync.kill()
            sync.wait()
        assert sync.returncode in (0, 1), out + err
        after = {d["path"] for d in http.get(SEGMENTS).json()["results"]}
    assert before < after
    assert any("second" in p for p in after - before)


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_tls_serves_https_and_secure_cookies(serve: Callable[..., Served],
                                             tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    served = serve("guestbook", "--tls-cert", str(cert), "--tls-key", str(key))
    assert served.url.startswith("https://127.0.0.1:")
    with served.client(verify=ssl.create_default_context(cafile=str(cert))) as http:
        assert http.get(SEGMENTS).status_code == 200
        login = http.post("/api/session/create",
                          data={"j_username": ADMIN[0], "j_password": ADMIN[1]})
        assert "Secure" in login.headers["set-cookie"]
    plain = served.url.replace("https://", "http://")
    with pytest.raises(httpx.HTTPError), httpx.Client(auth=ADMIN, timeout=5) as http:
        http.get(plain + SEGMENTS)


def test_rate_limit_over_http(serve: Callable[..., Served]) -> None:
    served = serve("guestbook", "--rate-limit", "2")
    with served.client() as http:
        answers = [http.get(SEGMENTS) for _ in range(8)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited and answers[0].status_code == 200
    assert int(limited[0].headers["retry-after"]) >= 1
    assert limited[0].json()["error_code"] == 102
    assert limited[0].headers["content-type"] == "application/json"


def test_a_body_too_large_is_413(guestbook_api: Served) -> None:
    with guestbook_api.client() as http:
        answer = http.post("/api/session/create", content=b"x" * (11 * 1024 * 1024))
    assert answer.status_code == 413
    assert answer.json()["httpStatus"] == "REQUEST_ENTITY_TOO_LARGE"


def test_openapi_document_lists_the_api(guestbook_api: Served) -> None:
    with guestbook_api.client(None) as http:
        spec = http.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    for path in ("/policy/api/v1/infra/segments", "/policy/api/v1/infra/segments/{id}",
                 "/policy/api/v1/infra/segments/{segment_id}/ports", "/api/v1/logical-ports",
                 "/api/session/create"):
        assert path in spec["paths"], path
    params = spec["paths"]["/policy/api/v1/infra/segments/{segment_id}/ports"]["get"][
        "parameters"]
    assert {"segment_id", "page_size", "cursor"} <= {p["name"] for p in params}


def test_docs_page_works_offline(guestbook_api: Served) -> None:
    """Every script and style the page names is served by the server itself."""
    with guestbook_api.client(None) as http:
        page = http.get("/docs")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assets = [a for a in ("swagger-ui-bundle.js", "swagger-ui.css") if a in page.text]
        assert len(assets) == 2 and "https://" not in page.text.split("<body>")[0]
        for asset in assets:
            assert http.get(f"/docs-assets/{asset}").status_code == 200


@pytest.mark.parametrize(("method", "path", "auth"), [
    pytest.param("GET", SEGMENTS, ADMIN, id="list"),
    pytest.param("GET", f"{SEGMENTS}/nope", ADMIN, id="404"),
    pytest.param("GET", SEGMENTS, None, id="403"),
    pytest.param("PUT", "/api/v1/node/version", ADMIN, id="405"),
    pytest.param("GET", "/api/v1/nothing-here", ADMIN, id="unknown-path"),
    pytest.param("POST", "/api/session/destroy", None, id="logout"),
])
def test_every_api_answer_is_json(guestbook_api: Served, method: str, path: str,
                                  auth: tuple[str, str] | None) -> None:
    with guestbook_api.client(auth) as http:
        answer = http.request(method, path)
    assert answer.headers["content-type"] == "application/json"
    answer.json()
