"""``ncp.sources.kube``: the client's failures become ncp's coded errors; and
``KubeClient`` against the test API server, writing in parallel through one client as the
status writer does."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import urllib3
from kubernetes.client.rest import ApiException

from ncp.errors import PluginError
from ncp.sources.kube import (
    KubeClient,
    KubeConflictError,
    KubeError,
    KubeGoneError,
    KubeNotFoundError,
    KubeUnavailableError,
    _translate,
)
from tests.support.apiserver import client_configuration, running_apiserver
from tests.support.live import ns, pod


@pytest.mark.parametrize(("status", "cls", "code"), [
    (410, KubeGoneError, "KUBE_GONE"),
    (409, KubeConflictError, "KUBE_CONFLICT"),
    (404, KubeNotFoundError, "KUBE_NOT_FOUND"),
    (500, KubeUnavailableError, "KUBE_UNAVAILABLE"),
    (429, KubeUnavailableError, "KUBE_UNAVAILABLE"),
])
def test_api_exceptions_become_coded_errors(status: int, cls: type[KubeError],
                                            code: str) -> None:
    err = _translate(ApiException(status=status, reason="Reason"))
    assert type(err) is cls and err.code == code and isinstance(err, PluginError)
    assert err.status == status and str(err) == f"{status} Reason"


def test_a_broken_connection_is_unavailable() -> None:
    err = _translate(urllib3.exceptions.ProtocolError("connection reset"))
    assert type(err) is KubeUnavailableError and err.status is None
    assert str(err) == "connection reset"


def test_parallel_patches_through_one_client_all_land() -> None:
    """Every answer is read before its connection goes back to the pool: once it was
    not, and a later request on that connection failed with ``BadStatusLine``."""
    with running_apiserver() as server:
        server.apply(ns("shop"))
        names = [f"p-{i}" for i in range(200)]
        for name in names:
            server.apply(pod("shop", name))
        client = KubeClient(client_configuration(server))
        try:
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda n: client.patch_annotations(
                    "Pod", "shop", n, {"ncp/network_config": n}), names))
        finally:
            client.close()
        got = {p["metadata"]["name"]: (p["metadata"].get("annotations") or {}).get(
            "ncp/network_config") for p in server.objects("Pod", "shop")}
        assert got == {n: n for n in names}
