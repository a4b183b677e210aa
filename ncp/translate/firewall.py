"""The cluster's distributed firewall: NetworkPolicies, admin policies and NCP's baseline,
placed where NCP places them.

Where NCP's security policies sit in the Application category: its defaults (allow 2010,
isolation 2090, Baseline-tier admin policies from 5000, NCP's baseline at 9000), or, when
the network profile names ``top_firewall_section_marker`` and
``bottom_firewall_section_marker`` (the admin's own security policies, applied with
``sdn apply``), the numbers right below the top marker (allow, isolation, then Baseline-tier
admin policies from top + 3) and NCP's baseline right above the bottom one, so that the
admin's rules above and below developer policy keep their place. A marker that is missing,
outside the Application category, or a range too narrow is a problem, and the defaults
are used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ncp.objects import K8sObject
from ncp.translate.adminpolicy import translate_admin_policies
from ncp.translate.baseline import baseline_policies
from ncp.translate.networkpolicy import translate_network_policies
from ncp.translate.networkpolicy_limits import lint_limits
from ncp.translate.policyinputs import NamespaceInfo, PodInfo, Tracked
from ncp.translate.settings import ClusterSettings
from sdn.errors import Problem
from sdn.model import Inventory, PolicyResource, SecurityPolicy, security_policy_path


@dataclass(frozen=True)
class Sections:
    """Sequence numbers of NCP's security policies in the Application category."""

    allow: int
    isolation: int
    baseline: int
    ncp_baseline: int


@dataclass
class FirewallObjects:
    """The DFW objects of a cluster, what was rejected, and NCP-limit warnings."""

    objects: list[PolicyResource] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    findings: list[Problem] = field(default_factory=list)
    #: Whether the translation read the pods (named ports): then a pod change can
    #: change the firewall.
    reads_pods: bool = False
    #: Whether it depends on the list of namespaces (a per-namespace baseline, named
    #: ports behind namespace selectors, the namespace-count lint): then a new namespace
    #: can change it.
    reads_namespaces: bool = False


def sections(s: ClusterSettings, current: Inventory) -> tuple[Sections, list[Problem]]:
    """NCP's sequence numbers (see the module docstring) and any marker problems."""
    default = Sections(s.np_allow_sequence, s.np_isolation_sequence, 5000,
                       s.baseline_policy_sequence)
    if s.top_marker is None and s.bottom_marker is None:
        return default, []
    where = f"Cluster/{s.cluster}"
    problems: list[Problem] = []
    found: dict[str, SecurityPolicy] = {}
    for role, marker in (("top", s.top_marker), ("bottom", s.bottom_marker)):
        if marker is None:
            continue
        obj = current.get(security_policy_path(marker))
        if not isinstance(obj, SecurityPolicy):
            problems.append(Problem("FIREWALL_MARKER_NOT_FOUND", where,
                                    f"{role}_firewall_section_marker {marker!r} names no "
                                    "security policy"))
        elif obj.category != "Application":
            problems.append(Problem("FIREWALL_MARKER_CATEGORY", where,
                                    f"marker {marker!r} is in {obj.category}; NCP's "
                                    "sections live in Application"))
        else:
            found[role] = obj
    if problems:
        return default, problems
    top = found["top"].sequence_number if "top" in found else -1
    bottom = found["bottom"].sequence_number if "bottom" in found else 999_999
    if bottom - top < 5:
        return default, [Problem("FIREWALL_MARKER_RANGE", where,
                                 f"markers at {top} and {bottom} leave no room for NCP's "
                                 "sections")]
    return Sections(top + 1, top + 2, top + 3, bottom - 1), []


def in_known_namespaces(policies: Sequence[K8sObject], namespaces: Mapping[str, object],
                        ) -> tuple[list[K8sObject], list[Problem]]:
    """The NetworkPolicies whose namespace is realized, and ``NAMESPACE_NOT_FOUND`` for each
    of the others: as for a pod there, its namespace does not exist (or was rejected), so
    the policy is not realized."""
    kept: list[K8sObject] = []
    problems: list[Problem] = []
    for p in policies:
        if p.namespace in namespaces:
            kept.append(p)
        else:
            problems.append(Problem("NAMESPACE_NOT_FOUND", f"NetworkPolicy/{p.namespace}/{p.name}",
                                    f"namespace {p.namespace!r} does not exist or was "
                                    "rejected: the policy is not realized"))
    return kept, problems


def firewall_objects(s: ClusterSettings, current: Inventory, policies: Sequence[K8sObject],
                     namespaces: Mapping[str, Mapping[str, str]],
                     pods: Sequence[PodInfo]) -> FirewallObjects:
    """Translate every policy of the cluster and add NCP's baseline."""
    out = FirewallObjects()
    seq, out.problems = sections(s, current)
    groups, baseline = baseline_policies(s.baseline_policy_type, cluster=s.cluster,
                                         namespaces=list(namespaces),
                                         sequence_number=seq.ncp_baseline)
    out.objects += [*groups, *baseline]
    out.reads_namespaces = s.baseline_policy_type not in ("none", "allow_cluster")
    if not policies:
        return out
    ns_infos = Tracked([NamespaceInfo(name, labels) for name, labels in namespaces.items()])
    tracked = Tracked(pods)
    nps, homeless = in_known_namespaces([p for p in policies if p.kind == "NetworkPolicy"],
                                        namespaces)
    out.problems += homeless
    if homeless:
        # A namespace that appears later realizes the waiting policy: the firewall then
        # depends on the list of namespaces (the incremental reconcile must decline).
        out.reads_namespaces = True
    admin = [p for p in policies if p.kind != "NetworkPolicy"]
    for translation in (
        translate_network_policies(nps, cluster=s.cluster, pods=tracked, namespaces=ns_infos,
                                   allow_sequence=seq.allow, isolation_sequence=seq.isolation),
        translate_admin_policies(admin, cluster=s.cluster, pods=tracked, namespaces=ns_infos,
                                 baseline_sequence_base=seq.baseline),
    ):
        out.objects += [*translation.groups, *translation.policies]
        out.problems += translation.problems
    out.findings = sorted(lint_limits(nps, namespaces=ns_infos))
    out.reads_pods = tracked.read
    out.reads_namespaces = out.reads_namespaces or ns_infos.read
    return out
