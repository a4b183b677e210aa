"""The live Kubernetes API, through the official ``kubernetes`` client: the only module
that imports it.

Reading uses the client's generated list functions over real HTTP, with
``_preload_content=False`` so that responses are parsed as plain JSON: typed model objects
for 10,000 pods cost seconds and the reconcile works on dicts anyway. Watches stream the
same functions with ``watch=True`` and are parsed line by line here rather than with
``kubernetes.watch.Watch``: with ``deserialize=False`` that helper fails on ``ERROR``
events (it reads a ``raw_object`` key only the deserializing path sets), and a 410 must
reach the caller as :class:`KubeGoneError` so that it relists.

Every client exception is turned into one of ours (kopf's ``check_response`` habit):
410 :class:`KubeGoneError`, 409 :class:`KubeConflictError`, 404 :class:`KubeNotFoundError`,
anything else (5xx, 429, connection errors) :class:`KubeUnavailableError`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import kubernetes
import urllib3
import yaml
from kubernetes.client.rest import ApiException

from ncp.errors import ConfigError, PluginError
from ncp.objects import resource_version
from sdn.errors import Problem


class KubeError(PluginError):
    """Base of the adapter's errors; ``status`` is the HTTP status when there was one.

    A :class:`~ncp.errors.PluginError` but not an :class:`~ncp.errors.NcpError`: a failed
    request says nothing about the input, and the runtime retries it (see
    :mod:`ncp.errors`)."""

    code = "KUBE_API_ERROR"

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class KubeGoneError(KubeError):
    """410: the resourceVersion is too old; relist."""

    code = "KUBE_GONE"


class KubeConflictError(KubeError):
    """409: a concurrent write won, or the object already exists."""

    code = "KUBE_CONFLICT"


class KubeNotFoundError(KubeError):
    """404."""

    code = "KUBE_NOT_FOUND"


class KubeUnavailableError(KubeError):
    """The API did not answer usefully (5xx, 429, connection); try again later."""

    code = "KUBE_UNAVAILABLE"


def _translate(err: Exception) -> KubeError:
    if isinstance(err, ApiException):
        status = int(err.status or 0)
        cls = {410: KubeGoneError, 409: KubeConflictError, 404: KubeNotFoundError}.get(
            status, KubeUnavailableError)
        return cls(f"{status} {err.reason}", status)
    return KubeUnavailableError(str(err))


@dataclass(frozen=True)
class Kind:
    """How to list and watch one kind."""

    kind: str
    api_version: str
    plural: str
    namespaced: bool
    custom: bool = False


#: The kinds ncp watches, in the order a first sync wants them.
WATCHED: tuple[Kind, ...] = (
    Kind("Namespace", "v1", "namespaces", False),
    Kind("Node", "v1", "nodes", False),
    Kind("Pod", "v1", "pods", True),
    Kind("Service", "v1", "services", True),
    Kind("EndpointSlice", "discovery.k8s.io/v1", "endpointslices", True),
    Kind("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies", True),
    Kind("Ingress", "networking.k8s.io/v1", "ingresses", True),
    Kind("AdminNetworkPolicy", "policy.networking.k8s.io/v1alpha1", "adminnetworkpolicies",
         False, custom=True),
    Kind("BaselineAdminNetworkPolicy", "policy.networking.k8s.io/v1alpha1",
         "baselineadminnetworkpolicies", False, custom=True),
    Kind("ClusterNetworkPolicy", "policy.networking.k8s.io/v1alpha2",
         "clusternetworkpolicies", False, custom=True),
)


def load_configuration(kubeconfig: str | None = None,
                       context: str | None = None) -> kubernetes.client.Configuration:
    """A client configuration: the kubeconfig (``--kubeconfig``, else ``$KUBECONFIG``,
    else ``~/.kube/config``) with an optional context, or the in-cluster service account
    when running in a pod and no kubeconfig exists."""
    config = kubernetes.client.Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG")
    default = os.path.expanduser("~/.kube/config")
    try:
        if path is None and not os.path.exists(default) and os.environ.get(
                "KUBERNETES_SERVICE_HOST"):
            kubernetes.config.load_incluster_config(client_configuration=config)
            return config
        kubernetes.config.load_kube_config(config_file=path or default, context=context,
                                           client_configuration=config)
    except (kubernetes.config.ConfigException, yaml.YAMLError, OSError, ValueError) as err:
        # a missing or broken kubeconfig, an unknown context: the client's own words,
        # on one line, with the file they are about
        message = " ".join(str(err).split()) or type(err).__name__
        raise ConfigError([Problem("KUBECONFIG_INVALID", path or default, message)]) from err
    return config


class KubeClient:
    """The few calls ncp makes, on dicts."""

    def __init__(self, configuration: kubernetes.client.Configuration) -> None:
        # One connection per watch stream plus the writers (status patches go out in
        # parallel): the client's default pool of 10 would keep discarding connections.
        configuration.connection_pool_maxsize = max(
            32, configuration.connection_pool_maxsize or 0)
        self.api = kubernetes.client.ApiClient(configuration)
        self.core = kubernetes.client.CoreV1Api(self.api)
        self.discovery = kubernetes.client.DiscoveryV1Api(self.api)
        self.networking = kubernetes.client.NetworkingV1Api(self.api)
        self.custom = kubernetes.client.CustomObjectsApi(self.api)
        self.coordination = kubernetes.client.CoordinationV1Api(self.api)

    def close(self) -> None:
        """Release the connection pool."""
        self.api.close()

    # --- reading -----------------------------------------------------------------------
    def _lister(self, kind: Kind) -> Callable[..., Any]:
        if kind.custom:
            group, version = kind.api_version.split("/")

            def custom(**kwargs: Any) -> Any:
                return self.custom.list_cluster_custom_object(group, version, kind.plural,
                                                              **kwargs)
            return custom
        listers: dict[str, Callable[..., Any]] = {
            "Namespace": self.core.list_namespace,
            "Node": self.core.list_node,
            "Pod": self.core.list_pod_for_all_namespaces,
            "Service": self.core.list_service_for_all_namespaces,
            "EndpointSlice": self.discovery.list_endpoint_slice_for_all_namespaces,
            "NetworkPolicy": self.networking.list_network_policy_for_all_namespaces,
            "Ingress": self.networking.list_ingress_for_all_namespaces,
        }
        return listers[kind.kind]

    def served(self, kind: Kind) -> bool:
        """Whether the cluster serves this kind (admin-policy CRDs may be absent).

        Only a definite answer counts: the group or version is not found (404), or its
        resources do not list the kind. Any other failure raises
        :class:`KubeUnavailableError`: a kind taken for "not served" is never listed,
        and its objects would be reconciled away.
        """
        if not kind.custom:
            return True
        group, version = kind.api_version.split("/")
        try:
            found = self.custom.get_api_resources(group, version)
        except ApiException as err:
            if err.status == 404:
                return False
            raise _translate(err) from err
        except (urllib3.exceptions.HTTPError, ValueError) as err:
            raise KubeUnavailableError(f"discovery of {kind.api_version} failed: {err}") from err
        return any(r.name == kind.plural for r in (found.resources or []))

    def list(self, kind: Kind) -> tuple[list[dict[str, Any]], str]:
        """Every object of a kind (with ``kind``/``apiVersion`` set) and the list's
        resourceVersion."""
        try:
            resp = self._lister(kind)(_preload_content=False)
            data = json.loads(resp.data)
        except (ApiException, urllib3.exceptions.HTTPError) as err:
            raise _translate(err) from err
        items = data.get("items") or []
        for item in items:
            item.setdefault("kind", kind.kind)
            item.setdefault("apiVersion", kind.api_version)
        return items, resource_version(data)

    def watch(self, kind: Kind, resource_version: str, *,
              timeout_seconds: int = 300) -> Iterator[tuple[str, dict[str, Any]]]:
        """Events after ``resource_version`` (with bookmarks) until the server ends the
        stream; raises :class:`KubeGoneError` on 410."""
        try:
            resp = self._lister(kind)(watch=True, resource_version=resource_version,
                                      allow_watch_bookmarks=True,
                                      timeout_seconds=timeout_seconds, _preload_content=False)
        except (ApiException, urllib3.exceptions.HTTPError) as err:
            raise _translate(err) from err
        try:
            for line in kubernetes.watch.watch.iter_resp_lines(resp):
                if not line or not line.strip():
                    continue
                event = json.loads(line)
                etype, obj = event.get("type", ""), event.get("object") or {}
                if etype == "ERROR":
                    code = int(obj.get("code") or 0)
                    message = f"{code} {obj.get('reason')}: {obj.get('message')}"
                    raise (KubeGoneError if code == 410 else KubeUnavailableError)(message, code)
                if etype != "BOOKMARK":
                    obj.setdefault("kind", kind.kind)
                    obj.setdefault("apiVersion", kind.api_version)
                yield etype, obj
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as err:
            raise KubeUnavailableError(f"watch of {kind.plural} broke: {err}") from err
        finally:
            resp.close()
            resp.release_conn()

    # --- writing -----------------------------------------------------------------------
    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ApiException, urllib3.exceptions.HTTPError) as err:
            raise _translate(err) from err

    def patch_annotations(self, kind: str, namespace: str, name: str,
                          annotations: dict[str, str | None]) -> None:
        """Merge-patch annotations (``None`` removes one); other writers' keys stay."""
        body = {"metadata": {"annotations": annotations}}
        raw = {"_preload_content": False}  # the answer is not needed: skip deserializing it
        if kind == "Namespace":
            resp = self._call(self.core.patch_namespace, name, body, **raw)
        elif kind == "Pod":
            resp = self._call(self.core.patch_namespaced_pod, name, namespace, body, **raw)
        elif kind == "Service":
            resp = self._call(self.core.patch_namespaced_service, name, namespace, body, **raw)
        elif kind == "Ingress":
            resp = self._call(self.networking.patch_namespaced_ingress, name, namespace, body,
                              **raw)
        else:
            raise ValueError(kind)
        _finish(resp)

    def patch_lb_ingress(self, kind: str, namespace: str, name: str,
                         ips: Sequence[str]) -> None:
        """Set a Service's or Ingress's ``status.loadBalancer.ingress`` (what ``kubectl
        get`` shows as EXTERNAL-IP / ADDRESS) through the status subresource."""
        body = {"status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}}}
        patch = {"Service": self.core.patch_namespaced_service_status,
                 "Ingress": self.networking.patch_namespaced_ingress_status}[kind]
        resp = self._call(patch, name, namespace, body, _preload_content=False)
        _finish(resp)

    def create_event(self, namespace: str, body: dict[str, Any]) -> None:
        """Record a Kubernetes Event."""
        self._call(self.core.create_namespaced_event, namespace, body)

    def read_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Lease as a dict, or None."""
        try:
            resp = self._call(self.coordination.read_namespaced_lease, name, namespace,
                              _preload_content=False)
        except KubeNotFoundError:
            return None
        return dict(json.loads(resp.data))

    def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a Lease (conflict if it exists)."""
        resp = self._call(self.coordination.create_namespaced_lease, namespace, body,
                          _preload_content=False)
        return dict(json.loads(resp.data))

    def replace_lease(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Replace a Lease; a stale resourceVersion is a :class:`KubeConflictError`."""
        resp = self._call(self.coordination.replace_namespaced_lease, name, namespace, body,
                          _preload_content=False)
        return dict(json.loads(resp.data))


def _finish(resp: Any) -> None:
    """Read an unwanted answer to its end, then hand the connection back.

    Releasing it with the body unread put it back in the pool mid-response: the next
    request on that connection read the old body where a status line belonged
    (``BadStatusLine``), and some patches of a parallel write-back were lost.
    """
    resp.read()
    resp.release_conn()
