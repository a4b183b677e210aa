"""NCP's ``baseline_policy_type``: a cluster-wide baseline below every NetworkPolicy.

In Policy mode NCP can add a baseline security policy (``ncp.ini [k8s]
baseline_policy_type``, reference: nsx-ncp.md 4.3). It sits in the Application category
after NCP's NetworkPolicy isolation policies (and after any BaselineAdminNetworkPolicy), so a
pod a NetworkPolicy isolates is decided by that policy, and only the rest reach the
baseline. The reference describes the types in one line each; the rules here are our
reading of them, applied to the cluster's pod ports:

* ``none`` (default): no baseline; the DFW's default rule decides.
* ``allow_cluster``: a pod accepts traffic from any pod of the cluster and nothing else.
* ``allow_namespace``: a pod accepts traffic from pods of its own namespace only (so
  cross-namespace traffic is denied unless a NetworkPolicy allows it).
* ``allow_namespace_strict``: as ``allow_namespace``, and a pod may send only to pods of
  the cluster (traffic to resources outside the cluster is denied).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from ncp.translate import naming
from ncp.translate.dfwkit.rules import RuleDraft, build_policy, make_group
from ncp.translate.dfwkit.selectors import cluster_condition, conjunction, project_condition
from sdn.model import ANY, Group, SecurityPolicy, group_path

BaselineType = Literal["none", "allow_cluster", "allow_namespace", "allow_namespace_strict"]


def baseline_policies(baseline: BaselineType, *, cluster: str, namespaces: Sequence[str],
                      sequence_number: int) -> tuple[list[Group], list[SecurityPolicy]]:
    """The baseline's groups and its one security policy (nothing for ``none``)."""
    if baseline == "none":
        return [], []
    tags = [*naming.base_tags(cluster), naming.tag(naming.SCOPE_BASELINE, baseline)]
    pods_id = f"baseline_{cluster}_pods"
    groups = [make_group(pods_id, conjunction([cluster_condition(cluster)]), tags)]
    pods = group_path(pods_id)
    drafts: list[RuleDraft] = []
    if baseline == "allow_cluster":
        drafts.append(RuleDraft("allow-cluster-ingress", "allow from the cluster's pods",
                                (pods,), (ANY,), (), "ALLOW", "IN"))
    else:
        for ns in sorted(namespaces):
            gid = f"baseline_{cluster}_{ns}"
            groups.append(make_group(gid, conjunction([cluster_condition(cluster),
                                                       project_condition(ns)]), tags))
            drafts.append(RuleDraft(f"allow-namespace-{ns}", f"allow within {ns}",
                                    (group_path(gid),), (group_path(gid),), (), "ALLOW", "IN"))
    drafts.append(RuleDraft("drop-other-ingress", "drop other ingress to the cluster's pods",
                            (ANY,), (ANY,), (), "DROP", "IN"))
    if baseline == "allow_namespace_strict":
        drafts.append(RuleDraft("allow-cluster-egress", "allow egress to the cluster's pods",
                                (ANY,), (pods,), (), "ALLOW", "OUT"))
        drafts.append(RuleDraft("drop-other-egress", "drop egress leaving the cluster",
                                (ANY,), (ANY,), (), "DROP", "OUT"))
    policy = build_policy(policy_id=f"baseline_{cluster}", category="Application",
                          sequence_number=sequence_number, scope=(pods,), drafts=drafts,
                          tags=tags)
    return groups, [policy]
