"""A small data plane made by hand for the live-trace tests (root): three pods, two Tier-1
routers, a Tier-0 and the outside, with nftables rules written by hand in the naming every
table of ours follows (common brief: ``comment "rule <id>"``, ``"spoofguard"``, ``"nat
<id>"``, ``"lb <id>"``), so the tracer is tested before and apart from ``sdn realize``::

    a 10.9.0.2 ┐                                           ┌ c 10.9.1.2
    b 10.9.0.3 ┴ sA ─ r1 ─ uplink/d1 ─ r0 ─ d2/uplink ─ r2 ─ sB
                                         └ uplink 192.0.2.1 ─ o 192.0.2.100

r1: DFW egress (forward) drops a -> b:6379 by rule 1234 and accepts the rest by rule 2;
ingress (postrouting) drops -> b:8080 by rule 4321; SpoofGuard lets only 10.9.0.2 out of a;
the VIP 10.96.0.10:80 is load-balanced (``lb vs1``) to c. r0 SNATs 10.9.0.0/24 leaving
by its uplink to 198.51.100.10 (``nat snat1``) and has no default route.

Namespaces are ``sdnt-live-<pid>-<role>`` (unique to this test process); :func:`teardown`
deletes exactly those. :data:`VIEW` is what :class:`~sdn.dataplane.observations.KernelView`
says of the roles; :func:`view_for` renames its namespaces to the real ones.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from sdn.dataplane.livetrace import LiveFlow, capture
from sdn.dataplane.nfttrace import FlowKey
from sdn.dataplane.observations import Hop, KernelView, PortView, RouterView
from sdn.traceflow.packets import PacketSpec
from sdn.traceflow.results import Observation

ROLES = ("r1", "r2", "r0", "a", "b", "c", "o")
PREFIX = f"sdnt-live-{os.getpid():x}-"

_SEG_A, _SEG_B = "/infra/segments/sA", "/infra/segments/sB"
_T1, _T2, _T0 = "/infra/tier-1s/r1", "/infra/tier-1s/r2", "/infra/tier-0s/r0"

VIEW = KernelView(
    routers={"r1": RouterView(_T1, "tier1"), "r2": RouterView(_T2, "tier1"),
             "r0": RouterView(_T0, "tier0")},
    ports={f"{_SEG_A}/ports/a": PortView(f"{_SEG_A}/ports/a", "ns/a",
                                         IPv4Address("10.9.0.2"), "02:00:00:00:00:02", "a",
                                         _SEG_A),
           f"{_SEG_A}/ports/b": PortView(f"{_SEG_A}/ports/b", "ns/b",
                                         IPv4Address("10.9.0.3"), "02:00:00:00:00:03", "b",
                                         _SEG_A),
           f"{_SEG_B}/ports/c": PortView(f"{_SEG_B}/ports/c", "ns/c",
                                         IPv4Address("10.9.1.2"), "02:00:00:00:01:02", "c",
                                         _SEG_B)},
    links={("r1", "sA"): Hop("segment", _SEG_A), ("r2", "sB"): Hop("segment", _SEG_B),
           ("r1", "v-a"): Hop("port", f"{_SEG_A}/ports/a"),
           ("r1", "v-b"): Hop("port", f"{_SEG_A}/ports/b"),
           ("r2", "v-c"): Hop("port", f"{_SEG_B}/ports/c"),
           ("r1", "uplink"): Hop("router", _T0), ("r0", "d1"): Hop("router", _T1),
           ("r2", "uplink"): Hop("router", _T0), ("r0", "d2"): Hop("router", _T2),
           ("r0", "uplink"): Hop("outside")},
    segments={_SEG_A: "sA", _SEG_B: "sB"},
    rules={1234: ("/infra/domains/default/security-policies/p1/rules/r1234", "p1"),
           4321: ("/infra/domains/default/security-policies/p2/rules/r4321", "p2")},
    nat_rules={(_T0, "snat1"): f"{_T0}/nat/USER/nat-rules/snat1"},
    virtual_servers={"vs1": ("/infra/lb-virtual-servers/vs1", "ns/vip")},
    members={("vs1", IPv4Address("10.9.1.2")): "backend c port 80"},
    outside="o",
    next_hops={(_T1, _T0): "100.64.0.0", (_T0, _T1): "100.64.0.1",
               (_T2, _T0): "100.64.0.2", (_T0, _T2): "100.64.0.3"},
)

_DFW = """table inet sdn_dfw {
  chain dfw_out { type filter hook forward priority 0; policy accept;
    ct state established,related counter accept comment "stateful"
    ip saddr 10.9.0.2 tcp dport 6379 counter drop comment "rule 1234"
    ip saddr { 10.9.0.2, 10.9.0.3 } counter accept comment "rule 2"
  }
  chain dfw_in { type filter hook forward priority 10; policy accept;
    ct state established,related counter accept comment "stateful"
    ip daddr 10.9.0.3 tcp dport 8080 counter drop comment "rule 4321"
    ip daddr { 10.9.0.2, 10.9.0.3 } counter accept comment "rule 2"
  }
}
table bridge sdn_sg {
  chain sg { type filter hook prerouting priority -300; policy accept;
    iifname "v-a" ether type ip ip saddr != 10.9.0.2 counter drop comment "spoofguard"
  }
}
table ip sdn_lb {
  chain pre { type nat hook prerouting priority dstnat; policy accept;
    ip daddr 10.96.0.10 tcp dport 80 counter dnat to 10.9.1.2 comment "lb vs1"
  }
}
"""
_NAT = """table ip sdn_nat {
  chain post { type nat hook postrouting priority srcnat; policy accept;
    oifname "uplink" ip saddr 10.9.0.0/24 counter snat to 198.51.100.10 comment "nat snat1"
  }
}
"""


def name(role: str) -> str:
    """The namespace of a role."""
    return PREFIX + role


def view_for() -> KernelView:
    """:data:`VIEW` with the real namespace names."""
    return KernelView(
        routers={name(k): v for k, v in VIEW.routers.items()},
        ports={k: PortView(p.path, p.name, p.ip, p.mac, name(p.netns), p.segment)
               for k, p in VIEW.ports.items()},
        links={(name(ns), ifname): hop for (ns, ifname), hop in VIEW.links.items()},
        segments=VIEW.segments, rules=VIEW.rules, nat_rules=VIEW.nat_rules,
        virtual_servers=VIEW.virtual_servers, members=VIEW.members, outside=name("o"),
        next_hops=VIEW.next_hops)


def _run(*argv: str, stdin: str | None = None) -> None:
    subprocess.run(argv, input=stdin, text=True, check=True, capture_output=True)


def _in(role: str, *argv: str, stdin: str | None = None) -> None:
    _run("ip", "netns", "exec", name(role), *argv, stdin=stdin)


def _veth(a: str, a_if: str, b: str, b_if: str) -> None:
    _run("ip", "link", "add", a_if, "netns", name(a), "type", "veth", "peer", "name", b_if,
         "netns", name(b))


def _pod(role: str, router: str, bridge: str, ip: str, mac: str, gateway: str) -> None:
    _veth(role, "eth0", router, f"v-{role}")
    _in(role, "ip", "link", "set", "eth0", "address", mac, "up")
    _in(role, "ip", "addr", "add", f"{ip}/24", "dev", "eth0")
    _in(role, "ip", "route", "add", "default", "via", gateway)
    _in(router, "ip", "link", "set", f"v-{role}", "master", bridge, "up")


def _address(role: str, ifname: str, cidr: str) -> None:
    _in(role, "ip", "addr", "add", cidr, "dev", ifname)
    _in(role, "ip", "link", "set", ifname, "up")


def build() -> None:
    """Make the namespaces, links, addresses, routes and rules (module docs)."""
    for role in ROLES:
        _run("ip", "netns", "add", name(role))
        _in(role, "ip", "link", "set", "lo", "up")
    for router in ("r1", "r2", "r0"):
        _in(router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    for router, bridge, gw in (("r1", "sA", "10.9.0.1/24"), ("r2", "sB", "10.9.1.1/24")):
        _in(router, "ip", "link", "add", bridge, "type", "bridge")
        _in(router, "ip", "link", "set", bridge, "address", "02:50:56:56:44:52")
        _address(router, bridge, gw)
    _pod("a", "r1", "sA", "10.9.0.2", "02:00:00:00:00:02", "10.9.0.1")
    _pod("b", "r1", "sA", "10.9.0.3", "02:00:00:00:00:03", "10.9.0.1")
    _pod("c", "r2", "sB", "10.9.1.2", "02:00:00:00:01:02", "10.9.1.1")
    _veth("r0", "d1", "r1", "uplink")
    _address("r0", "d1", "100.64.0.0/31")
    _address("r1", "uplink", "100.64.0.1/31")
    _veth("r0", "d2", "r2", "uplink")
    _address("r0", "d2", "100.64.0.2/31")
    _address("r2", "uplink", "100.64.0.3/31")
    _veth("r0", "uplink", "o", "eth0")
    _address("r0", "uplink", "192.0.2.1/24")
    _address("o", "eth0", "192.0.2.100/24")
    _in("r1", "ip", "route", "add", "default", "via", "100.64.0.0")
    _in("r2", "ip", "route", "add", "default", "via", "100.64.0.2")
    _in("r0", "ip", "route", "add", "10.9.0.0/24", "via", "100.64.0.1")
    _in("r0", "ip", "route", "add", "10.9.1.0/24", "via", "100.64.0.3")
    _in("r0", "ip", "route", "add", "10.96.0.0/24", "via", "100.64.0.1")
    _in("o", "ip", "route", "add", "198.51.100.0/24", "via", "192.0.2.1")
    _in("r1", "nft", "-f", "-", stdin=_DFW)
    _in("r0", "nft", "-f", "-", stdin=_NAT)


def existing() -> list[str]:
    """The namespaces of this module's prefix that exist."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                         check=True).stdout
    return sorted(line.split()[0] for line in out.splitlines()
                  if line.startswith("sdnt-live-"))


def teardown() -> None:
    """Delete this process's namespaces (absent ones are fine)."""
    for ns in existing():
        if ns.startswith(PREFIX):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def our_monitors() -> list[int]:
    """Processes still running ``nft monitor`` that this process started."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if b"monitor" in argv and any(a.endswith(b"nft") for a in argv) \
                and ppid == os.getpid():
            found.append(int(entry))
    return found


@dataclass(frozen=True)
class Case:
    """One packet the tests send through the hand-made network: from the pod ``source``
    (a role) with ``packet`` (its source port fixed, so a recording replays), watched in
    the roles ``routers`` and ``pods``."""

    id: str
    source: str
    packet: PacketSpec
    routers: tuple[str, ...] = ("r1", "r0", "r2")
    pods: tuple[str, ...] = ()

    @property
    def flow(self) -> LiveFlow:
        """The flow as the tracer sends it (IP id fixed per case)."""
        ip_id = 4000 + CASES.index(self)
        sport = ip_id if self.packet.protocol == "ICMP" else self.packet.sport
        return LiveFlow(self.packet, FlowKey(self.packet.protocol, sport, ip_id))


def _pkt(src: str, dst: str, protocol: str = "TCP", dport: int | None = 80,
         ttl: int = 64) -> PacketSpec:
    return PacketSpec(src_ip=IPv4Address(src), dst_ip=IPv4Address(dst), protocol=protocol,
                      src_port=None if protocol == "ICMP" else 40001, dst_port=dport, ttl=ttl)


CASES: list[Case] = [
    Case("bridged-delivered", "a", _pkt("10.9.0.2", "10.9.0.3"), pods=("b",)),
    Case("egress-dropped", "a", _pkt("10.9.0.2", "10.9.0.3", dport=6379), pods=("b",)),
    Case("ingress-dropped", "a", _pkt("10.9.0.2", "10.9.0.3", dport=8080), pods=("b",)),
    Case("routed-delivered", "a", _pkt("10.9.0.2", "10.9.1.2"), pods=("c",)),
    Case("icmp-routed", "a", _pkt("10.9.0.2", "10.9.1.2", "ICMP", None), pods=("c",)),
    Case("udp-bridged", "a", _pkt("10.9.0.2", "10.9.0.3", "UDP", 53), pods=("b",)),
    Case("snat-exits", "a", _pkt("10.9.0.2", "192.0.2.100"), pods=("o",)),
    Case("lb-member", "a", _pkt("10.9.0.2", "10.96.0.10"), pods=("c",)),
    Case("spoofguard", "a", _pkt("10.9.0.99", "10.9.0.3"), pods=("b",)),
    Case("ttl-zero", "a", _pkt("10.9.0.2", "10.9.1.2", ttl=1), pods=("c",)),
    Case("no-route", "a", _pkt("10.9.0.2", "203.0.113.9"), pods=("o",)),
]


def capture_case(case: Case, tag: str) -> list[tuple[str, str]]:
    """Send ``case`` through the built network; the trace lines with roles for netns."""
    lines = capture(tag, name(case.source), case.flow, [name(r) for r in case.routers],
                    [name(p) for p in case.pods])
    return [(ns.removeprefix(PREFIX), line) for ns, line in lines]


def record(folder: Path) -> None:
    """Build, capture every case into ``folder/<id>.txt`` (``role<TAB>line``), tear down."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        build()
        for case in CASES:
            lines = capture_case(case, "sdnt-live-record")
            (folder / f"{case.id}.txt").write_text(
                "".join(f"{role}\t{line}\n" for role, line in lines))
    finally:
        teardown()


if __name__ == "__main__":
    record(Path(__file__).resolve().parents[1] / "data" / "nfttrace")


def brief(o: Observation) -> str:
    """An observation in one line: kind, component, name and what it decided, a router's
    next hop as ``name@address`` (the tests' expected tables are written in this form)."""
    kind = o.resource_type.removeprefix("TraceflowObservation").removesuffix("Logical")
    parts = [kind, o.component_type or "-", o.component_name or o.lport_name or "-"]
    to = f"{o.next_hop_name}@{o.next_hop}" if o.next_hop_name else None
    for label, value in (("rule", o.acl_rule_id), ("reason", o.reason),
                         ("to", to), ("snat", o.translated_src_ip),
                         ("dnat", o.translated_dst_ip), ("port", o.lport_name
                                                          if o.component_type == "DFW"
                                                          else None),
                         ("mac", o.target_mac), ("at", o.transport_node_name)):
        if value is not None:
            parts.append(f"{label}={value}")
    return " ".join(parts)


_EGRESS = "Forwarded DFW DFW rule=2 port=ns/a at=r1"
_SEG_A_SEEN = "Forwarded LS sA at=r1"
_TO_C = ["Forwarded LR r1 to=r0@100.64.0.0 at=r1", "Forwarded LR r0 to=r2@100.64.0.3 at=r0",
         "Forwarded LR r2 to=sB@10.9.1.2 at=r2", "Forwarded LS sB at=r2",
         "Delivered - ns/c mac=02:00:00:00:01:02 at=c"]
#: What the tracer must say of each case: disposition, observations (:func:`brief`), summary.
EXPECTED: dict[str, tuple[str, list[str], str]] = {
    "bridged-delivered": ("DELIVERED", [
        _EGRESS, _SEG_A_SEEN, "Forwarded DFW DFW rule=2 port=ns/b at=r1",
        "Delivered - ns/b mac=02:00:00:00:00:03 at=b"], "DELIVERED to ns/b"),
    "egress-dropped": ("DROPPED", [
        "Dropped DFW DFW rule=1234 reason=FW_RULE port=ns/a at=r1"],
        "DROPPED at ns/a egress by rule 1234 of security policy p1"),
    "ingress-dropped": ("DROPPED", [
        _EGRESS, _SEG_A_SEEN, "Dropped DFW DFW rule=4321 reason=FW_RULE port=ns/b at=r1"],
        "DROPPED at ns/b ingress by rule 4321 of security policy p2"),
    "routed-delivered": ("DELIVERED", [_EGRESS, _SEG_A_SEEN, *_TO_C], "DELIVERED to ns/c"),
    "icmp-routed": ("DELIVERED", [_EGRESS, _SEG_A_SEEN, *_TO_C], "DELIVERED to ns/c"),
    "udp-bridged": ("DELIVERED", [
        _EGRESS, _SEG_A_SEEN, "Forwarded DFW DFW rule=2 port=ns/b at=r1",
        "Delivered - ns/b mac=02:00:00:00:00:03 at=b"], "DELIVERED to ns/b"),
    "snat-exits": ("EXITS_NETWORK", [
        _EGRESS, _SEG_A_SEEN, "Forwarded LR r1 to=r0@100.64.0.0 at=r1",
        "Forwarded NAT r0 snat=198.51.100.10 at=r0", "Forwarded LR r0 to=uplink@192.0.2.100 at=r0"],
        "EXITS_NETWORK through r0's uplink (SNAT to 198.51.100.10)"),
    "lb-member": ("DELIVERED", [
        "Forwarded LOAD_BALANCER ns/vip dnat=10.9.1.2 at=r1", _EGRESS, _SEG_A_SEEN,
        *_TO_C], "DELIVERED to ns/c"),
    "spoofguard": ("DROPPED", [
        "Dropped SPOOFGUARD ns/a reason=SPOOFGUARD at=r1"],
        "DROPPED at ns/a by SpoofGuard: 10.9.0.99 is not the port's address"),
    "ttl-zero": ("DROPPED", [
        _SEG_A_SEEN, "Dropped LR r1 reason=TTL_ZERO at=r1"], "DROPPED at r1: TTL exhausted"),
    "no-route": ("NO_ROUTE", [
        _EGRESS, _SEG_A_SEEN, "Forwarded LR r1 to=r0@100.64.0.0 at=r1",
        "Dropped LR r0 reason=NO_ROUTE at=r0"], "NO_ROUTE at r0 for 203.0.113.9"),
}
