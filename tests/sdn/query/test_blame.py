"""``sdn blame`` against brute force: on random histories of admin writes over the synced
guestbook (policies allowing or dropping, groups relabelled under unchanged policies, the
pods' own labels changed), the revision blame names is the last one where the flow's
verdict, computed by compiling the whole state rebuilt at every revision, flipped."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sdn.errors import NotFoundError
from sdn.model import Group, Inventory, SecurityPolicy, SegmentPort, Tag
from sdn.model.dfw import ANY, Condition, Rule
from sdn.policy.compiler import compile_dfw
from sdn.policy.evaluator import evaluate_flow
from sdn.store import ChangeSet, Store, past
from sdn.store.codec import to_stored
from tests.support.cli_runs import sync_sample

SEG = "/infra/segments/seg_k8s-cluster_default/ports"
FLOWS = [(f"{SEG}/redis-slave-0", f"{SEG}/redis-master-0"),
         (f"{SEG}/frontend-0", f"{SEG}/redis-slave-1")]
DOMAIN = "/infra/domains/default"
LABELS = ["app|redis", "app|frontend", "blame|on"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = tmp_path_factory.mktemp("blame") / "state.db"
    sync_sample(state, "guestbook")
    return state


def _group(n: int, label: str) -> Group:
    return Group(id=f"adm-g{n}", path=f"{DOMAIN}/groups/adm-g{n}", display_name=label,
                 expression=(Condition(member_type="SegmentPort", value=label),))


def _policy(n: int, category: str, action: str, src: str, dst: str, scope: str) -> SecurityPolicy:
    path = f"{DOMAIN}/security-policies/adm-p{n}"
    return SecurityPolicy(
        id=f"adm-p{n}", path=path, display_name=f"adm-p{n}", category=category,
        sequence_number=n, rules=(Rule(id="r", path=f"{path}/rules/r", parent_path=path,
                                       rule_id=9000 + n, source_groups=(src,),
                                       destination_groups=(dst,), scope=(scope,),
                                       action=action),))


_where = st.sampled_from([ANY, ANY, f"{DOMAIN}/groups/adm-g0", f"{DOMAIN}/groups/adm-g1"])
_writes = st.lists(st.one_of(
    st.tuples(st.just("policy"), st.integers(0, 2),
              st.sampled_from(["Environment", "Application"]),
              st.sampled_from(["ALLOW", "DROP", "REJECT"]), _where, _where, _where),
    st.tuples(st.just("drop"), st.integers(0, 2)),
    st.tuples(st.just("group"), st.integers(0, 1), st.sampled_from(LABELS)),
    st.tuples(st.just("group"), st.integers(0, 1), st.sampled_from(LABELS)),
    st.tuples(st.just("relabel"), st.sampled_from([p for f in FLOWS for p in f]),
              st.booleans()),
), min_size=1, max_size=10)


def _write(store: Store, op: tuple[object, ...]) -> ChangeSet:
    kind = op[0]
    if kind == "policy":
        n, category, action, src, dst, scope = op[1:]
        return ChangeSet(upserts=[to_stored(_policy(int(n), str(category), str(action),  # type: ignore[call-overload]
                                                    str(src), str(dst), str(scope)))])
    if kind == "drop":
        return ChangeSet(deletes=[f"{DOMAIN}/security-policies/adm-p{op[1]}"])
    if kind == "group":
        return ChangeSet(upserts=[to_stored(_group(int(op[1]), str(op[2])))])  # type: ignore[call-overload]
    port = store.inventory()[str(op[1])]
    assert isinstance(port, SegmentPort)
    tags = tuple(t for t in port.tags if t.scope != "blame")
    if op[2]:
        tags += (Tag(scope="blame", tag="on"),)
    return ChangeSet(upserts=[to_stored(port.model_copy(update={"tags": tags}))])


def _allowed(inv: Inventory, src: str, dst: str) -> bool:
    dfw = compile_dfw(inv)
    eps = dfw.endpoints_of([src, dst])
    return evaluate_flow(dfw, eps[src], eps[dst], protocol="TCP", port=6379).allowed


def _last_flip(store: Store, src: str, dst: str) -> int | None:
    """Brute force: the verdict at every revision from the whole state rebuilt there."""
    current = store.inventory()
    verdicts = {rev: _allowed(past.inventory_at(store, rev, current), src, dst)
                for rev in range(1, store.revision + 1)}
    return next((rev for rev in range(store.revision, 1, -1)
                 if verdicts[rev] != verdicts[rev - 1]), None)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=_writes, which=st.sampled_from(range(len(FLOWS))))
def test_blame_names_the_last_flip_brute_force_finds(
        template: Path, tmp_path: Path, writes: list[tuple[object, ...]], which: int) -> None:
    from sdn.query.blame import Flow, blame, relevant_now

    state = Path(tempfile.mkdtemp(dir=tmp_path)) / "state.db"
    shutil.copy(template, state)
    with Store.open(state) as store:
        for op in writes:
            store.apply(_write(store, op))
    src, dst = FLOWS[which]
    with Store.open_readonly(state) as store:
        expected = _last_flip(store, src, dst)
        event("never flipped" if expected is None else
              "flipped at the last write" if expected == store.revision else
              "flipped earlier")
        flow = Flow(src, dst, "TCP", 6379)
        relevant = relevant_now(compile_dfw(store.inventory()), flow)
        if expected is None:
            with pytest.raises(NotFoundError) as err:
                blame(store, flow, relevant)
            assert err.value.code == "HISTORY_NEVER_FLIPPED"
            return
        found = blame(store, flow, relevant)
    assert found.revision.revision == expected
    assert found.before.allowed != found.after.allowed


#: Writes that cannot touch the flows: policies enforced only on a group no pod is in,
#: that group relabelled to other nobodies, another pod's labels.
_noise = st.lists(st.one_of(
    st.tuples(st.just("policy"), st.integers(0, 2),
              st.sampled_from(["Environment", "Application"]),
              st.sampled_from(["ALLOW", "DROP"]), st.just(ANY), st.just(ANY),
              st.just(f"{DOMAIN}/groups/adm-g1")),
    st.tuples(st.just("group"), st.just(1), st.sampled_from(["nobody|a", "nobody|b"])),
    st.tuples(st.just("relabel"), st.just(f"{SEG}/frontend-2"), st.booleans()),
), max_size=40)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=_noise, after=_noise, which=st.sampled_from(range(len(FLOWS))))
def test_blame_finds_the_planted_change(template: Path, tmp_path: Path,
                                        before: list[tuple[object, ...]],
                                        after: list[tuple[object, ...]], which: int) -> None:
    """Noise, then one Environment policy that flips the flow (DROP if it was allowed,
    ALLOW if not), then more noise: blame names the planted write."""
    from sdn.query.blame import Flow, blame, relevant_now

    state = Path(tempfile.mkdtemp(dir=tmp_path)) / "state.db"
    shutil.copy(template, state)
    src, dst = FLOWS[which]
    with Store.open(state) as store:
        store.apply(_write(store, ("group", 1, "nobody|a")))
        for op in before:
            store.apply(_write(store, op))
        allowed = _allowed(store.inventory(), src, dst)
        planted = store.apply(ChangeSet(upserts=[to_stored(_policy(
            7, "Environment", "DROP" if allowed else "ALLOW", ANY, ANY, ANY))]))
        for op in after:
            store.apply(_write(store, op))
    with Store.open_readonly(state) as store:
        flow = Flow(src, dst, "TCP", 6379)
        found = blame(store, flow, relevant_now(compile_dfw(store.inventory()), flow))
    assert found.revision.revision == planted
    assert (found.before.allowed, found.after.allowed) == (allowed, not allowed)
    assert found.after.deciding is not None and found.after.deciding.rule is not None
    assert found.after.deciding.rule.path.endswith("/adm-p7/rules/r")
    assert found.evaluated <= 2 + sum(op[0] != "relabel" for op in after)
