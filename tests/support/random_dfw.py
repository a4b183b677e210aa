"""Small random firewalls for property tests of the connectivity answers.

Five ports on one segment with random labels; groups by label, by address (CIDRs that
hold some pods, and outside ones) and mixed; rules with every action, direction,
exclusion, scope and disabled flag; services named and inline over a tiny port universe
(both ends of the port space, so that ranges meet, nest and touch 1 and 65535), with
ICMP, IP-protocol and source-port entries. :func:`probe_ports` lists the ports at which
an answer could change (every range end, one either side) for a per-port oracle.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from sdn.model import (
    Group,
    ICMPTypeServiceEntry,
    Inventory,
    IPProtocolServiceEntry,
    L4PortSetServiceEntry,
    PolicyResource,
    Rule,
    SecurityPolicy,
    Service,
    Tag,
    Tier0,
    group_path,
    rule_path,
    security_policy_path,
)
from sdn.model.values import port_bounds
from tests.support.builders import T0, port, segment

LABELS = ("app|a", "app|b", "tier|x")
ADDRESS_SETS = (("10.0.0.0/30",), ("192.0.2.0/24",), ("192.0.2.128/25", "198.51.100.0/24"),
                ("10.0.0.4-10.0.0.9", "203.0.113.7"))
PORT_ENDS = (*range(1, 9), *range(65528, 65536))


def _labels(i: int, picks: list[str]) -> Any:
    p = port("s", f"p{i}", f"10.0.0.{i + 2}")
    tags = tuple(Tag(scope=t.split("|")[0], tag=t.split("|")[1]) for t in picks)
    return p.model_copy(update={"tags": tags, "display_name": f"ns/p{i}"})


def _groups() -> list[Group]:
    out = [Group(id=f"l{i}", path=group_path(f"l{i}"), expression=[
        {"resource_type": "Condition", "member_type": "SegmentPort", "value": v}])
        for i, v in enumerate(LABELS)]
    out += [Group(id=f"ip{i}", path=group_path(f"ip{i}"), expression=[
        {"resource_type": "IPAddressExpression", "ip_addresses": list(nets)}])
        for i, nets in enumerate(ADDRESS_SETS)]
    out.append(Group(id="mixed", path=group_path("mixed"), expression=[
        {"resource_type": "Condition", "member_type": "SegmentPort", "value": LABELS[0]},
        {"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"},
        {"resource_type": "IPAddressExpression", "ip_addresses": ["198.51.100.0/25"]}]))
    return out


GROUPS = [g.path for g in _groups()]

_range = st.tuples(st.sampled_from(PORT_ENDS), st.sampled_from(PORT_ENDS)).map(
    lambda ab: f"{min(ab)}-{max(ab)}" if ab[0] != ab[1] else str(ab[0]))
_l4 = st.builds(lambda proto, ports, sports: L4PortSetServiceEntry(
    l4_protocol=proto, destination_ports=tuple(ports), source_ports=tuple(sports)),
    st.sampled_from(["TCP", "UDP", "SCTP"]), st.lists(_range, min_size=1, max_size=3),
    st.just([]) | st.lists(_range, max_size=1))
_entry = st.one_of(_l4, _l4, _l4, st.just(ICMPTypeServiceEntry()),
                   st.sampled_from([6, 17, 132, 1, 47]).map(
                       lambda n: IPProtocolServiceEntry(protocol_number=n)))
_services = st.lists(st.lists(_entry, min_size=1, max_size=3), min_size=1, max_size=3)


@st.composite
def _rule(draw: st.DrawFn, pid: str, n: int, services: int) -> Rule:
    side = st.sampled_from(["ANY", *GROUPS])
    named = draw(st.lists(st.integers(0, services - 1), max_size=2, unique=True))
    missing = draw(st.booleans()) and draw(st.booleans()) and draw(st.booleans())
    return Rule(
        id=f"r{n}", path=rule_path(pid, f"r{n}"), parent_path=security_policy_path(pid),
        sequence_number=draw(st.integers(0, 3)),
        action=draw(st.sampled_from(["ALLOW", "ALLOW", "DROP", "REJECT",
                                     "JUMP_TO_APPLICATION"])),
        direction=draw(st.sampled_from(["IN", "OUT", "IN_OUT"])),
        source_groups=(draw(side),), destination_groups=(draw(side),),
        sources_excluded=draw(st.booleans()) and draw(st.booleans()),
        destinations_excluded=draw(st.booleans()) and draw(st.booleans()),
        services=(tuple(f"/infra/services/svc{i}" for i in named)
                  + (("/infra/services/missing",) if missing else ())) or ("ANY",),
        service_entries=tuple(draw(st.lists(_entry, max_size=2))),
        scope=(draw(st.sampled_from(["ANY", "ANY", *GROUPS[:3]])),),
        disabled=draw(st.booleans()) and draw(st.booleans()))


@st.composite
def random_inventory(draw: st.DrawFn) -> Inventory:
    """A random small inventory (see the module's doc)."""
    objs: list[PolicyResource] = [Tier0(id="t0", path=T0), segment("s", T0, "10.0.0.0/24")]
    for i in range(5):
        objs.append(_labels(i, draw(st.lists(st.sampled_from(LABELS), unique=True,
                                              max_size=2))))
    objs += _groups()
    services = draw(_services)
    objs += [Service(id=f"svc{i}", path=f"/infra/services/svc{i}", service_entries=entries)
             for i, entries in enumerate(services)]
    count = draw(st.integers(1, 4))
    for p in range(count):
        pid = "default-layer3-section" if p == count - 1 and draw(st.booleans()) else f"p{p}"
        rules = [draw(_rule(pid, p * 10 + k, len(services)))
                 for k in range(draw(st.integers(1, 4)))]
        objs.append(SecurityPolicy(
            id=pid, path=security_policy_path(pid),
            category=draw(st.sampled_from(["Emergency", "Environment", "Application"])),
            sequence_number=draw(st.integers(0, 3)), rules=tuple(rules),
            scope=(draw(st.sampled_from(["ANY", "ANY", *GROUPS[:3]])),)))
    return Inventory(objs)


def probe_ports(inv: Inventory) -> list[int]:
    """Every port at which some rule's services start or stop matching, one either side,
    and the ends of the port space."""
    found = {1, 65535}
    for policy in inv.of_type(SecurityPolicy):
        for rule in policy.rules:
            entries: list[Any] = list(rule.service_entries)
            for path in rule.services:
                svc = inv.get(path)
                if isinstance(svc, Service):
                    entries += svc.service_entries
            for e in entries:
                if isinstance(e, L4PortSetServiceEntry):
                    for text in e.destination_ports:
                        lo, hi = port_bounds(text)
                        found.update({lo - 1, lo, lo + 1, hi - 1, hi, hi + 1})
    return sorted(p for p in found if 1 <= p <= 65535)
