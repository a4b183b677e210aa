"""Deterministic ids, display names and ownership tags for what NCP creates.

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
from functools import lru_cache

from sdn.model import Tag

#: The NCP release whose behaviour this plugin emulates, written as tag ``ncp/version``.
NCP_VERSION = "4.2.0"

SCOPE_VERSION = "ncp/version"
SCOPE_CLUSTER = "ncp/cluster"
SCOPE_PROJECT = "ncp/project"
SCOPE_POD = "ncp/pod"
SCOPE_NODE = "ncp/node_name"
SCOPE_SNAT_IP = "ncp/snat_ip"
SCOPE_EXTPOOL = "ncp/extpoolid"
SCOPE_EXTERNAL = "ncp/external"

#: Annotation keys NCP writes (and so may remove): its status, not its input.
WRITTEN_ANNOTATION_PREFIXES = ("ncp/subnet-", "ncp/snat_ip", "ncp/router_id", "ncp/error",
                               "ncp/network_config")

_UUID_ROOT = uuid.uuid5(uuid.NAMESPACE_URL, "ncp.emulator/attachments")


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
