"""The generated nftables tables decide every flow as the simulator does: DFW rule order
and verdicts (with the same rule id), SNAT, load balancing and SpoofGuard, on every
sample and on generated clusters, checked by an interpreter of the structure
(:mod:`tests.support.nft_interpreter`); and the transaction between two rulesets is
empty when they are equal and touches only what changed."""

from __future__ import annotations

import itertools
import random
import re
import tempfile
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdn.dataplane.layout import Layout, Port
from sdn.dataplane.nftgen import Ruleset, count, transaction
from sdn.dataplane.nftmodel import MAX_COMMENT, Match, Table, comment_for, digest
from sdn.model import Group, Inventory, LBService, SecurityPolicy, SegmentPort, group_path
from sdn.policy import Firewall, evaluate_flow
from sdn.store import Store
from sdn.traceflow.packets import PacketSpec
from sdn.traceflow.walk import DEFAULT_RULE_ID, TraceContext, trace
from tests.support.clusters import sync_generated
from tests.support.nft_cases import (
    chains_touched,
    generate,
    load_sample,
    mutated,
    one_policy_changed,
)
from tests.support.nft_interpreter import Interpreter, Packet
from topologies.generate import generate_cluster

SAMPLES = ["guestbook", "multi-tenant", "lb-heavy", "admin", "shared-t1"]
#: (protocol, destination port) probed for every pair of ports.
SERVICES = [("TCP", 80), ("TCP", 5432), ("TCP", 8443), ("TCP", 9100), ("UDP", 53), ("ICMP", None)]
PROTOCOL_NUMBERS = {"TCP": 6, "UDP": 17, "ICMP": 1}
OUTSIDE = IPv4Address("192.0.2.100")


@pytest.fixture(scope="module", params=SAMPLES)
def sample_state(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = tmp_path_factory.mktemp(request.param) / "state.db"
    load_sample(state, request.param)
    return state


@pytest.fixture(scope="module")
def sample(sample_state: Path) -> Inventory:
    with Store.open_readonly(sample_state) as store:
        return store.inventory()


def _table(rs: dict[str, Ruleset], netns: str, family: str, name: str) -> Table:
    found = rs[netns].table(family, name)
    assert found is not None
    return found


# -- the DFW -------------------------------------------------------------------------


def expected_ids(fw: Firewall, index: int, direction: str) -> list[str]:
    """The rule ids the simulator can decide by at one port, in its order."""
    out = []
    for r in fw.candidates(index, direction):
        jump_noop = r.action == "JUMP_TO_APPLICATION" and r.order >= fw.application_start
        if r.disabled or jump_noop or r.services == ():
            continue
        out.append(f"rule {r.rule_id}")
    return [*out, f"rule {DEFAULT_RULE_ID}"]


def chain_ids(table: Table, chain: str) -> list[str]:
    """Comments of the verdict rules reachable from ``chain`` in order (jumps
    followed), consecutive repeats (one NSX rule, several services) once."""
    chains = {c.name: c for c in table.chains}
    out: list[str] = []

    def walk(name: str) -> None:
        for r in chains[name].rules:
            if r.verdict.startswith("jump "):
                walk(r.verdict.split()[1])
            elif r.comment and (not out or out[-1] != r.comment):
                out.append(r.comment)
    walk(chain)
    return out


def test_every_ports_chains_list_the_simulators_rules_in_its_order(sample: Inventory) -> None:
    layout, fw, rs = generate(sample)
    endpoints = fw.endpoints_of(layout.ports)
    assert endpoints
    for port in layout.ports.values():
        table = _table(rs, port.host_netns, "inet", "sdn_dfw")
        maps = {s.name: dict(s.elements) for s in table.sets}
        index = endpoints[port.path].index
        assert index is not None
        for direction, map_name in (("OUT", "m_egress"), ("IN", "m_ingress")):
            seq = maps[map_name][str(port.ip.ip)].split()[1]
            assert chain_ids(table, seq) == expected_ids(fw, index, direction), port.path


def decide(rs: dict[str, Ruleset], where: dict[IPv4Address, Port], src: IPv4Address,
           dst: IPv4Address, protocol: str, dport: int | None,
           ) -> tuple[tuple[bool, str] | None, tuple[bool, str] | None]:
    """(egress, ingress) as the generated DFW decides them: (allowed, comment), None
    where the address has no port of the layout."""
    proto = PROTOCOL_NUMBERS[protocol]
    sport = None if dport is None else 40000
    out: list[tuple[bool, str] | None] = []
    for ip, chain in ((src, "dfw_out"), (dst, "dfw_in")):
        port = where.get(ip)
        if port is None:
            out.append(None)
            continue
        table = _table(rs, port.host_netns, "inet", "sdn_dfw")
        o = Interpreter(table).run(chain, Packet(src, dst, proto, dport, sport))
        out.append((o.verdict == "accept", o.comment))
    return out[0], out[1]


def simulated(fw: Firewall, src: IPv4Address, dst: IPv4Address, protocol: str,
              dport: int | None) -> tuple[tuple[bool, str] | None, tuple[bool, str] | None]:
    v = evaluate_flow(fw, fw.endpoint_for_ip(src), fw.endpoint_for_ip(dst),
                      protocol=protocol, port=dport,
                      source_port=None if dport is None else 40000)
    return tuple(  # type: ignore[return-value]
        None if d is None else (d.allowed, f"rule {d.rule.rule_id if d.rule else DEFAULT_RULE_ID}")
        for d in (v.egress, v.ingress))


def flows(layout: Layout, limit: int | None = None, seed: int = 0,
          ) -> Iterator[tuple[IPv4Address, IPv4Address, str, int | None]]:
    ips = sorted(p.ip.ip for p in layout.ports.values())
    gateways = sorted({a.ip for b in layout.bridges.values() for a in b.addresses})
    pairs = [(a, b) for a in [*ips, OUTSIDE] for b in [*ips, OUTSIDE, *gateways] if a != b]
    if limit is not None and len(pairs) > limit:
        pairs = random.Random(seed).sample(pairs, limit)
    for a, b in pairs:
        for protocol, dport in SERVICES:
            yield a, b, protocol, dport


def assert_dfw_agrees(inv: Inventory, limit: int | None = None, seed: int = 0,
                      firewall: Firewall | None = None) -> None:
    layout, fw, rs = generate(inv, firewall)
    where = {p.ip.ip: p for p in layout.ports.values()}
    checked = 0
    for src, dst, protocol, dport in flows(layout, limit, seed):
        got = decide(rs, where, src, dst, protocol, dport)
        assert got == simulated(fw, src, dst, protocol, dport), (src, dst, protocol, dport)
        checked += 1
    assert checked


def test_every_pair_is_decided_as_the_simulator_decides(sample: Inventory) -> None:
    """Pods, the outside client and the gateways' own addresses, every way round."""
    assert_dfw_agrees(sample)


def test_packets_to_the_router_itself_meet_the_same_egress(sample: Inventory) -> None:
    """The simulator checks egress of a packet to a gateway address too: on Linux that
    packet takes the input hook, whose chain dispatches exactly as forward's does."""
    _, _, rs = generate(sample)
    for ruleset in rs.values():
        dfw = ruleset.table("inet", "sdn_dfw")
        if dfw is None:
            continue
        chains = {c.name: c for c in dfw.chains}
        assert chains["dfw_local"].rules == chains["dfw_out"].rules
        assert "hook input " in chains["dfw_local"].hook
        assert "hook forward " in chains["dfw_out"].hook


def test_the_query_index_firewall_gives_the_same_tables(sample: Inventory,
                                                       sample_state: Path) -> None:
    """The firewall read record by record from the query index (groups as member-set
    numbers) gives the very tables the compiled one gives."""
    from sdn.query.index import QueryIndex

    with QueryIndex.open(sample_state) as index:
        index.dfw()  # compiles and saves the records
    with QueryIndex.open(sample_state) as index:
        stored = index.dfw()
        assert type(stored).__name__ == "StoredFirewall"
        assert generate(sample, stored)[2] == generate(sample)[2]


MUTATIONS = {
    "jump-to-application": {"action": "JUMP_TO_APPLICATION"},
    "reject": {"action": "REJECT"},
    "sources-excluded": {"sources_excluded": True},
    "destinations-excluded": {"destinations_excluded": True, "action": "DROP"},
    "disabled": {"disabled": True},
    "out-only": {"direction": "OUT", "action": "DROP"},
    "ip-block-sources": {"source_groups": (group_path("nft-block"),), "action": "DROP"},
    "ip-block-and-destinations-excluded": {
        "destination_groups": (group_path("nft-block-and"),), "destinations_excluded": True,
        "action": "DROP"},
    "label-or-block-sources": {"source_groups": (group_path("nft-mixed"),), "action": "DROP"},
    "narrower-applied-to": {"scope": ("/infra/domains/default/groups/monitoring-pods",),
                            "source_groups": ("ANY",), "destination_groups": ("ANY",),
                            "action": "DROP"},
}


def _addresses(*cidrs: str) -> dict[str, Any]:
    return {"resource_type": "IPAddressExpression", "ip_addresses": list(cidrs)}


#: Groups of addresses: an ipBlock covering the outside client and a pod subnet, an AND
#: of two address criteria, a label OR addresses (its addresses match outside only).
ADDRESS_GROUPS = [
    Group(id="nft-block", path=group_path("nft-block"),
          expression=[_addresses("192.0.2.0/25", "172.16.4.0/24")]),
    Group(id="nft-block-and", path=group_path("nft-block-and"), expression=[
        _addresses("192.0.2.0/24", "172.16.0.0/16"),
        {"resource_type": "ConjunctionOperator", "conjunction_operator": "AND"},
        _addresses("192.0.2.64/26", "172.16.5.0/24", "172.16.2.3")]),
    Group(id="nft-mixed", path=group_path("nft-mixed"), expression=[
        {"resource_type": "Condition", "member_type": "SegmentPort", "value": "app|prometheus"},
        {"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"},
        _addresses("192.0.2.96/27")]),
]


@pytest.mark.parametrize("category", ["Emergency", "Application"])
@pytest.mark.parametrize("change", list(MUTATIONS), ids=list(MUTATIONS))
def test_each_rule_feature_is_decided_as_the_simulator_decides(
        admin: Inventory, change: str, category: str) -> None:
    """Every other rule of every policy changed one way, the policies moved to one
    category: each feature the generator translates, checked on its own."""
    objs: list[Any] = list(ADDRESS_GROUPS)
    counted = itertools.count()
    for obj in admin.values():
        if isinstance(obj, SecurityPolicy) and obj.rules:
            rules = tuple(r.model_copy(update=MUTATIONS[change]) if next(counted) % 2 == 0
                          else r for r in obj.rules)
            obj = obj.model_copy(update={"rules": rules, "category": category
                                         if obj.category != "Emergency" else obj.category})
        objs.append(obj)
    assert_dfw_agrees(Inventory(objs))


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    return load_sample(tmp_path_factory.mktemp("admin") / "state.db", "admin")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_policies_are_decided_as_the_simulator_decides(
        admin: Inventory, data: st.DataObject) -> None:
    assert_dfw_agrees(mutated(admin, data), limit=60, seed=1)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(namespaces=st.integers(1, 4), pods=st.integers(2, 14), policies=st.integers(0, 6),
       seed=st.integers(0, 10_000), realistic=st.booleans())
def test_generated_clusters_are_decided_as_the_simulator_decides(
        namespaces: int, pods: int, policies: int, seed: int, realistic: bool) -> None:
    objs = generate_cluster(namespaces=namespaces, pods=pods, policies=policies, seed=seed,
                            shapes="realistic" if realistic else "simple")
    with tempfile.TemporaryDirectory() as folder:
        inv = sync_generated(Path(folder) / "state.db", objs)
    assert_dfw_agrees(inv, limit=80, seed=seed)


# -- SNAT, load balancing, SpoofGuard --------------------------------------------------


def test_snat_translates_as_the_simulators_trace_to_the_outside(sample: Inventory) -> None:
    """Each pod's packet to the outside through its Tier-1's then its Tier-0's NAT table
    (whichever holds the rules) leaves with the address the simulator's trace says."""
    layout, fw, rs = generate(sample)
    ctx = TraceContext.build(sample, dfw=fw)
    routers = {r.netns: path for path, r in layout.routers.items()}
    checked = 0
    for port in layout.ports.values():
        pkt = PacketSpec(src_ip=port.ip.ip, dst_ip=OUTSIDE, dst_port=80)
        result = trace(ctx, port.path, pkt)
        if result.disposition.value != "EXITS_NETWORK":
            continue
        t1 = sample[routers[port.host_netns]]
        path = [routers[port.host_netns], getattr(t1, "tier0_path", None)]
        src = port.ip.ip
        for gateway in path:
            nat = rs.get(layout.routers[gateway].netns, Ruleset()).table("ip", "sdn_nat") \
                if gateway in layout.routers else None
            if nat is None:
                continue
            o = Interpreter(nat).run("snat_out", Packet(src, OUTSIDE, 6, 80, oif="uplink"))
            snat = [s.split()[-1] for s in o.statements if s.startswith("snat")]
            src = IPv4Address(snat[0]) if snat else src
        shown = result.summary.split("(SNAT to ")[1].rstrip(")") \
            if "(SNAT to " in result.summary else str(port.ip.ip)
        assert str(src) == shown, port.path
        checked += 1
    assert checked


def test_virtual_servers_translate_to_the_members_the_simulator_picks_from(
        sample: Inventory) -> None:
    layout, fw, rs = generate(sample)
    ctx = TraceContext.build(sample, dfw=fw)
    keys = {(ip, n, proto) for (_, ip, n, proto) in ctx.vips} | set(ctx.outside_vips)
    assert keys or sample.of_type(SecurityPolicy)
    for port in layout.ports.values():
        lb = rs[port.host_netns].table("ip", "sdn_lb")
        for ip, number, proto in sorted(keys):
            hit = ctx.virtual_server(port.cluster, ip, number, proto)
            if lb is None:
                assert hit is None
                continue
            o = Interpreter(lb).run("lb_pre", Packet(port.ip.ip, ip, PROTOCOL_NUMBERS[proto],
                                                     number))
            if hit is None:
                assert o.comment == ""
                continue
            vs, pool = hit
            assert o.comment == comment_for("lb", vs.id)
            chosen = ctx.choose(vs, pool).pool
            members = {f"{m.ip_address}:{m.port or number}" for m in chosen.members} \
                if chosen is not None else set()
            assert _targets(o.statements) == members, (port.path, vs.id)


def _targets(statements: tuple[str, ...]) -> set[str]:
    dnat = [s for s in statements if s.startswith("dnat")]
    if not dnat:
        return set()
    if " map { " not in dnat[0]:
        return {dnat[0].split()[-1]}
    body = dnat[0].split(" map { ")[1].rstrip(" }")
    return {e.split(" : ")[1].replace(" . ", ":") for e in body.split(", ")}


def test_outside_clients_reach_vips_on_their_tier1_with_automap(sample: Inventory) -> None:
    layout, fw, rs = generate(sample)
    ctx = TraceContext.build(sample, dfw=fw)
    for (ip, number, proto), (vs, pool) in ctx.outside_vips.items():
        lbs = sample[vs.lb_service_path]
        t1 = getattr(lbs, "connectivity_path", None)
        if t1 not in layout.transit:
            continue
        lb = _table(rs, layout.routers[t1].netns, "ip", "sdn_lb")
        o = Interpreter(lb).run("lb_pre", Packet(OUTSIDE, ip, PROTOCOL_NUMBERS[proto], number,
                                                 iif="uplink"))
        assert o.comment == comment_for("lb", vs.id)
        post = {c.name: c for c in lb.chains}["lb_post"]
        automap = [r for r in post.rules if r.comment == o.comment]
        chosen = ctx.choose(vs, pool).pool
        if chosen is not None and chosen.snat_translation.type == "LBSnatAutoMap":
            assert [r.statements for r in automap] == [(f"snat ip to {layout.transit[t1].ip}",)]


def test_spoofguard_pins_every_port_to_its_interface_mac_and_address(
        sample: Inventory) -> None:
    layout, _, rs = generate(sample)
    for netns in {p.host_netns for p in layout.ports.values()}:
        sg = _table(rs, netns, "bridge", "sdn_sg")
        bound = {k for s in sg.sets if s.name == "m_ip" for k, _ in s.elements}
        assert bound == {f'"{p.host_interface}" . {p.mac} . {p.ip.ip}'
                         for p in layout.ports.values() if p.host_netns == netns}
        assert [r.comment for r in sg.chains[0].rules if r.comment] == ["spoofguard"]


def test_every_verdict_rule_counts_and_names_what_decided(sample: Inventory) -> None:
    _, _, rs = generate(sample)
    named = re.compile(r'^(rule \d+|stateful|spoofguard|nat \S+|lb \S+)$')
    for ruleset in rs.values():
        for table in ruleset.tables:
            assert table.name.startswith("sdn_")
            for chain in table.chains:
                assert re.match(r"^(dfw|seq|pol|sg|snat|lb|vips)_", chain.name)
                for r in chain.rules:
                    final = r.verdict in ("accept", "drop", "reject") \
                        or any(s.startswith(("snat", "dnat")) for s in r.statements)
                    not_a_port = r.matches == (Match("iifname", ("@s_ports",), True),)
                    if final and not not_a_port:
                        assert named.match(r.comment) and "counter" in r.text(), r.text()


def test_a_long_id_is_cut_to_a_comment_nft_takes() -> None:
    long = "x" * 300
    text = comment_for("lb", long)
    assert len(text) == MAX_COMMENT and text.endswith("~" + digest(long, 10))
    assert comment_for("nat", 'a"b') == "nat a'b"


# -- JSON and transactions -------------------------------------------------------------


def test_rulesets_survive_json_and_equal_ones_need_no_transaction(sample: Inventory) -> None:
    _, _, rs = generate(sample)
    _, _, again = generate(sample)
    assert rs == again
    for ruleset in rs.values():
        assert Ruleset.from_json(ruleset.to_json()) == ruleset
        assert transaction(ruleset, ruleset) == "" and count(ruleset, ruleset) == 0
        fresh = transaction(None, ruleset)
        assert fresh.startswith("add table ") and count(None, ruleset) > 0
        gone = transaction(ruleset, None)
        assert all(line.split()[0] in ("add", "delete") for line in gone.splitlines())
    assert transaction(None, None) == ""


def test_a_one_policy_change_touches_only_that_policys_chains(sample: Inventory) -> None:
    if not any(p.rules for p in sample.of_type(SecurityPolicy)):
        # nothing to change: then no change of any policy touches a chain
        assert not any(name.startswith("pol_") for rs in generate(sample)[2].values()
                       for table in rs.tables for name in (c.name for c in table.chains))
        return
    _, _, before = generate(sample)
    changed_inv, policy = one_policy_changed(sample)
    _, _, after = generate(changed_inv)
    mine = {f"pol_{digest(policy.path)}_{d}" for d in ("in", "out")}
    scripts = [transaction(before.get(ns), after.get(ns)) for ns in before.keys() | after]
    assert any(scripts)
    for script in scripts:
        assert chains_touched(script) <= mine, script


def test_two_ports_with_one_address_give_one_map_element(sample: Inventory) -> None:
    """An inconsistent state (two ports bound to one address, which the model checks
    report) still gives tables nft accepts: map keys stay unique."""
    port = next(p for p in sorted(sample.of_type(SegmentPort), key=lambda p: p.path)
                if p.address_bindings)
    twin = port.model_copy(update={"path": port.path + "-twin", "id": port.id + "-twin"})
    _, _, rs = generate(Inventory([*sample.values(), twin]))
    for ruleset in rs.values():
        for table in ruleset.tables:
            for s in table.sets:
                keys = [k for k, _ in s.elements]
                assert len(keys) == len(set(keys)), (table.name, s.name)


def _reachable(table: Table, base: str) -> set[str]:
    """The chains ``base`` reaches by jumps, gotos and its map's verdicts."""
    chains = {c.name: c for c in table.chains}
    maps = {s.name: s for s in table.sets}
    todo, seen = [base], set()
    while todo:
        name = todo.pop()
        if name in seen or name not in chains:
            continue
        seen.add(name)
        for rule in chains[name].rules:
            words = rule.verdict.split()
            if words[:1] in (["jump"], ["goto"]):
                todo.append(words[1])
            elif "vmap" in words:
                todo += [v.split()[1] for _, v in maps[words[-1][1:]].elements]
    return seen


def test_ingress_rejects_at_forward_and_only_deferred_vip_flows_wait_for_postrouting(
        sample: Inventory) -> None:
    """Every rule REJECT: the ingress at ``forward`` answers with ``reject``; only the
    namespaces translating VIPs for outside clients have the postrouting ingress (after
    the SNAT automap), where nftables allows no ``reject`` (its chains drop instead)."""
    objs = [o.model_copy(update={"rules": tuple(r.model_copy(update={"action": "REJECT"})
                                                for r in o.rules)})
            if isinstance(o, SecurityPolicy) else o for o in sample.values()]
    inv = Inventory(objs)
    layout, _, rs = generate(inv)
    services = {s.path: s.connectivity_path for s in inv.of_type(LBService)}
    outside = {layout.routers[services[vs.lb_service_path] or ""].netns
               for vs, _ in TraceContext.build(inv).outside_vips.values()}
    rejecting = 0
    for netns, ruleset in rs.items():
        table = next((t for t in ruleset.tables if t.name == "sdn_dfw"), None)
        if table is None:
            continue
        chains = {c.name: c for c in table.chains}
        assert chains["dfw_in"].hook.startswith("type filter hook forward priority 10;")
        verdicts = {r.verdict for n in _reachable(table, "dfw_in") for r in chains[n].rules}
        rejecting += "reject" in verdicts
        assert ("dfw_in_lb" in chains) == (netns in outside)
        if netns in outside:
            assert chains["dfw_in_lb"].hook.startswith("type filter hook postrouting")
            assert all(r.verdict != "reject" for n in _reachable(table, "dfw_in_lb")
                       for r in chains[n].rules)
    assert rejecting or not any(isinstance(o, SecurityPolicy) and o.rules for o in objs)
