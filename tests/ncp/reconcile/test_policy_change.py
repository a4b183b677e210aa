"""A dry run planned from the last sync's work (:mod:`ncp.reconcile.policy_change`) gives
the report a full plan gives, and is taken only where it may be.

* Property: on random clusters, a sync with some NetworkPolicies (and an
  AdminNetworkPolicy that stays) then a dry run with policies kept, changed, removed and
  added: the report (every key of ``ncp sync -o json``, reachability included) and the
  inventory the write would leave equal those of the same dry run planned in full.
* Table: the cases the plan declines (the caller then plans in full), each checked to
  decline, and the plain cases checked to be taken.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ncp.reconcile import policy_change
from ncp.reconcile.sync import SyncReport, sync_cluster
from sdn.store import Store
from sdn.store.codec import ChangeSet
from tests.support.clusters import config, manifests
from tests.support.dfw_harness import CONFIG, _docs, _rewrite, pod_addresses
from tests.support.policy_strategies import (
    anp_st,
    named,
    pod_labels_st,
    policy_st,
    random_cluster,
)


def _dry_run(store: Store, docs: list[dict[str, Any]], *, full: bool, cfg: Any = CONFIG,
             now: float = 3) -> SyncReport:
    return sync_cluster(store, manifests=manifests(*docs), config=cfg, now=now,
                        dry_run=True, full=full, keep_inventory=True)


def _both(store: Store, docs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch,
          **kw: Any) -> tuple[SyncReport, SyncReport, bool]:
    """The dry run as planned by default and in full, and whether the default one was
    planned from the last sync's work."""
    taken: list[bool] = []
    real = policy_change.plan_policy_change

    def spy(*args: Any, **kwargs: Any) -> Any:
        plan = real(*args, **kwargs)
        taken.append(plan is not None)
        return plan

    monkeypatch.setattr("ncp.reconcile.sync.plan_policy_change", spy)
    quick = _dry_run(store, docs, full=False, **kw)
    monkeypatch.undo()
    full = _dry_run(store, docs, full=True, **kw)
    return quick, full, any(taken)


def _same(quick: SyncReport, full: SyncReport) -> None:
    if any(n.startswith("inputs unchanged since") for n in quick.notes):
        # nothing changed: the no-op answer, from before any planning
        assert full.plan is not None and not full.plan.changes_json()
        assert not full.plan.reachability.has("any")
        return
    assert quick.to_json() == full.to_json()
    assert quick.inventory is not None and full.inventory is not None
    assert dict(quick.inventory.items()) == dict(full.inventory.items())
    assert quick.inventory.revision == full.inventory.revision


change = st.tuples(pod_labels_st, st.lists(policy_st, max_size=2),
                   st.lists(policy_st, max_size=2), st.lists(policy_st, max_size=2),
                   st.lists(policy_st, max_size=2), st.lists(anp_st, max_size=1))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(change=change)
def test_planned_from_the_last_sync_as_in_full(tmp_path_factory: Any,
                                               monkeypatch: pytest.MonkeyPatch,
                                               change: Any) -> None:
    labels, kept, gone, edited, new, anps = change
    cluster = random_cluster(labels)
    kept, gone, new = named(kept, "keep"), named(gone, "gone"), named(new, "new")
    edited = named(edited, "edit")
    anps = named(anps, "anp")
    # the edited ones: the same names, other specs (a kept one's spec on another name)
    replaced = [{**copy.deepcopy(p), "spec": copy.deepcopy(q["spec"])}
                for p, q in zip(edited, [*new, *kept, *edited][::-1], strict=False)]
    with Store.open(tmp_path_factory.mktemp("policy-change") / "state.db") as store:
        ips = pod_addresses(store, cluster)
        docs = _docs(cluster)
        before = [_rewrite(p, ips) for p in [*kept, *gone, *edited, *anps]]
        sync_cluster(store, manifests=manifests(*docs, *before), config=CONFIG, now=2)
        after = [_rewrite(p, ips) for p in [*kept, *replaced, *new, *anps]]
        quick, full, taken = _both(store, [*docs, *after], monkeypatch)
    event(f"planned from the last sync: {taken}")
    _same(quick, full)


# --------------------------------------------------------------------------- the cases

NS = "ns1"


def _np(name: str, *, port: int | str = 80, ns: str = NS) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                                  "ports": [{"protocol": "TCP", "port": port}]}]}}


def _anp(priority: int) -> dict[str, Any]:
    return {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
            "metadata": {"name": "anp"},
            "spec": {"priority": priority, "subject": {"namespaces": {}},
                     "ingress": [{"name": "r", "action": "Deny",
                                  "from": [{"namespaces": {}}]}]}}


def _pods(*, web_label: str = "web") -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace",
                                   "metadata": {"name": NS}}]
    for name, app in (("db", "db"), ("web", web_label)):
        docs.append({"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": name, "namespace": NS, "labels": {"app": app}},
                     "spec": {"containers": [{"name": "c", "image": "x", "ports": [
                         {"name": "http", "containerPort": 8080, "protocol": "TCP"}]}]}})
    return docs


def _cleared_fingerprint(store: Store) -> None:
    """What an incremental write of ``ncp run`` leaves: the fingerprint cleared."""
    record = store.cluster(CONFIG.cluster)
    assert record is not None
    store.apply(ChangeSet(cluster=replace(record, fingerprint="")))


def _admin_write(store: Store) -> None:
    """Another writer: an admin group, which moves the revision."""
    from sdn.model import Group
    from sdn.store.codec import to_stored

    group = Group(id="admin", path="/infra/domains/default/groups/admin",
                  display_name="admin")
    store.apply(ChangeSet(upserts=[to_stored(group)]))


def _old_summary(store: Store) -> None:
    """A state written before the plan's summary keys existed."""
    record = store.cluster(CONFIG.cluster)
    assert record is not None
    summary = {k: v for k, v in record.summary.items()
               if k != policy_change.SUMMARY_POLICY_FREE}
    store.apply(ChangeSet(cluster=replace(record, summary=summary)))


def _fewer_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy_change, "MAX_OBJECTS", 3)


# (id, synced documents, dry-run documents, what is done to the state in between,
#  the config, whether the plan is taken)
CASES: list[Any] = [
    pytest.param([*_pods(), _np("a")], [*_pods(), _np("a", port=81)], None, CONFIG, True,
                 id="policy-edited"),
    pytest.param([*_pods(), _np("a")], [*_pods(), _np("a"), _np("b")], None, CONFIG, True,
                 id="policy-added"),
    pytest.param([*_pods(), _np("a")], [*_pods(), _np("a"), _np("b")], _fewer_objects, CONFIG,
                 False, id="too-many-objects-to-compare"),
    pytest.param([*_pods(), _np("a"), _np("b")], [*_pods(), _np("a")], None, CONFIG, True,
                 id="policy-removed"),
    pytest.param([*_pods(), _np("a")], [*_pods(), _np("a"), _np("b", ns="ghost")], None,
                 CONFIG, True, id="policy-in-a-missing-namespace"),
    pytest.param([*_pods(), _np("a")], [*_pods(web_label="web2"), _np("a", port=81)], None,
                 CONFIG, False, id="a-pod-changed-too"),
    pytest.param([*_pods(), _np("a")], [*_pods(), _np("a", port="http")], None, CONFIG,
                 False, id="named-port-reads-the-pods"),
    pytest.param([*_pods(), _np("a", port="http")], [*_pods(), _np("a")], None, CONFIG,
                 False, id="named-port-removed-reads-the-pods"),
    pytest.param([*_pods(), _anp(1)], [*_pods(), _anp(2)], None, CONFIG, False,
                 id="admin-policy-changed"),
    pytest.param([*_pods(), _np("a")], [*_pods(), _np("a", port=81)], _cleared_fingerprint,
                 CONFIG, False, id="incremental-write-since"),
    pytest.param([*_pods(), _np("a")], [*_pods(), _np("a", port=81)], _admin_write, CONFIG,
                 False, id="another-writer-since"),
    pytest.param([*_pods(), _np("a")], [*_pods(), _np("a", port=81)], _old_summary, CONFIG,
                 False, id="state-of-an-older-version"),
    pytest.param([*_pods(), _np("a")], [*_pods(), _np("a", port=81)], None,
                 config(container_ip_blocks=[{"id": "tiny", "cidr": "10.9.0.0/30"}],
                        subnet_prefix=30),
                 False, id="addresses-exhausted-moves-with-time"),
]


@pytest.mark.parametrize(("synced", "planned", "between", "cfg", "taken"), CASES)
def test_when_the_plan_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                synced: list[dict[str, Any]], planned: list[dict[str, Any]],
                                between: Any, cfg: Any, taken: bool) -> None:
    with Store.open(tmp_path / "state.db") as store:
        sync_cluster(store, manifests=manifests(*synced), config=cfg, now=2)
        if between is _fewer_objects:
            between(monkeypatch)
        elif between is not None:
            between(store)
        quick, full, was_taken = _both(store, planned, monkeypatch, cfg=cfg)
    assert was_taken is taken
    _same(quick, full)
