"""How the API tests name pods and packets to the Traceflow API, as a client does: a pod's
segment port through the Policy API, its logical port id through its VIF attachment."""

from __future__ import annotations

from typing import Any

import httpx

POLICY = "/policy/api/v1"
#: The guestbook's namespace segment.
SEGMENT = "/infra/segments/seg_k8s-cluster_default"


def port(http: httpx.Client, pod: str) -> dict[str, Any]:
    """The Policy API's segment port of pod ``default/<pod>``."""
    doc: dict[str, Any] = http.get(f"{POLICY}{SEGMENT}/ports/{pod}").json()
    return doc


def lport(http: httpx.Client, pod: str) -> str:
    """The logical port id of a pod, found as a client finds it: by its VIF attachment."""
    attachment = port(http, pod)["attachment"]["id"]
    found = http.get("/api/v1/logical-ports", params={"attachment_id": attachment}).json()
    assert found["result_count"] == 1
    return str(found["results"][0]["id"])


def address(http: httpx.Client, pod: str) -> str:
    return str(port(http, pod)["address_bindings"][0]["ip_address"])


def tcp_packet(dst_ip: str, dst_port: int) -> dict[str, Any]:
    return {"resource_type": "FieldsPacketData", "transport_type": "UNICAST",
            "ip_header": {"dst_ip": dst_ip, "ttl": 64},
            "transport_header": {"tcp_header": {"dst_port": dst_port, "tcp_flags": 2}}}
