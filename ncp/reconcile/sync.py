"""``ncp sync``: make the state match a cluster's manifests exactly, in one transaction.

The steps, each a plain function call: read manifests (``ncp.sources``), expand
controllers into pods, bind the network profile (checking the update rules), provision
the topology against the current state (``ncp.translate.cluster``, pure), diff the
result against what is stored, and write the difference, the holds, the namespace
annotations and the problems in one transaction. A run whose inputs are unusable
(input not read in full, see :mod:`ncp.reconcile.completeness`; config, profile,
shared-object conflicts) raises before anything is written; a run with bad *objects*
writes everything else and reports them. A dry run does all of it but the write, and
says what the write would have changed (:mod:`ncp.reconcile.plan`), reachability
included (:mod:`sdn.policy.whatif`, on the inventory the write would leave, built in
memory); a dry run of a change to NetworkPolicies alone is planned from the last sync's
work (:mod:`ncp.reconcile.policy_change`), and earlier work kept in the query index
(parsed manifests; for a dry run the state's objects and firewall) is taken instead of
being redone (:class:`Reuse`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ncp.config import NcpConfig
from ncp.errors import InconsistentResultError
from ncp.objects import K8sObject
from ncp.reconcile.completeness import IncompleteInputError, input_gaps
from ncp.reconcile.diff import ObjectDiff, diff_objects, inventory_after
from ncp.reconcile.inputs import (
    POLICY_KINDS,
    TIME_DEPENDENT,
    Fingerprints,
    input_fingerprints,
    kept_rows,
)
from ncp.reconcile.plan import Plan, plan_of
from ncp.reconcile.policy_change import (
    PolicyChangePlan,
    plan_policy_change,
    recorded_for_planning,
)
from ncp.reconcile.profile_binding import resolve_profile
from ncp.reconcile.state import State
from ncp.sources.loading import Loaded
from ncp.sources.manifests import ManifestSet, read_manifests
from ncp.translate.cluster import provision
from ncp.translate.infra import shared_objects
from ncp.translate.ingress import is_nsx_ingress
from ncp.translate.provisioning import ClusterObjects, Provisioned
from ncp.translate.settings import ClusterSettings, cluster_settings
from ncp.translate.workloads import expand_workloads, node_names
from sdn.errors import Problem
from sdn.gcpause import gc_paused
from sdn.ipam import Hold
from sdn.model import Inventory, PolicyResource
from sdn.model.checks import validate_inventory
from sdn.policy.compiler import CompiledDfw
from sdn.policy.whatif import reachability_change
from sdn.profiles import NetworkProfile
from sdn.store.codec import ChangeSet, ClusterRecord

Progress = Callable[[str], None]

#: Where a dry run may find the state's objects and their compiled firewall without
#: parsing and compiling them (None: not at hand).
StoredInventory = Callable[[], tuple[Inventory, CompiledDfw | None] | None]


class Reuse(Protocol):
    """Earlier work a sync may take instead of doing it again (the CLI reads it from the
    state's query index, :mod:`sdn.query.objects`); each answer is None when there is
    none for the state as it is now."""

    def parsed_files(self) -> Mapping[str, Loaded] | None:
        """Manifest files parsed before, by the digest of their content."""
        ...

    def inventory(self) -> tuple[Inventory, CompiledDfw | None] | None:
        """The state's objects and their firewall compiled whole (None: not at hand)."""
        ...

#: Keys of a cluster record's summary: what the sync realized, and what the incremental
#: reconcile reads back (``sdn clusters`` reads ``shared_tier1``).
SUMMARY_NAMESPACES = "namespaces"
SUMMARY_PODS = "pods"
SUMMARY_NODES = "nodes"
SUMMARY_SHARED_TIER1 = "shared_tier1"
SUMMARY_FIREWALL_READS_PODS = "firewall_reads_pods"
SUMMARY_FIREWALL_READS_NAMESPACES = "firewall_reads_namespaces"

#: The status rows of a LoadBalancer Service's and an Ingress's VIP (kept beside their
#: annotations, by kind), and the key holding the VIP.
SERVICE_VIP_STATUS = "ServiceStatus"
INGRESS_VIP_STATUS = "IngressStatus"
VIP_KEY = "ingress_ip"


@dataclass
class SyncReport:
    """What a sync did, for the summary and for scripts."""

    cluster: str
    revision: int = 0
    namespaces: int = 0
    pods: int = 0
    nodes: int = 0
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    findings: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    annotations: dict[str, dict[str, str]] = field(default_factory=dict)
    cluster_ips: dict[str, str] = field(default_factory=dict)
    lb_vips: dict[str, str] = field(default_factory=dict)
    service_annotations: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    pod_annotations: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    ingress_annotations: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    ingress_vips: dict[str, str] = field(default_factory=dict)
    written: bool = False
    #: With ``keep_inventory``: every object of the state at :attr:`revision`, as this
    #: sync holds them (None: a no-op that stopped before loading the state, or another
    #: writer's revision between this sync's read and its write). Not part of the report:
    #: ``ncp sync`` hands it to the query index (:func:`sdn.query.warm_index`). A dry run
    #: sets it to what the write would leave, nothing written (what ``sdn replay
    #: --candidate`` evaluates: :mod:`ncp.reconcile.candidate`).
    inventory: Inventory | None = field(default=None, repr=False, compare=False)
    #: Whether :attr:`inventory` passed the cross-object checks in this run (it was
    #: written: :func:`_check_result` refuses any other), so that ``sdn validate``'s
    #: answer for it is known to be empty without checking it again.
    validated: bool = field(default=False, repr=False, compare=False)
    #: Set by a dry run: what the write would have changed (nothing was written).
    plan: Plan | None = None
    #: Every manifest file read without a problem, as parsed: ``ncp sync`` keeps them in
    #: the query index for the next sync of the same files (not part of the report).
    parsed_files: tuple[Loaded, ...] = field(default=(), repr=False, compare=False)

    @property
    def changed(self) -> bool:
        """Whether any NSX object was created, updated or deleted."""
        return bool(self.created or self.updated or self.deleted)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary (a dry run adds ``dry_run``, ``changes``,
        ``annotation_changes`` and ``reachability``)."""
        out: dict[str, Any] = {
            "cluster": self.cluster, "revision": self.revision,
            "realized": {"namespaces": self.namespaces, "pods": self.pods, "nodes": self.nodes},
            "created": dict(sorted(self.created.items())),
            "updated": dict(sorted(self.updated.items())),
            "deleted": dict(sorted(self.deleted.items())),
            "problems": [{"code": p.code, "object": p.obj, "message": p.message}
                         for p in self.problems],
            "findings": [{"code": p.code, "object": p.obj, "message": p.message}
                         for p in self.findings],
            "notes": self.notes,
            "namespaces": self.annotations,
            "services": self.cluster_ips,
            "load_balancers": self.lb_vips,
            "ingresses": self.ingress_vips,
        }
        if self.plan is not None:
            out["dry_run"] = True
            out["changes"] = self.plan.changes_json()
            out["annotation_changes"] = [a.to_json() for a in self.plan.annotations]
            out["reachability"] = self.plan.reachability.to_json()
        return out


def _up_to_date(store: State, config: NcpConfig, bound: NetworkProfile | None,
                fingerprint: str) -> SyncReport | None:
    """The last sync's report when nothing can have changed since; else None."""
    record = store.cluster(config.cluster)
    if record is None or record.fingerprint != fingerprint or record.revision != store.revision:
        return None
    if record.profile != (bound.name if bound else None):
        return None
    problems = [p for _c, p in store.problems(config.cluster)]
    if any(p.code in TIME_DEPENDENT for p in problems):
        return None
    report = SyncReport(cluster=config.cluster, revision=store.revision, problems=problems)
    report.findings = [p for _c, p in store.problems(config.cluster, table="findings")]
    report.notes = [f"inputs unchanged since revision {record.revision}: nothing to do"]
    _as_recorded(report, store, record)
    return report


def _as_recorded(report: SyncReport, store: State, record: ClusterRecord) -> None:
    """Into ``report``, what the cluster's last sync realized and the status it wrote."""
    report.namespaces = record.summary.get(SUMMARY_NAMESPACES, 0)
    report.pods = record.summary.get(SUMMARY_PODS, 0)
    report.nodes = record.summary.get(SUMMARY_NODES, 0)
    for _cluster, kind, ns, name, values in store.status(record.name):
        if kind == "Namespace":
            report.annotations[name] = values
        elif kind == "Pod":
            report.pod_annotations[(ns, name)] = values
        elif kind == "Service":
            report.service_annotations[(ns, name)] = values
        elif kind == "Ingress":
            report.ingress_annotations[(ns, name)] = values
        elif kind == SERVICE_VIP_STATUS:
            report.lb_vips[f"{ns}/{name}"] = values[VIP_KEY]
        elif kind == INGRESS_VIP_STATUS:
            report.ingress_vips[f"{ns}/{name}"] = values[VIP_KEY]


@dataclass
class _Inputs:
    """What a sync reads, checked and bound: the manifests (read in full), the profile
    (bound, with the profiles to add to the state), the settings, the node names, the pods
    (controllers expanded) and the fingerprint of it all."""

    manifests: ManifestSet
    bound: NetworkProfile | None
    profiles_added: list[tuple[str, str]]
    settings: ClusterSettings
    nodes: tuple[str, ...]
    pods: Sequence[K8sObject]
    fingerprints: Fingerprints


def sync_cluster(
    store: State,
    *,
    paths: Sequence[str | Path] = (),
    manifests: ManifestSet | None = None,
    config: NcpConfig,
    profile: NetworkProfile | None = None,
    now: float,
    progress: Progress | None = None,
    full: bool = False,
    allow_empty: bool = False,
    dry_run: bool = False,
    keep_inventory: bool = False,
    reachability: bool = True,
    reuse: Reuse | None = None,
) -> SyncReport:
    """Reconcile one cluster's state with its manifests; see the module docstring.

    Either ``paths`` (read here) or an already read ``manifests`` set is given. When the
    inputs' fingerprint matches the last sync and nothing else wrote the state since,
    the run stops early (a no-op); ``full`` reconciles in full regardless.
    ``allow_empty``: an input without objects may empty a cluster the state holds.
    ``dry_run``: write nothing (``store`` may be read-only); the report's ``plan`` says
    what would have changed, and (``reachability``) the flows it would gain and lose.
    ``keep_inventory``: the report's ``inventory`` is set.
    ``reuse``: earlier work to take: manifest files of the same content are not parsed
    again, and a dry run takes the state's objects and compiled firewall (at the store's
    revision only) instead of parsing and compiling them. The answer is the same.

    Raises:
        IncompleteInputError: the input was not read in full (or is empty for a known
            cluster); nothing written.
        UnusableInputError: config, profile or shared objects conflict; nothing written.
    """
    with gc_paused():
        return _sync(store, paths, manifests, config, profile, now, progress,
                     full=full, allow_empty=allow_empty, dry_run=dry_run, keep=keep_inventory,
                     reachability=reachability, reuse=reuse)


def _sync(store: State, paths: Sequence[str | Path], manifests: ManifestSet | None,
          config: NcpConfig, profile: NetworkProfile | None, now: float,
          progress: Progress | None, *, full: bool, allow_empty: bool,
          dry_run: bool, keep: bool, reachability: bool,
          reuse: Reuse | None) -> SyncReport:
    """:func:`sync_cluster`'s work."""
    step = progress or _quietly
    step("reading manifests")
    mset = _complete_manifests(store, config, paths, manifests, allow_empty=allow_empty,
                               known=reuse.parsed_files() if reuse is not None else None)
    stored = reuse.inventory if reuse is not None and dry_run else None
    report = SyncReport(cluster=config.cluster, problems=list(mset.problems),
                        notes=list(mset.notes), parsed_files=mset.parsed)
    inputs = _bind_inputs(store, config, profile, mset, report, step)
    if not full and not inputs.profiles_added:
        done = _up_to_date(store, config, inputs.bound, inputs.fingerprints.full)
        if done is not None:
            if dry_run:
                done.plan = Plan()
            return done
    if dry_run and not full and not inputs.profiles_added:
        quick = plan_policy_change(store, config=config, settings=inputs.settings,
                                   objects=mset.objects, fingerprints=inputs.fingerprints,
                                   profile=inputs.bound.name if inputs.bound else None,
                                   input_problems=report.problems)
        if quick is not None:
            return _policy_change_dry_run(store, report, quick, step, keep=keep,
                                          reachability=reachability, stored=stored)
    step("loading state")
    current, current_dfw = _current(store, stored)
    holds = store.holds()
    shared = shared_objects(config, inputs.settings, current)
    step("provisioning")
    result = _provision(inputs, current, shared, holds, now)
    _report_provisioned(report, result, inputs)
    step("comparing with the state")
    diff = _compare_with_state(store, config.cluster, current, result)
    report.created, report.updated, report.deleted = diff.created, diff.updated, diff.deleted
    new_holds = _merge_holds(holds, result.holds, now)
    record = _cluster_record(config, inputs, report, result, now)
    unchanged = _unchanged(store, record, diff=diff, inputs=inputs, holds=holds,
                           new_holds=new_holds, report=report, findings=result.findings,
                           now=now)
    report.problems.sort()
    if dry_run:
        report.plan = plan_of(diff, _stored_status(store, config.cluster), _status(report))
        report.revision = store.revision
        return _what_if(report, (current, current_dfw),
                        [*result.owned.values(), *result.shared.values()], diff, step,
                        keep=keep, reachability=reachability)
    if unchanged:
        report.revision = store.revision
        report.inventory = current if keep else None
        return report
    step("writing")
    report.revision = store.apply(ChangeSet(
        upserts=diff.upserts, deletes=diff.deletes, holds=new_holds, cluster=record,
        status=_status(report), k8s_objects=kept_rows(mset.objects),
        problems=report.problems, findings=result.findings,
        profiles_added=inputs.profiles_added,
    ))
    report.written = True
    if keep and current.revision == report.revision - 1:  # nobody wrote in between
        report.inventory = inventory_after(current, [*result.owned.values(),
                                                     *result.shared.values()],
                                           diff.deletes, report.revision)
        report.validated = True  # what _compare_with_state checked, as written
    return report


def _current(store: State, stored: StoredInventory | None,
             ) -> tuple[Inventory, CompiledDfw | None]:
    """The state's objects and, when at hand, their compiled firewall: ``stored`` ones
    when it has them for the store's revision, else parsed from the store."""
    found = stored() if stored is not None else None
    if found is not None and found[0].revision == store.revision:
        return found
    return store.inventory(), None


def _policy_change_dry_run(store: State, report: SyncReport, quick: PolicyChangePlan,
                           step: Progress, *, keep: bool, reachability: bool,
                           stored: StoredInventory | None) -> SyncReport:
    """The report of a dry run planned from the last sync's work
    (:mod:`ncp.reconcile.policy_change`): as that sync left it, but for the changed
    policies' objects, problems and findings."""
    record = store.cluster(report.cluster)
    assert record is not None  # the plan was made from it
    _as_recorded(report, store, record)
    report.problems += quick.problems
    report.problems.sort()
    report.findings = quick.findings
    report.notes += quick.notes
    report.cluster_ips = quick.cluster_ips
    diff = quick.diff
    report.created, report.updated, report.deleted = diff.created, diff.updated, diff.deleted
    report.plan = plan_of(diff, _stored_status(store, report.cluster), _status(report))
    report.revision = store.revision
    if not (keep or reachability):
        return report
    step("loading state")
    return _what_if(report, _current(store, stored), quick.objects, diff, step, keep=keep,
                    reachability=reachability)


def _what_if(report: SyncReport, now: tuple[Inventory, CompiledDfw | None],
             desired: Sequence[PolicyResource], diff: ObjectDiff, step: Progress, *,
             keep: bool, reachability: bool) -> SyncReport:
    """A dry run's inventory after the write (``keep``) and reachability delta, built in
    memory from the state's objects (and their firewall, when at hand: ``now``) and the
    ``desired`` objects the ``diff`` came from."""
    current, current_dfw = now
    assert report.plan is not None
    if not (keep or reachability):
        return report
    after = inventory_after(current, desired, diff.deletes, report.revision + 1)
    if keep:  # what the write would leave, for what-if questions asked of it
        report.inventory = after
    if reachability:
        step("comparing reachability")
        report.plan.reachability = reachability_change(
            current, after, [*diff.deletes, *(row.path for row in diff.upserts)],
            before_dfw=current_dfw)
    return report


def _quietly(_message: str) -> None:
    """No progress shown."""


def _complete_manifests(store: State, config: NcpConfig, paths: Sequence[str | Path],
                        manifests: ManifestSet | None, *, allow_empty: bool,
                        known: Mapping[str, Loaded] | None) -> ManifestSet:
    """The manifests (read here from ``paths`` unless given, files of ``known`` content
    not parsed again), refused when they were not read in full: a sync never deletes what
    it merely failed to read (:mod:`ncp.reconcile.completeness`).

    Raises:
        IncompleteInputError: the input was not read in full, or is empty for a cluster
            the state holds.
    """
    mset = manifests if manifests is not None else read_manifests(paths, known)
    gaps = input_gaps(mset, cluster=config.cluster,
                      cluster_known=store.cluster(config.cluster) is not None,
                      allow_empty=allow_empty)
    if gaps:
        raise IncompleteInputError(gaps)
    return mset


def _bind_inputs(store: State, config: NcpConfig, profile: NetworkProfile | None,
                 mset: ManifestSet, report: SyncReport, step: Progress) -> _Inputs:
    """Bind the profile (checking its update rules), lay it over the config, expand the
    workload controllers into pods (their problems and notes go to ``report``), and take
    the fingerprint of what provisioning will read.

    Raises:
        UnusableInputError: the profile clashes or breaks the update rules.
    """
    bound, profiles_added = resolve_profile(store, config, profile)
    settings = cluster_settings(config, bound)
    nodes = node_names(mset.objects, settings.default_nodes)
    step("expanding workloads")
    expansion = expand_workloads(mset.objects, nodes=nodes)
    report.problems += expansion.problems
    report.notes += expansion.notes
    fingerprints = input_fingerprints(config, bound, mset.objects, expansion.pods,
                                      report.problems)
    return _Inputs(mset, bound, profiles_added, settings, nodes, expansion.pods, fingerprints)


def _provision(inputs: _Inputs, current: Inventory, shared: Mapping[str, PolicyResource],
               holds: Sequence[Hold], now: float) -> Provisioned:
    """The cluster's desired topology (:func:`~ncp.translate.cluster.provision`) from the
    kinds it reads; Ingresses of another class are left to their controller."""
    objects = inputs.manifests.objects
    node_objs = {o.name: o for o in objects if o.kind == "Node"}
    return provision(
        settings=inputs.settings,
        objects=ClusterObjects(
            namespaces=[o for o in objects if o.kind == "Namespace"],
            pods=inputs.pods,
            nodes=[node_objs.get(n, n) for n in inputs.nodes],
            policies=[o for o in objects if o.kind in POLICY_KINDS],
            services=[o for o in objects if o.kind == "Service"],
            endpoint_slices=[o for o in objects if o.kind == "EndpointSlice"],
            ingresses=[o for o in objects if o.kind == "Ingress" and is_nsx_ingress(o)],
        ),
        current=current, shared=shared, holds=holds, now=now,
    )


def _report_provisioned(report: SyncReport, result: Provisioned, inputs: _Inputs) -> None:
    """What provisioning decided, into the report (and so into the status NCP writes)."""
    report.problems += result.problems
    report.findings = result.findings
    report.notes += result.notes
    report.namespaces, report.pods = result.realized_namespaces, result.realized_pods
    report.nodes = len(inputs.nodes)
    report.annotations = result.annotations
    report.cluster_ips = result.cluster_ips
    report.pod_annotations = result.pod_annotations
    report.lb_vips = result.lb_vips
    report.service_annotations = result.service_annotations
    report.ingress_annotations = result.ingress_annotations
    if result.ingress_vip is not None:
        report.ingress_vips = {f"{ns}/{n}": result.ingress_vip
                               for ns, n in result.ingresses_served}


def _compare_with_state(store: State, cluster: str, current: Inventory,
                        result: Provisioned) -> ObjectDiff:
    """The difference between what the cluster should own (and the shared objects it
    changes) and the stored rows; a result that would fail the cross-object checks is
    refused here, before anything is written.

    Raises:
        InconsistentResultError: the result fails the cross-object checks (a bug).
    """
    rows = {r.path: r for r in store.rows()}
    owned_now = [p for p, r in rows.items() if r.cluster == cluster]
    diff = diff_objects([*result.owned.values(), *result.shared.values()], rows,
                        deletable=owned_now)
    if not diff.empty:
        _check_result(current, result.owned, result.shared, diff.deletes)
    return diff


def _cluster_record(config: NcpConfig, inputs: _Inputs, report: SyncReport,
                    result: Provisioned, now: float) -> ClusterRecord:
    """The cluster's row after this sync: its profile, config, fingerprint and summary
    (what ``ncp run``'s incremental reconcile reads back)."""
    return ClusterRecord(config.cluster, inputs.bound.name if inputs.bound else None,
                         config.model_dump(mode="json"), now, inputs.fingerprints.full,
                         summary={SUMMARY_NAMESPACES: report.namespaces,
                                  SUMMARY_PODS: report.pods, SUMMARY_NODES: report.nodes,
                                  SUMMARY_SHARED_TIER1: int(inputs.settings.single_tier),
                                  SUMMARY_FIREWALL_READS_PODS: int(result.firewall_reads_pods),
                                  SUMMARY_FIREWALL_READS_NAMESPACES:
                                      int(result.firewall_reads_namespaces),
                                  **recorded_for_planning(inputs.fingerprints, result.notes,
                                                          result.cluster_ips)})


def _unchanged(store: State, record: ClusterRecord, *, diff: ObjectDiff, inputs: _Inputs,
               holds: Sequence[Hold], new_holds: Sequence[Hold], report: SyncReport,
               findings: list[Problem], now: float) -> bool:
    """Whether nothing this cluster owns or records would differ after the write.
    Another cluster's write in between, or holds that merely expired, are no reason to
    write."""
    cluster = record.name
    old = store.cluster(cluster)
    return (
        diff.empty and not inputs.profiles_added
        and sorted(new_holds) == sorted(h for h in holds if h.active(now))
        and old is not None and old.profile == record.profile
        and old.config == record.config and old.fingerprint == record.fingerprint
        and _same_status(store, cluster, _status(report), report.problems)
        and sorted(p for _c, p in store.problems(cluster, table="findings")) == findings
        and _same_kept(store, cluster, inputs.manifests.objects)
    )


def _check_result(current: Inventory, owned: Mapping[str, PolicyResource],
                  shared: Mapping[str, PolicyResource], deletes: Sequence[str]) -> None:
    """Refuse to write a state that fails the cross-object checks.

    Provisioning is built never to produce one; this guard turns a bug (say, two clusters
    carving the same subnet) into an error before anything is written, instead of a
    corrupt state found later. It costs about 0.25 s per 20,000 objects.
    """
    gone = set(deletes)
    merged = {p: o for p, o in current.items() if p not in gone}
    merged.update(owned)
    merged.update(shared)
    problems = validate_inventory(Inventory(merged.values()))
    if problems:
        raise InconsistentResultError(problems)


def _merge_holds(old: Sequence[Hold], new: Sequence[Hold], now: float) -> list[Hold]:
    """Active old holds plus the new ones; the later ``until`` wins for the same space."""
    merged: dict[tuple[str, str], Hold] = {}
    for hold in [*old, *new]:
        if not hold.active(now) and hold not in new:
            continue
        key = (hold.scope, str(hold.cidr))
        if key not in merged or merged[key].until < hold.until:
            merged[key] = hold
    return sorted(merged.values())


def _same_kept(store: State, cluster: str, objects: Sequence[K8sObject]) -> bool:
    """Whether the kept Kubernetes objects (services, policies, ...) are as stored."""
    return store.k8s_object_rows(cluster) == sorted(kept_rows(objects))


def _status(report: SyncReport) -> dict[tuple[str, str, str], dict[str, str]]:
    """What NCP writes on Kubernetes objects, by (kind, namespace, name), as the status
    table keeps it: annotations, and (kinds ``ServiceStatus`` and ``IngressStatus``) the
    VIP of a LoadBalancer Service or an Ingress."""
    out = {("Namespace", "", ns): ann for ns, ann in report.annotations.items()}
    out.update({("Pod", ns, pod): ann for (ns, pod), ann in report.pod_annotations.items()})
    out.update({("Service", ns, name): ann
                for (ns, name), ann in report.service_annotations.items()})
    out.update({("Ingress", ns, name): ann
                for (ns, name), ann in report.ingress_annotations.items()})
    for kind, vips in ((SERVICE_VIP_STATUS, report.lb_vips),
                       (INGRESS_VIP_STATUS, report.ingress_vips)):
        for key, vip in vips.items():
            ns, name = key.split("/", 1)
            out[(kind, ns, name)] = {VIP_KEY: vip}
    return out


def _same_status(store: State, cluster: str,
                 wanted: Mapping[tuple[str, str, str], dict[str, str]],
                 problems: list[Problem]) -> bool:
    stored_problems = sorted(p for _cluster, p in store.problems(cluster))
    return _stored_status(store, cluster) == dict(wanted) and stored_problems == sorted(problems)


def _stored_status(store: State, cluster: str) -> dict[tuple[str, str, str], dict[str, str]]:
    """The status the state holds for the cluster, keyed as :func:`_status` keys it."""
    return {(kind, ns, name): values
            for _cluster, kind, ns, name, values in store.status(cluster)}
