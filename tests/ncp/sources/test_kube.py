"""``ncp.sources.kube.KubeClient`` against the test API server: writes in parallel
through one client, as the status writer does."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from support.apiserver import client_configuration, running_apiserver
from support.live import ns, pod

from ncp.sources.kube import KubeClient


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
