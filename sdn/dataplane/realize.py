"""``sdn realize``: make this host's kernel match a state, applying only differences,
and ``sdn realize --teardown``.

A realize goes state -> :class:`~sdn.dataplane.layout.Layout` -> :class:`~sdn.dataplane.
plan.Blueprint` (and the nftables rulesets of :mod:`sdn.dataplane.nftgen`) -> diff against
what the record says the last realize applied (its private part; the kernel is never
listed to find differences) -> kernel -> record saved. A second realize of an unchanged
state finds nothing to do.

A failure halfway is finished on the next run, not rolled back: before it changes
anything, a realize saves the record with the blueprint as it was and every namespace it
is about to touch named ``dirty``, and only a realize that ends well clears that; so
after a failed command, an exception or a killed process, the next realize removes those
namespaces and makes them again whole (a namespace is the unit the kernel
can remove at once, and rebuilding one costs a few milliseconds). A realize that finds no
record but namespaces of its owner (a crash before the first record) rebuilds them too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sdn.dataplane import kernel, nftgen, record
from sdn.dataplane.kernel import Progress
from sdn.dataplane.layout import Layout, netns_prefix, owner_tag
from sdn.dataplane.nftgen import Ruleset
from sdn.dataplane.plan import Blueprint, Changes, Diff, Veth, blueprint, diff, neighbours
from sdn.dataplane.record import Realized
from sdn.model import Inventory
from sdn.policy.firewall import Firewall


@dataclass(frozen=True)
class Outcome:
    """What a realize made (its record) and how much it changed."""

    realized: Realized
    changes: Changes

    def to_json(self) -> dict[str, Any]:
        """``sdn realize -o json`` (DESIGN.md, "Data plane")."""
        public = self.realized.public()
        return {"revision": public.pop("revision"), "changes": self.changes.to_json(),
                **public}


@dataclass(frozen=True)
class Applied:
    """The private part of a record: what the kernel holds, per the last realize."""

    blueprint: Blueprint
    nft: dict[str, Ruleset]
    dirty: frozenset[str]
    arp: dict[str, Any] | None

    @classmethod
    def of(cls, found: Realized | None, prefix: str) -> Applied:
        """From a record; without one (or with a private part that does not parse),
        every namespace of the owner that exists is dirty (a crash before the record)."""
        try:
            if found is not None:
                p = found.private
                return cls(Blueprint.from_json(p.get("blueprint", [])),
                           {ns: nftgen.Ruleset.from_json(r) for ns, r in p.get("nft", {}).items()},
                           frozenset(p.get("dirty", [])), p.get("arp"))
        except (KeyError, TypeError, ValueError, AttributeError):
            pass
        return cls(Blueprint(), {}, frozenset(kernel.owned_namespaces(prefix)), None)

    def to_json(self) -> dict[str, Any]:
        return {"blueprint": self.blueprint.to_json(),
                "nft": {ns: r.to_json() for ns, r in sorted(self.nft.items())},
                "dirty": sorted(self.dirty), "arp": self.arp}


def select(layout: Layout, namespaces: Collection[str]) -> Layout:
    """Only the ports of these Kubernetes namespaces (``--namespace``); the gateways and
    segments stay."""
    if not namespaces:
        return layout
    return dataclasses.replace(layout, ports={
        path: p for path, p in layout.ports.items() if p.pod.split("/")[0] in namespaces})


#: What a realize reads of the state, called once the host passed the preflight: the
#: inventory, its revision and its firewall.
Loader = Callable[[], tuple[Inventory, int, Firewall]]


def realize(state: str, load: Loader, *, clusters: frozenset[str] | None = None,
            namespaces: Collection[str] = (),
            progress: Progress = lambda _msg: None) -> Outcome:
    """Realize the state ``state`` (what ``load`` reads of it) on this host; see the
    module docs. The host is checked before the state is read.

    Raises:
        DataplaneError: the host cannot (preflight, nothing made) or a kernel command
            failed (the record then names what the next realize rebuilds).
    """
    tag = owner_tag(state)
    prefix = netns_prefix(tag)
    kernel.preflight(prefix)
    inv, revision, firewall = load()
    layout = select(Layout.of(inv, tag, clusters=clusters), namespaces)
    wanted = blueprint(layout)
    wanted_nft = nftgen.rulesets(inv, layout, firewall)
    found = record.load(tag)
    applied = Applied.of(found, prefix)
    old, old_nft = applied.blueprint, applied.nft
    if applied.dirty:
        old = kernel.reset(old, set(applied.dirty), progress)
        old_nft = {ns: r for ns, r in old_nft.items() if ns not in applied.dirty}
    d = diff(old, wanted)
    arp = kernel.raise_arp_limit(neighbours(layout), applied.arp)
    scripts = _scripts(old_nft, wanted_nft, set(layout.namespaces))
    touched = d.touched() | {ns for ns, script in scripts.items() if script}
    if touched:  # said before it starts: a run killed halfway is rebuilt by the next
        kept = found or Realized.of(dataclasses.replace(layout, ports={}, routers={}),
                                    state, revision)
        pending = Applied(old, old_nft, frozenset(touched), arp)
        record.save(tag, dataclasses.replace(kept, private=pending.to_json()))
    kernel.apply(d, progress)
    kernel.apply_nft(scripts, progress)
    kernel.settle(_bridged(d))  # traffic sent right after this returns gets through
    changes = d.changes + _nft_changes(old_nft, wanted_nft)
    if found is not None and not touched and not applied.dirty and arp == applied.arp \
            and changes == Changes():  # what the record says is what was applied
        same = Realized.of(layout, state, revision, found.private)
        if same == found:
            return Outcome(found, changes)
    realized = Realized.of(layout, state, revision,
                           Applied(wanted, wanted_nft, frozenset(), arp).to_json())
    record.save(tag, realized)
    return Outcome(realized, changes)


def _bridged(d: Diff) -> set[str]:
    """The namespaces where a bridge port was made or changed (the ones to wait for)."""
    changed = [*d.create, *(new for _, new in d.update)]
    return {o.peer_netns for o in changed if isinstance(o, Veth) and o.peer_master}


def _scripts(old: Mapping[str, Ruleset], new: Mapping[str, Ruleset],
             existing: set[str]) -> dict[str, str]:
    """Per namespace that exists after the realize, its nftables transaction ("" none)."""
    return {ns: nftgen.transaction(old.get(ns), new.get(ns))
            for ns in sorted(set(old) | set(new)) if ns in existing}


def _nft_changes(old: Mapping[str, Ruleset], new: Mapping[str, Ruleset]) -> Changes:
    """nftables chains and elements changed, as :func:`nftgen.count` counts them: in a
    namespace that had none, created; in one that has none left, deleted."""
    created = updated = deleted = 0
    for ns in set(old) | set(new):
        n = nftgen.count(old.get(ns), new.get(ns))
        if ns not in old:
            created += n
        elif ns not in new:
            deleted += n
        else:
            updated += n
    return Changes(created, updated, deleted)


def teardown(state: str, progress: Progress = lambda _msg: None) -> int:
    """Remove every namespace of the owner of ``state`` (found by name: this works
    without a record, after a crash), wait until the kernel has freed them, put back the
    ARP limits, forget the record. Returns how many namespaces were removed; safe twice."""
    tag = owner_tag(state)
    prefix = netns_prefix(tag)
    kernel.preflight(prefix, nft=False)
    names = kernel.owned_namespaces(prefix)
    if names:
        progress(f"removing {len(names)} namespaces")
    kernel.delete_namespaces(names, f"{prefix}freed")
    found = record.load(tag)
    if found is not None:
        kernel.restore_arp_limit(found.private.get("arp"))
    record.forget(tag)
    return len(names)
