"""Deterministic ids, display names and ownership tags for what NCP creates, and the names
of the annotations and labels NCP reads and writes.

NCP's real identity for its objects is the tag set (``ncp/cluster``, ``ncp/project``,
``ncp/pod``, ``ncp/node_name``); ids only have to be unique and stable. The scheme:

* per namespace ``<kind>_<cluster>_<namespace>`` (``t1_``, ``seg_``, ``ipp_``, ``snat_``);
* per cluster ``<kind>_<cluster>`` (the shared Tier-1) and ``<kind>_<cluster>-nodes``
  (the node network);
* a pod's port is its pod name under the namespace's segment, a node's port its node name.

Kubernetes names and cluster names never contain ``_``, so ids of different clusters and
namespaces cannot collide (``t1_a-b_c`` is cluster ``a-b``, namespace ``c``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from functools import lru_cache

from sdn.model import Tag

#: The NCP release whose behaviour this plugin emulates, written as tag ``ncp/version``.
NCP_VERSION = "4.2.0"

#: Every scope of NCP's own tags starts so.
NCP_SCOPE_PREFIX = "ncp/"

SCOPE_VERSION = "ncp/version"
SCOPE_CLUSTER = "ncp/cluster"
SCOPE_PROJECT = "ncp/project"
SCOPE_POD = "ncp/pod"
SCOPE_NODE = "ncp/node_name"
SCOPE_SNAT_IP = "ncp/snat_ip"
SCOPE_EXTPOOL = "ncp/extpoolid"
SCOPE_EXTERNAL = "ncp/external"
#: A load balancing or SNAT object's Service, and a virtual server's ``port/protocol``.
SCOPE_SERVICE = "ncp/service"
SCOPE_SERVICE_PORT = "ncp/service_port"
#: On an external pool: who may take per-service SNAT IPs from it (``cluster:<name>``).
SCOPE_OWNER = "ncp/owner"
#: On the cluster's baseline policy: which baseline it is (``allow_cluster``, ...).
SCOPE_BASELINE = "ncp/baseline"

#: The suffix of the cluster's node network's ids (``seg_<cluster>-nodes``, ...).
NODES = "nodes"
#: The key of the node network's SNAT request among the namespaces' (keyed by name): not
#: a name a namespace can have (a DNS label has no parentheses), so that a namespace
#: called ``nodes`` gets a SNAT IP of its own instead of the node network's.
NODE_SNAT_KEY = "(nodes)"

# --- annotations NCP reads (the user's input; reference nsx-ncp.md 1.3) -------------------

#: Namespace: ``"true"`` makes the namespace routed (no SNAT; subnets from the no-SNAT blocks).
NO_SNAT_ANNOTATION = "ncp/no_snat"
#: Namespace: the SNAT IP it asks for (answered in :data:`SNAT_IP_STATUS_ANNOTATION`).
STATIC_SNAT_IP_ANNOTATION = "ncp/static_snat_ip"
#: Service: the external IP pool (id or display name) its pods egress through.
SNAT_POOL_ANNOTATION = "ncp/snat_pool"
#: Ingress: ``"true"`` makes its paths regular expressions.
USE_REGEX_ANNOTATION = "ncp/use-regex"
#: Ingress: its class (the older form of ``spec.ingressClassName``); NCP serves ``nsx``.
INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"

# --- annotations NCP writes (its status) -------------------------------------------------

#: Namespace: ``ncp/subnet-0``, ``ncp/subnet-1``, ...: its subnets (see :func:`subnet_annotation`).
SUBNET_ANNOTATION_PREFIX = "ncp/subnet-"
#: Namespace: its SNAT IP.
SNAT_IP_ANNOTATION = "ncp/snat_ip"
#: Namespace: the answer to :data:`STATIC_SNAT_IP_ANNOTATION`.
SNAT_IP_STATUS_ANNOTATION = "ncp/snat_ip_status"
#: Namespace: its Tier-1's id (two-tier topology).
ROUTER_ID_ANNOTATION = "ncp/router_id"
#: Namespace: the error code that keeps it from being realized in full.
ERROR_ANNOTATION = "ncp/error"
#: Pod: its network configuration as JSON. NCP's own pod annotations are not documented
#: publicly (reference 1.3); this one carries what the node agent would plumb: address
#: with prefix, MAC, gateway, VLAN and the port's path.
NETWORK_CONFIG_ANNOTATION = "ncp/network_config"
#: Service and Ingress: why its load balancer could not be made.
LB_ERROR_ANNOTATION = "ncp/error.loadbalancer"
#: Service: why its own SNAT IP (:data:`SNAT_POOL_ANNOTATION`) could not be given.
SNAT_ERROR_ANNOTATION = "ncp/error.snat"

#: Annotation keys NCP writes (and so may remove): its status, not its input. A prefix
#: covers the keys that start with it (``ncp/snat_ip_status``, ``ncp/error.snat``, ...).
WRITTEN_ANNOTATION_PREFIXES = (SUBNET_ANNOTATION_PREFIX, SNAT_IP_ANNOTATION,
                               ROUTER_ID_ANNOTATION, ERROR_ANNOTATION,
                               NETWORK_CONFIG_ANNOTATION)

# --- labels Kubernetes sets, which NCP reads -----------------------------------------------

#: Every namespace's own name (policies commonly select namespaces by it).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
#: An EndpointSlice's Service.
SERVICE_NAME_LABEL = "kubernetes.io/service-name"

_UUID_ROOT = uuid.uuid5(uuid.NAMESPACE_URL, "ncp.emulator/attachments")


def subnet_annotation(index: int) -> str:
    """The namespace annotation of its ``index``-th subnet, e.g. ``ncp/subnet-0``."""
    return f"{SUBNET_ANNOTATION_PREFIX}{index}"


def annotation_flag(annotations: Mapping[str, object], key: str) -> bool:
    """Whether a yes/no annotation says yes: ``"true"`` in any case (absent: no)."""
    return str(annotations.get(key, "")).lower() == "true"


def ns_id(kind: str, cluster: str, namespace: str) -> str:
    """Id of a per-namespace object, e.g. ``seg_k8s_shop``."""
    return f"{kind}_{cluster}_{namespace}"


def cluster_id(kind: str, cluster: str, suffix: str = "") -> str:
    """Id of a per-cluster object, e.g. ``t1_k8s`` or ``seg_k8s-nodes``."""
    return f"{kind}_{cluster}" + (f"-{suffix}" if suffix else "")


def attachment_id(cluster: str, namespace: str, name: str) -> str:
    """A stable VIF attachment UUID for a pod or node (uuid5 of its identity)."""
    return str(uuid.uuid5(_UUID_ROOT, f"{cluster}/{namespace}/{name}"))


def mac_for(ip: int) -> str:
    """A locally administered MAC derived from the IPv4 address (``02:50:`` + 4 bytes).

    NSX hands out MACs from its own pool; deriving it from the address keeps it unique
    while the address is, and reproducible across runs.
    """
    octets = [0x02, 0x50, (ip >> 24) & 0xFF, (ip >> 16) & 0xFF, (ip >> 8) & 0xFF, ip & 0xFF]
    return ":".join(f"{o:02x}" for o in octets)


@lru_cache(maxsize=1 << 16)
def tag(scope: str, value: str) -> Tag:
    """A shared, immutable tag. Most tags repeat (every pod port of a namespace carries the
    same ``ncp/cluster`` and ``ncp/project``), so sharing one object per distinct pair
    saves a few hundred bytes per tag: hundreds of MiB at 100,000 pods. Callers check
    lengths before asking for a tag built from user input."""
    return Tag.model_construct(scope=scope, tag=value)


def base_tags(cluster: str, namespace: str | None = None) -> list[Tag]:
    """``ncp/version``, ``ncp/cluster`` and, for namespace objects, ``ncp/project``."""
    tags = [tag(SCOPE_VERSION, NCP_VERSION), tag(SCOPE_CLUSTER, cluster)]
    if namespace is not None:
        tags.append(tag(SCOPE_PROJECT, namespace))
    return tags
