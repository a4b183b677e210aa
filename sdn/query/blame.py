"""``sdn blame``: the kept write that last flipped one flow (allowed <-> dropped).

Why not compile every revision: at 10,000 pods a whole firewall takes a good part of a
second to parse and compile, and a hundred revisions would take a minute. A flow's
verdict reads only the rules enforced at its two ports (egress at the source, ingress at
the destination), so this walks back from the current revision keeping:

* the *relevant* policies: those with a rule enforced at either port in the direction
  that port decides (the current ones read from the current compiled firewall);
* per revision, what the write changed (:mod:`sdn.store.history`). A write that touched
  no policy, group or service and neither port nor its segment cannot change the verdict
  and is passed over without evaluating anything. Otherwise the policies it can have
  changed (the changed ones, and those naming a changed group or service, through
  nested groups) are judged again on the state before it, and the flow is evaluated on a
  small inventory: the two ports, their segments, the relevant policies and the groups
  and services they name, compiled as :func:`~sdn.policy.compiler.compile_dfw` compiles
  the whole (same first-match semantics; rules enforced elsewhere are no candidates at
  these ports, so leaving them out changes nothing);
* a write that changed either port or its segment (labels, address) may change which
  policies apply there: the relevant set is then recomputed over every policy (the slow
  path, a whole compile of the state before it).

The walk stops at the first revision (newest first) where the verdict before differs from
the verdict after: that write flipped it. It also stops where either pod did not exist
before a write (the flow began there, it did not flip) and at the oldest kept revision:
both end in ``HISTORY_NEVER_FLIPPED``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sdn.errors import NotFoundError
from sdn.model import Group, Inventory, PolicyResource, SecurityPolicy, SegmentPort
from sdn.model.dfw import ANY
from sdn.policy.compiler import CompiledDfw, compile_dfw
from sdn.policy.evaluator import FlowVerdict, evaluate_flow
from sdn.policy.firewall import Firewall
from sdn.store import Store, history
from sdn.store.codec import StoredObject, decode
from sdn.store.history import Changes, Overlay, Revision

NEVER = "HISTORY_NEVER_FLIPPED"
#: The kinds whose change can change a flow's verdict (with the flow's own ports).
POLICY_KINDS = frozenset({"SecurityPolicy", "Group", "Service"})
_ENDPOINT_KINDS = frozenset({"SegmentPort", "Segment"})
_PATH = re.compile(r'"(/infra/[^"]+)"')


@dataclass(frozen=True)
class Flow:
    """The flow asked about: its two pods' port paths (and names), protocol, port."""

    src: str
    dst: str
    protocol: str
    port: int | None
    src_name: str = ""
    dst_name: str = ""


@dataclass(frozen=True)
class ObjectChange:
    """One object a write added, changed or removed."""

    path: str
    kind: str
    change: str  # "added", "changed" or "removed"


@dataclass
class Blame:
    """The write that last flipped the flow, and the verdicts before and after it."""

    revision: Revision
    before: FlowVerdict
    after: FlowVerdict
    changes: list[ObjectChange]
    evaluated: int = 0  # revisions whose verdict was computed (the others were passed over)


@dataclass
class _State:
    """The walk's view of one revision: the overlay from the current state back to it,
    and the policies relevant to the flow there."""

    overlay: Overlay = field(default_factory=Overlay)
    relevant: set[str] = field(default_factory=set)
    parsed: dict[tuple[str, str], PolicyResource] = field(default_factory=dict)


class _Walker:
    def __init__(self, store: Store, flow: Flow, default_action: str) -> None:
        self.store = store
        self.run = store.history()
        self.flow = flow
        self.default_action = default_action
        self.state = _State()

    # --- objects at the walk's revision ----------------------------------------------
    def rows(self, paths: Iterable[str]) -> dict[str, StoredObject | None]:
        return history.rows_with(self.run, self.state.overlay, paths)

    def objects(self, paths: Iterable[str]) -> dict[str, PolicyResource]:
        """The objects at ``paths`` (those that exist), parsed once per text."""
        out: dict[str, PolicyResource] = {}
        for path, row in self.rows(paths).items():
            if row is None:
                continue
            key = (path, row.body)
            if key not in self.state.parsed:
                self.state.parsed[key] = decode(row)
            out[path] = self.state.parsed[key]
        return out

    def closure(self, policies: dict[str, PolicyResource]) -> dict[str, PolicyResource]:
        """The policies with every group and service they name, through nested groups."""
        found: dict[str, PolicyResource] = dict(policies)
        todo = {p for obj in policies.values() for p in _named_paths(obj)}
        while todo:
            fresh = self.objects(todo - set(found))
            found.update(fresh)
            todo = {p for obj in fresh.values() if isinstance(obj, Group)
                    for p in _named_paths(obj)} - set(found)
        return found

    def endpoints(self) -> dict[str, PolicyResource] | None:
        """The two ports and their segments, or None when either port does not exist."""
        ports = self.objects([self.flow.src, self.flow.dst])
        if len(ports) < len({self.flow.src, self.flow.dst}):
            return None
        segs = self.objects({p.parent_path for p in ports.values() if isinstance(p, SegmentPort)})
        return {**ports, **segs}

    # --- judging ------------------------------------------------------------------------
    def compile(self, policies: Iterable[str]) -> tuple[CompiledDfw, FlowVerdict] | None:
        """The flow's verdict on the two ports plus ``policies`` (and what they name)."""
        ends = self.endpoints()
        if ends is None:
            return None
        inv = Inventory([*ends.values(), *self.closure(self.objects(policies)).values()])
        dfw = compile_dfw(inv, default_action=self.default_action)
        found = dfw.endpoints_of([self.flow.src, self.flow.dst])
        verdict = evaluate_flow(dfw, found[self.flow.src], found[self.flow.dst],
                                protocol=self.flow.protocol, port=self.flow.port)
        return dfw, verdict

    def relevant_of(self, policies: Iterable[str]) -> set[str] | None:
        """Which of ``policies`` have a rule enforced at either port (deciding there)."""
        compiled = self.compile(policies)
        if compiled is None:
            return None
        dfw = compiled[0]
        found = dfw.endpoints_of([self.flow.src, self.flow.dst])
        rules = [r for path, direction in ((self.flow.src, "OUT"), (self.flow.dst, "IN"))
                 if (index := found[path].index) is not None
                 for r in dfw.candidates(index, direction)]
        return {r.policy_path for r in rules}

    def verdict(self) -> FlowVerdict | None:
        compiled = self.compile(self.state.relevant)
        return None if compiled is None else compiled[1]

    def referring(self, paths: set[str]) -> set[str]:
        """Policies (at the walk's revision) naming any of ``paths``, directly or through
        groups that do: found in the stored text, then read again here."""
        policies: set[str] = set()
        todo, seen = set(paths), set(paths)
        while todo:
            needles = [f'"{p}"' for p in sorted(todo)]
            hits = self._containing(needles)
            policies |= {p for p, k in hits if k == "SecurityPolicy"}
            todo = {p for p, k in hits if k == "Group"} - seen
            seen |= todo
        return policies

    def _containing(self, needles: list[str]) -> set[tuple[str, str]]:
        """``(path, kind)`` of the policies and groups whose text at the walk's revision
        holds any of ``needles``."""
        overlay = self.state.overlay.objects
        hits: set[tuple[str, str]] = set()
        for needle in needles:
            hits |= {(p, k) for p, k in self.run(
                "SELECT path, resource_type FROM objects WHERE resource_type IN "
                "('SecurityPolicy', 'Group') AND instr(body, ?) > 0", (needle,))
                if p not in overlay}
        for path, row in overlay.items():
            if row is not None and row[0] in ("SecurityPolicy", "Group") and \
                    any(n in row[2] for n in needles):
                hits.add((path, row[0]))
        return hits

    def all_policies(self) -> set[str]:
        now = {p for (p,) in self.run(
            "SELECT path FROM objects WHERE resource_type='SecurityPolicy'", ())}
        for path, row in self.state.overlay.objects.items():
            if row is None:
                now.discard(path)
            elif row[0] == "SecurityPolicy":
                now.add(path)
        return now


def _named_paths(obj: PolicyResource) -> set[str]:
    """The groups and services an object names (any ``/infra/...`` path in its text that
    is not its own or one of its rules')."""
    if isinstance(obj, SecurityPolicy):
        named = {*obj.scope}
        for r in obj.rules:
            named |= {*r.source_groups, *r.destination_groups, *r.scope, *r.services}
        return named - {ANY}
    return {p for p in _PATH.findall(obj.model_dump_json()) if p != obj.path} \
        if isinstance(obj, Group) else set()


def relevant_now(dfw: Firewall, flow: Flow) -> set[str]:
    """The policies with a rule enforced at the flow's ports, in the direction each port
    decides (egress at the source, ingress at the destination), in ``dfw``."""
    found = dfw.endpoints_of([flow.src, flow.dst])
    return {r.policy_path for path, direction in ((flow.src, "OUT"), (flow.dst, "IN"))
            if path in found and (i := found[path].index) is not None
            for r in dfw.candidates(i, direction)}


def blame(store: Store, flow: Flow, current_relevant: set[str], *,
          default_action: str = "ALLOW") -> Blame:
    """The kept write that last flipped ``flow`` (module docstring), starting from the
    policies relevant now (``current_relevant``, from the current firewall).

    Raises:
        NotFoundError: ``HISTORY_NEVER_FLIPPED``.
    """
    walker = _Walker(store, flow, default_action)
    walker.state.relevant = set(current_relevant)
    after = walker.verdict()
    if after is None:
        raise NotFoundError("a pod of the flow does not exist", code=NEVER, obj=flow.src)
    kept = {r.revision: r for r in history.revisions(walker.run)}
    evaluated = 1
    for rev in range(store.revision, 0, -1):
        if rev not in kept:
            break
        changes = history.changes_of(walker.run, rev)
        if {flow.src, flow.dst} & set(changes.created):
            break  # a pod of the flow was created here: the flow began, it did not flip
        touched = _touched(walker, changes, kept[rev])
        walker.state.overlay.undo(changes)
        if not touched:
            continue
        kinds = {c.kind for c in touched.values()}
        if kinds & _ENDPOINT_KINDS:
            relevant = walker.relevant_of(walker.all_policies())
        else:
            affected = {p for p, c in touched.items() if c.kind == "SecurityPolicy"} | \
                walker.referring({p for p, c in touched.items() if c.kind != "SecurityPolicy"})
            judged = walker.relevant_of(affected)
            relevant = None if judged is None else (walker.state.relevant - affected) | judged
        if relevant is None:
            break
        walker.state.relevant = relevant
        before = walker.verdict()
        evaluated += 1
        if before is None:
            break
        if before.allowed != after.allowed:
            return Blame(kept[rev], before, after, list(touched.values()), evaluated)
        after = before
    raise NotFoundError(f"{flow.src_name or flow.src} -> {flow.dst_name or flow.dst} "
                        f"{flow.protocol}/{flow.port or 'any'} did not flip within the kept "
                        "history", code=NEVER, obj=flow.src_name or flow.src)


def _touched(walker: _Walker, changes: Changes, rev: Revision) -> dict[str, ObjectChange]:
    """The objects this write changed that can change the flow's verdict (read at the
    revision the write made, the walk's current one)."""
    if not rev.kinds & (POLICY_KINDS | _ENDPOINT_KINDS):
        return {}
    kinds = {p: k for p, k, _c, _t in changes.before}
    rows = walker.rows([*kinds, *changes.created])
    kinds.update((p, r.resource_type) for p, r in rows.items() if r is not None)
    ends = {walker.flow.src, walker.flow.dst}
    segs = {p.parent_path for p in walker.objects(ends).values() if isinstance(p, SegmentPort)}
    created = set(changes.created)
    return {p: ObjectChange(p, k, "added" if p in created else
                            "changed" if rows.get(p) is not None else "removed")
            for p, k in sorted(kinds.items())
            if k in POLICY_KINDS or (k in _ENDPOINT_KINDS and p in ends | segs)}


def rule_json(verdict: FlowVerdict) -> dict[str, object] | None:
    """The deciding rule of a verdict as blame prints it (None: NSX's default rule)."""
    d = verdict.deciding
    if d is None or d.rule is None:
        return None
    return {"path": d.rule.path, "rule_id": d.rule.rule_id, "action": d.rule.action,
            "point": d.point, "security_policy": d.rule.policy_path,
            "category": d.rule.category}

