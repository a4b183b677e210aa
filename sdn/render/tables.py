"""Rows for ``sdn show`` tables, one column set per kind, chosen to fit a terminal.

Each kind gets the columns a person looks for first (a port's IP, MAC, VLAN and node; a
segment's gateway and subnets); ``-o json`` prints the full NSX objects instead.

A few columns count other objects (a segment's ports, a Tier-1's segments): those tables
take the counted objects as ``related``, and :data:`COUNTED` says which they are, so that
the caller reads those for the rows it shows instead of the whole state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sdn.model import (
    Condition,
    ConjunctionOperator,
    Group,
    IPAddressExpression,
    IpBlock,
    IpPool,
    IpPoolBlockSubnet,
    IpPoolStaticSubnet,
    L4PortSetServiceEntry,
    LBPool,
    LBService,
    LBVirtualServer,
    NatRule,
    NestedExpression,
    PathExpression,
    PolicyResource,
    Rule,
    SecurityPolicy,
    Segment,
    SegmentPort,
    Tier0,
    Tier1,
)

Row = list[str]
#: The objects a table shows, or counts.
Objs = Sequence[PolicyResource]
#: A table: header and rows.
Built = tuple[Row, list[Row]]


def _leaf(path: str | None) -> str:
    return path.rsplit("/", 1)[-1] if path else "-"


def _owner(obj: PolicyResource) -> str:
    cluster = obj.tag("ncp/cluster")
    project = obj.tag("ncp/project")
    if cluster and project:
        return f"{cluster}/{project}"
    return cluster or "admin"


def _tier0(objs: Objs, related: Objs) -> Built:
    t1s = Counter(o.tier0_path for o in related if isinstance(o, Tier1))
    return ["ID", "HA MODE", "TIER-1S"], [
        [o.id, o.ha_mode, str(t1s[o.path])] for o in objs if isinstance(o, Tier0)]


def _tier1(objs: Objs, related: Objs) -> Built:
    segs = Counter(s.connectivity_path for s in related if isinstance(s, Segment))
    return ["ID", "OWNER", "TIER-0", "SEGMENTS", "SNAT IP"], [
        [o.id, _owner(o), _leaf(o.tier0_path), str(segs[o.path]), o.tag("ncp/snat_ip") or "-"]
        for o in objs if isinstance(o, Tier1)]


def _segment(objs: Objs, related: Objs) -> Built:
    ports = Counter(p.parent_path for p in related if isinstance(p, SegmentPort))
    return ["ID", "OWNER", "GATEWAY", "SUBNETS", "PORTS"], [
        [o.id, _owner(o), _leaf(o.connectivity_path),
         " ".join(str(s.gateway_address) for s in o.subnets), str(ports[o.path])]
        for o in objs if isinstance(o, Segment)]


def _port(objs: Objs, related: Objs) -> Built:
    rows = []
    for o in objs:
        if not isinstance(o, SegmentPort):
            continue
        b = o.address_bindings[0] if o.address_bindings else None
        att = o.attachment
        rows.append([
            o.display_name or o.id, _leaf(o.parent_path),
            str(b.ip_address) if b else "-", b.mac_address if b else "-",
            att.type if att else "-",
            str(att.traffic_tag) if att and att.traffic_tag is not None else "-",
            o.tag("ncp/node_name") or "-",
        ])
    return ["PORT", "SEGMENT", "IP", "MAC", "TYPE", "VLAN", "NODE"], rows


def _block(objs: Objs, related: Objs) -> Built:
    return ["ID", "CIDR", "SIZE"], [
        [o.id, str(o.cidr), str(o.cidr.num_addresses)] for o in objs if isinstance(o, IpBlock)]


def _pool(objs: Objs, related: Objs) -> Built:
    return ["ID", "OWNER", "SUBNETS", "ALLOCATED"], [
        [o.id, _owner(o), " ".join(str(s.cidr) for s in o.subnets), str(len(o.allocations))]
        for o in objs if isinstance(o, IpPool)]


def _nat(objs: Objs, related: Objs) -> Built:
    return ["ID", "GATEWAY", "ACTION", "SOURCE", "TRANSLATED", "SEQ"], [
        [o.id, _leaf(o.gateway_path), o.action, o.source_network or "any",
         o.translated_network or "-", str(o.sequence_number)]
        for o in objs if isinstance(o, NatRule)]


def _expression_text(items: Sequence[object]) -> str:
    """A compact reading of a group expression: ``app=web AND ns:team=a OR 10.0.0.0/8``."""
    parts = []
    for item in items:
        if isinstance(item, Condition) and not item.evaluated:
            parts.append(f"{item.member_type}.{item.key} {item.operator.lower()} "
                         f"({item.value}) [not evaluated]")
        elif isinstance(item, Condition):
            scope, _, value = item.value.partition("|")
            where = "" if item.on_ports else "segment:"
            if item.scope_operator == "NOTEQUALS":
                parts.append(f"!{where}{scope}")
            elif item.operator == "EQUALS":
                parts.append(f"{where}{scope}" + (f"={value}" if value else ""))
            else:
                parts.append(f"{where}{scope} {item.operator.lower()} ({value})")
        elif isinstance(item, ConjunctionOperator):
            parts.append(item.conjunction_operator)
        elif isinstance(item, IPAddressExpression):
            parts.append(",".join(item.ip_addresses))
        elif isinstance(item, PathExpression):
            parts.append(f"{len(item.paths)} path(s)")
        elif isinstance(item, NestedExpression):
            parts.append("(" + _expression_text(item.expressions) + ")")
    return " ".join(parts)


def _group(objs: Objs, related: Objs) -> Built:
    return ["ID", "OWNER", "CRITERIA"], [
        [o.id, _owner(o), _expression_text(o.expression)] for o in objs if isinstance(o, Group)]


def _services_text(rule: Rule) -> str:
    if not rule.service_entries:
        return "ANY"
    out = []
    for e in rule.service_entries:
        if isinstance(e, L4PortSetServiceEntry):
            out.append(e.l4_protocol + ("/" + ",".join(e.destination_ports)
                                        if e.destination_ports else ""))
        else:
            out.append(e.resource_type.replace("ServiceEntry", ""))
    return " ".join(out)


def _groups_text(paths: Sequence[str]) -> str:
    return ",".join(_leaf(p) if p != "ANY" else "ANY" for p in paths)


def _security_policy(objs: Objs, related: Objs) -> Built:
    rows = []
    for o in objs:
        if not isinstance(o, SecurityPolicy):
            continue
        for r in sorted(o.rules, key=lambda r: (r.sequence_number, r.id)):
            scope = r.scope if "ANY" not in r.scope else o.scope
            rows.append([o.id, o.category, str(o.sequence_number), r.id, str(r.rule_id),
                         r.direction, r.action, _groups_text(r.source_groups),
                         _groups_text(r.destination_groups), _services_text(r),
                         _groups_text(scope)])
    return ["POLICY", "CATEGORY", "SEQ", "RULE", "RULE ID", "DIR", "ACTION", "SOURCES",
            "DESTINATIONS", "SERVICES", "APPLIED TO"], rows


def _lb_service(objs: Objs, related: Objs) -> Built:
    vs = Counter(v.lb_service_path for v in related if isinstance(v, LBVirtualServer))
    return ["ID", "OWNER", "SIZE", "ATTACHED TO", "VIRTUAL SERVERS"], [
        [o.id, _owner(o), o.size, _leaf(o.connectivity_path), str(vs[o.path])]
        for o in objs if isinstance(o, LBService)]


def _lb_virtual_server(objs: Objs, related: Objs) -> Built:
    members = {p.path: len(p.members) for p in related if isinstance(p, LBPool)}

    def pool(o: LBVirtualServer) -> tuple[str, str]:
        if o.pool_path is None:  # L7: pools chosen by rules
            return f"{len(o.rules)} rule(s)", "-"
        return _leaf(o.pool_path), str(members.get(o.pool_path, 0))

    return ["ID", "OWNER", "VIP", "PORTS", "PROTOCOL", "POOL", "MEMBERS"], [
        [o.id, _owner(o), str(o.ip_address), ",".join(o.ports), o.protocol, *pool(o)]
        for o in objs if isinstance(o, LBVirtualServer)]


def _lb_pool(objs: Objs, related: Objs) -> Built:
    return ["ID", "OWNER", "ALGORITHM", "MEMBERS"], [
        [o.id, _owner(o), o.algorithm,
         " ".join(f"{m.ip_address}:{m.port}" for m in o.members) or "(none ready)"]
        for o in objs if isinstance(o, LBPool)]


def _generic(objs: Objs, related: Objs) -> Built:
    return ["ID", "DISPLAY NAME", "PATH"], [[o.id, o.display_name, o.path] for o in objs]


Table = Callable[[Objs, Objs], Built]

_TABLES: dict[str, Table] = {
    "Tier0": _tier0,
    "Tier1": _tier1,
    "Segment": _segment,
    "SegmentPort": _port,
    "IpAddressBlock": _block,
    "IpAddressPool": _pool,
    "PolicyNatRule": _nat,
    "Group": _group,
    "SecurityPolicy": _security_policy,
    "LBService": _lb_service,
    "LBVirtualServer": _lb_virtual_server,
    "LBPool": _lb_pool,
}


@dataclass(frozen=True)
class Counted:
    """The objects a kind's table counts: those of ``resource_type`` whose ``field`` is
    the ``via`` field (a path) of a shown object. Objects beyond those change nothing."""

    resource_type: str
    field: str
    via: str = "path"


#: What each table that counts other objects counts (the other tables count nothing).
COUNTED: dict[str, Counted] = {
    "Tier0": Counted("Tier1", "tier0_path"),
    "Tier1": Counted("Segment", "connectivity_path"),
    "Segment": Counted("SegmentPort", "parent_path"),
    "LBService": Counted("LBVirtualServer", "lb_service_path"),
    "LBVirtualServer": Counted("LBPool", "path", via="pool_path"),
}


def _subnet_row(pool: IpPool, item: Mapping[str, Any]) -> Row:
    subnet = next((s for s in pool.subnets if s.id == item["id"]), None)
    if isinstance(subnet, IpPoolBlockSubnet):
        return [pool.id, subnet.id, "block", str(subnet.cidr), str(subnet.size),
                _leaf(subnet.ip_block_path)]
    if isinstance(subnet, IpPoolStaticSubnet):
        ranges = " ".join(f"{r.start}-{r.end}" for r in subnet.allocation_ranges)
        return [pool.id, subnet.id, "static", str(subnet.cidr),
                str(subnet.cidr.num_addresses), ranges or "-"]
    return [pool.id, str(item["id"]), "-", "-", "-", "-"]


def child_table(kind: str, items: Sequence[tuple[IpPool, Mapping[str, Any]]]) -> Built:
    """Header and rows for ``sdn show ip-subnets`` / ``ip-allocations``: each child in
    NSX's shape (:mod:`sdn.model.apishape`) with its pool. A block subnet shows its
    realized CIDR (NSX's realized state has it; its intent has not)."""
    if kind == "ip-subnets":
        return ["POOL", "SUBNET", "TYPE", "CIDR", "SIZE", "FROM"], [
            _subnet_row(pool, item) for pool, item in items]
    rows = []
    for pool, item in items:
        tags = {t["scope"]: t["tag"] for t in item["tags"]}
        owner = "/".join(v for v in (tags.get("ncp/cluster"), tags.get("ncp/project")) if v)
        rows.append([pool.id, str(item["id"]), str(item["allocation_ip"]),
                     owner or _owner(pool)])
    return ["POOL", "ALLOCATION", "IP", "OWNER"], rows


def table_for(resource_type: str, objs: Objs, related: Objs = ()) -> Built:
    """Header and rows for ``objs`` of one ``resource_type``; ``related`` holds (at
    least) the objects its :data:`COUNTED` entry names, if it has one."""
    return _TABLES.get(resource_type, _generic)(objs, related)
