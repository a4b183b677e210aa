"""What an API write does to the engine: ``sdn show``, ``sdn reach`` and ``sdn explain``
see it at once; a concurrent ``ncp sync`` and API writes lose nothing and never
half-write; a client that goes away mid-request changes nothing."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sdn.cli.main import main as sdn_main
from tests.support.cli_runs import run_main
from tests.support.served import Served, serve_env

ROOT = Path(__file__).resolve().parents[3]
DOMAIN = "/policy/api/v1/infra/domains/default"
FRONTEND = {"resource_type": "Condition", "member_type": "SegmentPort", "key": "Tag",
            "operator": "EQUALS", "value": "app|guestbook"}


def sdn_json(*argv: object) -> Any:
    code, out, err = run_main(sdn_main, *argv, "-o", "json")
    assert code == 0, err
    return json.loads(out)


def test_a_write_is_seen_by_show_reach_and_explain(serve: Callable[..., Served]) -> None:
    served = serve("guestbook", "--rate-limit", "0")
    state = served.state
    flow = ("--src", "default/frontend-0", "--dst", "default/redis-master-0",
            "--protocol", "TCP", "--dport", "6379", "--state", state)
    assert sdn_json("explain", *flow)["allowed"]
    pair = ["default/frontend-0", "default/redis-master-0"]
    assert pair in sdn_json("reach", "--port", 6379, "--state", state)["results"][0]["allowed"]
    with served.client() as http:
        assert http.put(f"{DOMAIN}/groups/all-pods", json={"expression": [
            {"resource_type": "IPAddressExpression", "ip_addresses": ["172.16.0.0/16"]}]},
        ).status_code == 200
        answer = http.put(f"{DOMAIN}/security-policies/lockdown", json={
            "category": "Emergency", "rules": [{
                "id": "no-redis", "action": "DROP",
                "destination_groups": [f"{DOMAIN[len('/policy/api/v1'):]}/groups/all-pods"],
                "service_entries": [{"resource_type": "L4PortSetServiceEntry",
                                     "l4_protocol": "TCP", "destination_ports": ["6379"]}]}]})
        assert answer.status_code == 200, answer.text
    shown = {p["id"] for p in sdn_json("show", "security-policies", "--state", state)}
    assert "lockdown" in shown
    verdict = sdn_json("explain", *flow)
    assert not verdict["allowed"]
    assert verdict["egress"]["rule"]["path"].endswith("/lockdown/rules/no-redis")
    assert pair not in sdn_json("reach", "--port", 6379, "--state", state)["results"][0][
        "allowed"]


def _sync(folder: Path, state: Path, now: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ncp", "sync", "--cluster", str(folder), "--state", str(state),
         "--now", repr(now), "-q"], capture_output=True, text=True, env=serve_env(),
        cwd=ROOT, timeout=300, check=False)


def test_concurrent_sync_and_api_writes_lose_nothing(serve: Callable[..., Served],
                                                     tmp_path: Path) -> None:
    served = serve("guestbook", "--rate-limit", "0")
    folder = tmp_path / "guestbook"
    shutil.copytree(ROOT / "topologies" / "guestbook", folder)
    extra = folder / "extra.yaml"
    syncs: list[int] = []
    answers: list[int] = []

    def syncing() -> None:
        for n in range(6):
            if n % 2 == 0:
                extra.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n"
                                 f"  name: extra-{n}\n")
            else:
                extra.unlink()
            syncs.append(_sync(folder, served.state, 1_700_000_100.0 + n).returncode)

    def writing() -> None:
        with served.client() as http:
            for n in range(20):
                answers.append(http.put(f"{DOMAIN}/groups/concurrent-{n}", json={
                    "expression": [FRONTEND]}).status_code)
                answers.append(http.patch(f"{DOMAIN}/security-policies/concurrent", json={
                    "rules": [{"id": f"r{n}", "action": "ALLOW", "source_groups": [
                        f"/infra/domains/default/groups/concurrent-{n}"]}]}).status_code)

    threads = [threading.Thread(target=syncing), threading.Thread(target=writing)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert syncs == [0] * 6 and answers == [200] * 40
    groups = {g["id"] for g in sdn_json("show", "groups", "--state", served.state)}
    assert {f"concurrent-{n}" for n in range(20)} <= groups
    [policy] = [p for p in sdn_json("show", "security-policies", "--state", served.state)
                if p["id"] == "concurrent"]
    assert [r["id"] for r in policy["rules"]] == [f"r{n}" for n in range(20)]
    segments = {s["id"] for s in sdn_json("show", "segments", "--state", served.state)}
    assert not any("extra" in s for s in segments)  # the last sync removed the namespace
    code, out, err = run_main(sdn_main, "validate", "--state", served.state)
    assert code == 0, out + err


def test_a_client_gone_mid_request_changes_nothing(guestbook_api: Served) -> None:
    url = urlsplit(guestbook_api.url)
    with guestbook_api.client() as http:
        before = http.get("/policy/api/v1/infra").content
    body = json.dumps({"expression": [FRONTEND]}).encode()
    for sent in (0, len(body) // 2, len(body) - 1):
        with socket.create_connection((url.hostname, url.port)) as raw:
            raw.sendall(b"PUT " + f"{DOMAIN}/groups/gone".encode() + b" HTTP/1.1\r\n"
                        b"Host: x\r\nAuthorization: Basic " + _basic() + b"\r\n"
                        b"Content-Type: application/json\r\n"
                        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
                        + body[:sent])
    with guestbook_api.client() as http:
        assert http.get(f"{DOMAIN}/groups/gone").status_code == 404
        assert http.get("/policy/api/v1/infra").content == before


def _basic() -> bytes:
    import base64

    from tests.support.served import ADMIN
    return base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode())
