"""A dry run of a change to NetworkPolicies alone, planned from the last sync's work.

Why: ``ncp sync --dry-run`` of a one-policy change at 10,000 pods spent most of its time
provisioning the whole cluster again (networks, ports, services, every policy) and
comparing every object with the state, only to find two groups and two security policies
changed. When nothing the last sync read has changed but NetworkPolicies, and nothing has
written the state since, everything that sync decided stands except the objects of the
changed policies: a NetworkPolicy's groups and security policies are a function of the
policy, the cluster's settings and (for named ports and the namespace-count lint only) its
pods and namespaces. So only the changed policies are translated, old and new versions,
and only their objects are compared with the state.

The plan is taken only when all of these hold; otherwise :func:`plan_policy_change`
declines (returns None) and the caller plans in full, which stays the reference (a
property test in ``tests/ncp/reconcile/test_policy_change.py`` checks both give the same
report):

* the state records this cluster's last full sync (its fingerprint is set: the
  incremental reconcile clears it), at the state's current revision, with the same
  profile, no profile to add, and the digest of every input but the policy kinds
  (:class:`~ncp.reconcile.inputs.Fingerprints`) equal to this run's;
* that sync found no problem whose outcome moves with time alone
  (``TIME_DEPENDENT``: held addresses expire);
* the network profile names no firewall section marker (NCP's sequence numbers then
  depend on the admin's policies only through the defaults);
* every policy object that changed, came or went is a NetworkPolicy, given once, and
  their objects, old and new, number at most :data:`MAX_OBJECTS`;
* translating the changed policies, old and new, reads neither the pods nor the
  namespaces (:class:`~ncp.translate.policyinputs.Tracked`): no named port, no peer
  with both selectors that the namespace-count lint would count.

Assumptions, named: the objects of a NetworkPolicy are its translation's, named after it
(``np_<cluster>_<namespace>_<name>_...``), and referenced only by its own security
policies; the problems and findings of one carry its name (``NetworkPolicy/NS/NAME``).
The whole-inventory guard of a full sync is replaced by the reference check of the new
objects (:func:`~sdn.model.checks.check_references`) against the objects they name.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ncp.config import NcpConfig
from ncp.errors import InconsistentResultError
from ncp.objects import K8sObject
from ncp.reconcile.diff import ObjectDiff, diff_objects
from ncp.reconcile.inputs import POLICY_KINDS, TIME_DEPENDENT, Fingerprints, kept_rows
from ncp.reconcile.state import State
from ncp.translate.firewall import in_known_namespaces
from ncp.translate.networkpolicy import translate_network_policies
from ncp.translate.networkpolicy_limits import lint_limits
from ncp.translate.policyinputs import NamespaceInfo, PodInfo, Tracked
from ncp.translate.settings import ClusterSettings
from sdn.errors import Problem
from sdn.model import Inventory, PolicyResource
from sdn.model.checks import check_references
from sdn.store.codec import ClusterRecord, decode

#: Keys of a cluster record's summary that this planning reads back: the digest of the
#: inputs without the policies, and the parts of the last sync's report that only those
#: inputs decide (provisioning's notes, the cluster IPs of services).
SUMMARY_POLICY_FREE = "policy_free_inputs"
SUMMARY_NOTES = "provisioning_notes"
SUMMARY_CLUSTER_IPS = "cluster_ips"

#: The most NSX objects a plan made this way compares (the changed policies' old and new
#: ones, read by path); a larger change is planned in full, which compares everything in
#: one pass anyway.
MAX_OBJECTS = 2_000


def recorded_for_planning(fingerprints: Fingerprints, notes: Sequence[str],
                          cluster_ips: Mapping[str, str]) -> dict[str, Any]:
    """What a full sync adds to its cluster record's summary for a later plan."""
    return {SUMMARY_POLICY_FREE: fingerprints.policy_free, SUMMARY_NOTES: list(notes),
            SUMMARY_CLUSTER_IPS: dict(cluster_ips)}


@dataclass
class PolicyChangePlan:
    """What a sync would do when only NetworkPolicies changed: the objects to write and
    delete, and the parts of the report that differ from the last sync's (``problems``:
    those of provisioning; ``notes`` and ``cluster_ips``: as the last sync found them)."""

    diff: ObjectDiff
    objects: list[PolicyResource]
    problems: list[Problem] = field(default_factory=list)
    findings: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cluster_ips: dict[str, str] = field(default_factory=dict)


def plan_policy_change(store: State, *, config: NcpConfig, settings: ClusterSettings,
                       objects: Sequence[K8sObject], fingerprints: Fingerprints,
                       profile: str | None, input_problems: Sequence[Problem],
                       ) -> PolicyChangePlan | None:
    """The plan of this run, or None when it cannot be planned this way (see the
    module's doc). ``objects``: the manifests' objects; ``input_problems``: the problems
    of reading and expanding them (they were part of the last sync's problems too);
    ``profile``: the bound profile's name.

    Raises:
        InconsistentResultError: a new object names a missing one (a bug).
    """
    record = _usable_record(store, config, fingerprints, profile)
    if record is None:
        return None
    stored_problems = [p for _c, p in store.problems(config.cluster)]
    provisioning = _less(stored_problems, input_problems)
    if provisioning is None or settings.top_marker or settings.bottom_marker:
        return None
    changed = _changed_policies(store.k8s_object_rows(config.cluster), objects)
    if changed is None:
        return None
    old, new = changed
    realized: dict[str, Mapping[str, str]] = {
        name: {} for _c, kind, _ns, name, _v in store.status(config.cluster)
        if kind == "Namespace"}
    before = _translate(old, settings, realized)
    after = _translate(new, settings, realized)
    if before is None or after is None:
        return None
    wanted = [*after.objects]
    paths = {o.path for o in wanted} | before.paths
    if len(paths) > MAX_OBJECTS:
        return None
    rows = {r.path: r for r in store.rows(paths=paths)}
    try:
        _check_references(store, wanted)
    except ValidationError:  # a stored object that does not parse: the full plan says so
        return None
    names = {f"NetworkPolicy/{o.namespace}/{o.name}" for o in [*old, *new]}
    stored_findings = [p for _c, p in store.problems(config.cluster, table="findings")]
    summary = record.summary
    return PolicyChangePlan(
        diff=diff_objects(wanted, rows, deletable=[
            p for p in before.paths if p in rows and rows[p].cluster == config.cluster]),
        objects=wanted,
        problems=[*(p for p in provisioning if p.obj not in names), *after.problems],
        findings=sorted([*(p for p in stored_findings if p.obj not in names),
                         *after.findings]),
        notes=list(summary[SUMMARY_NOTES]),
        cluster_ips=dict(summary[SUMMARY_CLUSTER_IPS]))


def _usable_record(store: State, config: NcpConfig, fingerprints: Fingerprints,
                   profile: str | None) -> ClusterRecord | None:
    """The cluster's record when the last write was its full sync of the same inputs but
    the policies, else None."""
    record = store.cluster(config.cluster)
    if record is None or not record.fingerprint or record.revision != store.revision:
        return None
    summary = record.summary
    if record.profile != profile or summary.get(SUMMARY_POLICY_FREE) != fingerprints.policy_free:
        return None
    if SUMMARY_NOTES not in summary or SUMMARY_CLUSTER_IPS not in summary:
        return None
    return record


def _less(problems: Sequence[Problem], taken: Sequence[Problem]) -> list[Problem] | None:
    """``problems`` without one of each of ``taken`` (None when one is missing: the state
    does not hold what this plan builds on), and None when any moves with time alone."""
    if any(p.code in TIME_DEPENDENT for p in problems):
        return None
    left = Counter(problems)
    left.subtract(taken)
    if any(n < 0 for n in left.values()):
        return None
    return sorted(left.elements())


def _changed_policies(stored: Iterable[tuple[str, str, str, str]],
                      objects: Sequence[K8sObject],
                      ) -> tuple[list[K8sObject], list[K8sObject]] | None:
    """The old (as stored) and new versions of the policy objects that changed, came or
    went; None when one is not a NetworkPolicy or a changed one is given twice."""
    old = {(k, ns, n): body for k, ns, n, body in stored if k in POLICY_KINDS}
    given = [o for o in objects if o.kind in POLICY_KINDS]
    new = {(k, ns, n): body for k, ns, n, body in kept_rows(given)}
    keys = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
    if any(kind != "NetworkPolicy" for kind, _ns, _n in keys):
        return None
    counts = Counter(o.key for o in given)
    if any(counts[k] > 1 for k in keys):
        return None
    olds = []
    for kind, ns, name in sorted(keys & old.keys()):
        body = json.loads(old[kind, ns, name])
        olds.append(K8sObject(kind, str(body.get("apiVersion") or ""), ns, name, body,
                              "state"))
    return olds, [o for o in given if o.key in keys]


@dataclass
class _Translated:
    """The objects, problems and findings of some NetworkPolicies."""

    objects: list[PolicyResource]
    problems: list[Problem]
    findings: list[Problem]

    @property
    def paths(self) -> set[str]:
        return {o.path for o in self.objects}


def _translate(policies: Sequence[K8sObject], settings: ClusterSettings,
               realized: Mapping[str, Mapping[str, str]]) -> _Translated | None:
    """``policies`` translated as :func:`~ncp.translate.firewall.firewall_objects` does
    (in NCP's default sections), or None when that reads the pods or the namespaces."""
    kept, homeless = in_known_namespaces(policies, realized)
    pods: Tracked[PodInfo] = Tracked([])
    namespaces: Tracked[NamespaceInfo] = Tracked([])
    done = translate_network_policies(
        kept, cluster=settings.cluster, pods=pods, namespaces=namespaces,
        allow_sequence=settings.np_allow_sequence,
        isolation_sequence=settings.np_isolation_sequence)
    findings = lint_limits(kept, namespaces=namespaces)
    if pods.read or namespaces.read:
        return None
    return _Translated([*done.groups, *done.policies], [*homeless, *done.problems], findings)


def _check_references(store: State, objects: Sequence[PolicyResource]) -> None:
    """Refuse new objects that name a missing one (the guard a full sync runs on the
    whole result, here on what changes).

    Raises:
        InconsistentResultError: a reference is dangling or of the wrong type.
    """
    named = {target for obj in objects for target in obj.references().values()}
    mine = {o.path: o for o in objects}
    others = Inventory(decode(r) for r in store.rows(paths=named - mine.keys()))
    problems = check_references(Inventory([*others.values(), *objects]), objects)
    if problems:
        raise InconsistentResultError(problems)
