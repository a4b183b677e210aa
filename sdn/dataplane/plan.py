"""The kernel objects a layout needs (a :class:`Blueprint`), and what to create, update
and delete to go from one blueprint to another (:func:`diff`). Pure: no I/O.

Why a blueprint: a realize must apply only differences, and listing the kernel to find
them costs more than the change itself (``nft`` and ``ip`` dump whole tables). So every
realize keeps the blueprint it applied in its record (:mod:`sdn.dataplane.record`) and
the next one diffs against that.

Every object has a **key** (what it is: a namespace by name, an interface by namespace
and name, an address by interface and prefix, a route by namespace and destination, a
sysctl by namespace and name) and a **value** (the whole object). Same key, other value:
an update done in place (a MAC, a bridge master, a next hop, a sysctl's value, a port's
admin state); a key only in the old blueprint: a delete; only in the new: a create. A
port that stays keeps its namespace, interface, address and MAC because all of them are
named after its Policy path.

The unit of :class:`Changes` is one kernel object of the blueprint: one namespace, one
interface (a bridge, or a veth pair, which is made and removed as one), one address, one
route, one sysctl; :mod:`sdn.dataplane.realize` adds the nftables chains and elements.
Deleting a namespace counts everything that was in it, though the kernel removes it all
with the namespace.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from ipaddress import IPv4Interface
from typing import Any, ClassVar, TypeAlias

from sdn.dataplane.layout import POD_INTERFACE, Layout

#: A namespace's loopback, brought up when the namespace is made (part of it, not counted).
LOOPBACK = "lo"
IP_FORWARD = "net/ipv4/ip_forward"
#: Bridged packets go through the inet hooks (the DFW sees traffic within a segment).
BRIDGE_NF = "net/bridge/bridge-nf-call-iptables"
#: Which ICMP error types a namespace rate-limits, set to none (0) where errors are made:
#: the routers (no route, TTL exceeded, the DFW's REJECT at the host ends) and the outside
#: router. NSX answers every probe; a kernel namespace limits destination unreachable and
#: time exceeded per destination (``icmp_ratelimit``, 1 s) and by a budget
#: (``icmp_msgs_per_sec``/``icmp_msgs_burst``, 50 at once), and both apply only to the
#: types in this mask, so clearing it lifts both. Pod namespaces keep the kernel's
#: default: a pod answers with ICMP only for a closed UDP port, and ``sdn verify`` listens
#: on the ports it probes.
ICMP_RATEMASK = "net/ipv4/icmp_ratemask"


@dataclass(frozen=True, slots=True)
class Namespace:
    """A network namespace (its loopback up)."""

    kind: ClassVar[str] = "netns"
    name: str

    @property
    def key(self) -> str:
        return f"netns {self.name}"

    @property
    def namespaces(self) -> tuple[str, ...]:
        return (self.name,)


@dataclass(frozen=True, slots=True)
class Sysctl:
    """A per-namespace sysctl, by its path under ``/proc/sys``."""

    kind: ClassVar[str] = "sysctl"
    netns: str
    name: str
    value: str

    @property
    def key(self) -> str:
        return f"sysctl {self.netns} {self.name}"

    @property
    def namespaces(self) -> tuple[str, ...]:
        return (self.netns,)


@dataclass(frozen=True, slots=True)
class Bridge:
    """A segment's bridge, up, with a fixed MAC."""

    kind: ClassVar[str] = "bridge"
    netns: str
    name: str
    mac: str

    @property
    def key(self) -> str:
        return f"link {self.netns} {self.name}"

    @property
    def namespaces(self) -> tuple[str, ...]:
        return (self.netns,)


@dataclass(frozen=True, slots=True)
class Veth:
    """A veth pair between two namespaces, both ends up unless ``peer_up`` is False; the
    first end may have a fixed MAC, the peer may be enslaved to a bridge (``peer_master``,
    in the peer's namespace)."""

    kind: ClassVar[str] = "veth"
    netns: str
    name: str
    peer_netns: str
    peer_name: str
    mac: str | None = None
    peer_master: str | None = None
    peer_up: bool = True

    @property
    def key(self) -> str:
        return f"veth {self.netns} {self.name} {self.peer_netns} {self.peer_name}"

    @property
    def namespaces(self) -> tuple[str, ...]:
        return (self.netns, self.peer_netns)

    def ends(self) -> tuple[tuple[str, str], tuple[str, str]]:
        """Both ends as (namespace, interface)."""
        return (self.netns, self.name), (self.peer_netns, self.peer_name)


@dataclass(frozen=True, slots=True)
class Address:
    """An IPv4 address with its prefix length on an interface."""

    kind: ClassVar[str] = "address"
    netns: str
    interface: str
    address: str

    @property
    def key(self) -> str:
        return f"addr {self.netns} {self.interface} {self.address}"

    @property
    def namespaces(self) -> tuple[str, ...]:
        return (self.netns,)


@dataclass(frozen=True, slots=True)
class Route:
    """A route in a namespace: ``prefix`` via ``via`` out of ``dev``."""

    kind: ClassVar[str] = "route"
    netns: str
    prefix: str
    via: str
    dev: str

    @property
    def key(self) -> str:
        return f"route {self.netns} {self.prefix}"

    @property
    def namespaces(self) -> tuple[str, ...]:
        return (self.netns,)


KernelObject: TypeAlias = Namespace | Sysctl | Bridge | Veth | Address | Route
#: Creation order (deletion runs it backwards): a thing exists before what sits on it.
KINDS: tuple[type[KernelObject], ...] = (Namespace, Sysctl, Bridge, Veth, Address, Route)
_BY_KIND: dict[str, type[KernelObject]] = {k.kind: k for k in KINDS}
_FIELDS: dict[type[KernelObject], tuple[str, ...]] = {
    k: tuple(f.name for f in fields(k)) for k in KINDS}


@dataclass(frozen=True)
class Blueprint:
    """Every kernel object of one realization, by key."""

    objects: Mapping[str, KernelObject] = field(default_factory=dict)

    @classmethod
    def of(cls, objects: Iterable[KernelObject]) -> Blueprint:
        return cls({o.key: o for o in objects})

    def __len__(self) -> int:
        return len(self.objects)

    def to_json(self) -> list[dict[str, Any]]:
        """A list of plain objects (the record's private part), in key order (fields
        read by name: ``dataclasses.asdict`` deep-copies, ten times slower)."""
        return [{"kind": o.kind, **{f: getattr(o, f) for f in _FIELDS[type(o)]}}
                for _, o in sorted(self.objects.items())]

    @classmethod
    def from_json(cls, items: Iterable[Mapping[str, Any]]) -> Blueprint:
        """The inverse of :meth:`to_json`. Raises ``KeyError``/``TypeError`` on a body
        that is not one (the record then counts as absent)."""
        found = []
        for item in items:
            fields = dict(item)
            found.append(_BY_KIND[fields.pop("kind")](**fields))
        return cls.of(found)

    def without(self, namespaces: Iterable[str]) -> Blueprint:
        """This blueprint as it stands once ``namespaces`` are gone: their objects, the
        veths reaching into them, and what sat on those veths' other ends removed."""
        gone = set(namespaces)
        lost_ends = {end for o in self.objects.values() if isinstance(o, Veth)
                     and gone & set(o.namespaces) for end in o.ends()}
        return Blueprint({k: o for k, o in self.objects.items()
                          if not gone & set(o.namespaces)
                          and not (isinstance(o, Address | Route)
                                   and (o.netns, _interface(o)) in lost_ends)})


def _interface(o: Address | Route) -> str:
    return o.interface if isinstance(o, Address) else o.dev


@dataclass(frozen=True)
class Changes:
    """Counts of kernel objects (module docs: the unit)."""

    created: int = 0
    updated: int = 0
    deleted: int = 0

    def __add__(self, other: Changes) -> Changes:
        return Changes(self.created + other.created, self.updated + other.updated,
                       self.deleted + other.deleted)

    def to_json(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "deleted": self.deleted}


@dataclass(frozen=True)
class Diff:
    """What takes the kernel from one blueprint to another, each list in creation order
    (:data:`KINDS`, then key)."""

    create: tuple[KernelObject, ...]
    update: tuple[tuple[KernelObject, KernelObject], ...]
    delete: tuple[KernelObject, ...]

    @property
    def changes(self) -> Changes:
        return Changes(len(self.create), len(self.update), len(self.delete))

    def touched(self) -> set[str]:
        """Every namespace this diff changes something in."""
        found = {ns for o in (*self.create, *self.delete) for ns in o.namespaces}
        return found | {ns for _, new in self.update for ns in new.namespaces}

    def deleted_namespaces(self) -> set[str]:
        return {o.name for o in self.delete if isinstance(o, Namespace)}


def _order(o: KernelObject) -> tuple[int, str]:
    return KINDS.index(type(o)), o.key


def diff(old: Blueprint, new: Blueprint) -> Diff:
    """What to create, update (same key, other value) and delete to go from ``old`` to
    ``new``."""
    create = [o for k, o in new.objects.items() if k not in old.objects]
    delete = [o for k, o in old.objects.items() if k not in new.objects]
    update = [(old.objects[k], o) for k, o in new.objects.items()
              if k in old.objects and old.objects[k] != o]
    return Diff(tuple(sorted(create, key=_order)),
                tuple(sorted(update, key=lambda pair: _order(pair[1]))),
                tuple(sorted(delete, key=_order)))


def blueprint(layout: Layout) -> Blueprint:
    """The kernel objects of ``layout`` (see :mod:`sdn.dataplane.layout` for the picture)."""
    return Blueprint.of(_objects(layout))


def _objects(layout: Layout) -> Iterator[KernelObject]:
    for name in layout.namespaces:
        yield Namespace(name)
    bridged = {b.netns for b in layout.bridges.values()}
    for router in layout.routers.values():
        if router.kind != "isolated":
            yield Sysctl(router.netns, IP_FORWARD, "1")
        if router.netns in bridged:
            yield Sysctl(router.netns, BRIDGE_NF, "1")
        yield Sysctl(router.netns, ICMP_RATEMASK, "0")
    out = layout.outside
    yield Sysctl(out.netns, IP_FORWARD, "1")  # the Tier-0s' upstream router
    yield Sysctl(out.netns, ICMP_RATEMASK, "0")
    yield Bridge(out.netns, out.bridge, _mac_of(out.netns))
    yield from (Address(out.netns, out.bridge, str(a)) for a in out.addresses)
    for bridge in layout.bridges.values():
        yield Bridge(bridge.netns, bridge.name, bridge.mac)
        yield from (Address(bridge.netns, bridge.name, str(a)) for a in bridge.addresses)
    for port in layout.ports.values():
        yield Veth(port.netns, port.interface, port.host_netns, port.host_interface,
                   mac=port.mac, peer_master=port.bridge, peer_up=port.up)
        yield Address(port.netns, port.interface, str(port.ip))
        if port.gateway is not None:
            yield Route(port.netns, "0.0.0.0/0", str(port.gateway), POD_INTERFACE)
    for link in layout.links:
        yield Veth(link.a_netns, link.a_interface, link.b_netns, link.b_interface,
                   peer_master=link.b_bridge)
        yield Address(link.a_netns, link.a_interface, str(link.a_address))
        if link.b_address is not None:
            yield Address(link.b_netns, link.b_interface, str(link.b_address))
    connected = _connected(layout)
    for route in layout.routes:
        dev = next((i for i, a in connected.get(route.netns, ()) if route.via in a.network),
                   None)
        if dev is not None:  # a next hop on no connected network: the kernel refuses it
            yield Route(route.netns, str(route.prefix), str(route.via), dev)


def _connected(layout: Layout) -> dict[str, list[tuple[str, IPv4Interface]]]:
    """Per router namespace, its interfaces' addresses (where a next hop is reached)."""
    found: dict[str, list[tuple[str, IPv4Interface]]] = {}
    for b in layout.bridges.values():
        found.setdefault(b.netns, []).extend((b.name, a) for a in b.addresses)
    for link in layout.links:
        found.setdefault(link.a_netns, []).append((link.a_interface, link.a_address))
        if link.b_address is not None:
            found.setdefault(link.b_netns, []).append((link.b_interface, link.b_address))
    out = layout.outside
    found.setdefault(out.netns, []).extend((out.bridge, a) for a in out.addresses)
    return found


def _mac_of(name: str) -> str:
    """A fixed, locally administered MAC for a bridge of ours that NSX gives none."""
    digest = hashlib.sha1(name.encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


def neighbours(layout: Layout) -> int:
    """How many ARP entries the realization may hold at once when every pod talks to
    every other (each pod learns its segment's pods and gateway, each bridge's router its
    ports), the figure the host-global ARP limit must admit (spike section 6)."""
    per_bridge = Counter((p.host_netns, p.bridge) for p in layout.ports.values())
    links = len(layout.links)
    return sum(n * n + n for n in per_bridge.values()) + 4 * links + 8
