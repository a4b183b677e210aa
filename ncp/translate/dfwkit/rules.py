"""Groups, rules and security policies, as every policy translator writes them.

Rules are drafted (:class:`RuleDraft`) and placed in their policy by :func:`build_policy`,
which numbers them 10, 20, ... in the order drafted (first match wins within a policy),
applies each to the policy's scope (NSX rejects a rule whose source, destination and
applied-to are all ANY, and an explicit scope keeps ``sdn explain`` honest about where a rule
is enforced), and gives a rule with service entries ``services: []`` (NSX ORs ``services``
with ``service_entries``, and ``["ANY"]`` would let everything through).

A rule's ``rule_id`` is content-derived (:func:`content_rule_id`), not NSX's global counter:
it must be stable across runs for traceflow and explain output to be reproducible.

Named ports are resolved by :func:`expand_rule` as NCP resolves them: against the container
ports of the pods that receive the traffic, one rule per distinct (protocol, number), whose
destination is a group of exactly the pods whose port has that number. The result is exact
for the pods given; it is a snapshot that the caller recomputes when pods change.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ncp.translate.dfwkit.errors import PolicyInputError
from ncp.translate.dfwkit.ports import PortSpec
from ncp.translate.policyinputs import PodInfo
from sdn.model import (
    ANY,
    Group,
    L4PortSetServiceEntry,
    PathExpression,
    Rule,
    SecurityPolicy,
    Tag,
    group_path,
    rule_path,
    security_policy_path,
)
from sdn.model.dfw import DOMAIN, Category, Expression

__all__ = [
    "MAX_ID",
    "SIDES",
    "RuleDraft",
    "Side",
    "build_policy",
    "content_rule_id",
    "expand_rule",
    "make_group",
]

#: The longest NSX id; a longer one is ``NAME_TOO_LONG``.
MAX_ID = 255


@dataclass(frozen=True)
class Side:
    """One direction of a Kubernetes policy's rules, by the names every policy kind uses.

    Attributes:
        key: The spec's list of rules (``ingress``, ``egress``), and the stem of rule ids.
        peers_key: A rule's list of peers (``from``, ``to``).
        short: The infix of the ids of a rule's groups (``in``, ``eg``).
        direction: The NSX rule direction (``IN``, ``OUT``).
    """

    key: str
    peers_key: str
    short: str
    direction: str

    @property
    def policy_type(self) -> str:
        """NetworkPolicy's name for the direction in ``spec.policyTypes``."""
        return self.key.capitalize()


#: Ingress, then egress: the order rules are drafted in.
SIDES = (Side("ingress", "from", "in", "IN"), Side("egress", "to", "eg", "OUT"))


def content_rule_id(path: str) -> int:
    """A stable positive rule number derived from the rule's path.

    NSX numbers rules from a global counter; here the number must not depend on creation
    order, so it is ``crc32(path)`` masked to 31 bits (never 0).
    """
    return (zlib.crc32(path.encode()) & 0x7FFFFFFF) or 1


def _check_id(object_id: str) -> str:
    if len(object_id) > MAX_ID:
        raise PolicyInputError(
            "NAME_TOO_LONG",
            f"NSX id {object_id[:40]}... would be {len(object_id)} characters; NSX allows "
            f"{MAX_ID}")
    return object_id


def make_group(group_id: str, expression: Sequence[Expression], tags: Sequence[Tag]) -> Group:
    """A group in the default domain (display name = id, as NSX defaults it)."""
    _check_id(group_id)
    return Group(id=group_id, display_name=group_id, path=group_path(group_id),
                 parent_path=DOMAIN, expression=tuple(expression), tags=tuple(tags))


@dataclass(frozen=True)
class RuleDraft:
    """A rule before it has its place in a policy (sequence number, path, rule_id)."""

    id: str
    display_name: str
    sources: tuple[str, ...]
    destinations: tuple[str, ...]
    entries: tuple[L4PortSetServiceEntry, ...]
    action: str
    direction: str


def build_policy(*, policy_id: str, category: Category, sequence_number: int,
                 scope: tuple[str, ...], drafts: Sequence[RuleDraft],
                 tags: Sequence[Tag]) -> SecurityPolicy:
    """A security policy whose rules are the drafts in order (sequence 10, 20, ...).

    Every rule gets ``scope`` as its own applied-to, and ``services: []`` when it has service
    entries (``["ANY"]`` otherwise).
    """
    _check_id(policy_id)
    policy_path = security_policy_path(policy_id)
    rules = []
    for position, draft in enumerate(drafts, start=1):
        _check_id(draft.id)
        path = rule_path(policy_id, draft.id)
        rules.append(Rule(
            id=draft.id, display_name=draft.display_name, path=path, parent_path=policy_path,
            sequence_number=10 * position, rule_id=content_rule_id(path),
            source_groups=draft.sources, destination_groups=draft.destinations,
            services=() if draft.entries else (ANY,), service_entries=draft.entries,
            scope=scope, action=draft.action, direction=draft.direction,
            tags=tuple(tags),
        ))
    return SecurityPolicy(id=policy_id, display_name=policy_id, path=policy_path,
                          parent_path=DOMAIN, category=category,
                          sequence_number=sequence_number, scope=scope, rules=tuple(rules),
                          tags=tuple(tags))


def expand_rule(*, rule_id: str, display_name: str, action: str, direction: str,
                sources: tuple[str, ...], destinations: tuple[str, ...],
                ports: Sequence[PortSpec], destination_pods: Callable[[], Sequence[PodInfo]],
                port_group_prefix: str, tags: Sequence[Tag],
                ) -> tuple[list[RuleDraft], list[Group]]:
    """One policy rule's NSX rules: numbered ports in one rule, named ports resolved.

    Args:
        rule_id: Id of the rule for the numbered ports (``ingress-0``).
        display_name: Its display name.
        action: NSX action.
        direction: ``IN`` or ``OUT``.
        sources: Source group paths (or ``("ANY",)``).
        destinations: Destination group paths (or ``("ANY",)``).
        ports: The rule's ports; empty for every port and protocol.
        destination_pods: The pods that can receive the traffic (called only when a port
            is named).
        port_group_prefix: Prefix of the groups made for resolved named ports.
        tags: Tags of the groups made.

    Returns:
        The rule drafts (the numbered-port rule first, when there is one, then one per
        resolved (protocol, number) in number order) and the groups they need. A resolved
        rule's id is suffixed ``-<number>`` (``-<number>-<protocol>`` when one number
        resolves under two protocols).
    """
    numbered = list(dict.fromkeys(p.entry() for p in ports if not p.name))
    named = [p for p in ports if p.name]
    drafts: list[RuleDraft] = []
    groups: list[Group] = []
    if not ports or numbered:
        drafts.append(RuleDraft(rule_id, display_name, sources, destinations, tuple(numbered),
                                action, direction))
    if not named:
        return drafts, groups
    resolved = _resolve_named_ports(named, destination_pods())
    clashes = Counter(number for _, number in resolved)
    for protocol, number in sorted(resolved, key=lambda key: (key[1], key[0])):
        suffix = str(number) if clashes[number] == 1 else f"{number}-{protocol.lower()}"
        group = make_group(f"{port_group_prefix}_port{suffix}",
                           (PathExpression(paths=tuple(sorted(resolved[(protocol, number)]))),),
                           tags)
        groups.append(group)
        entry = PortSpec(protocol, number).entry()
        drafts.append(RuleDraft(f"{rule_id}-{suffix}", f"{display_name}-{suffix}", sources,
                                (group.path,), (entry,), action, direction))
    return drafts, groups


def _resolve_named_ports(named: Sequence[PortSpec],
                         pods: Sequence[PodInfo]) -> dict[tuple[str, int], set[str]]:
    """The port paths of the pods per (protocol, number) that one of the named ports names
    (a name of protocol ``""`` matches a container port of any protocol)."""
    wanted = {(spec.name, spec.protocol) for spec in named}
    any_protocol = {name for name, protocol in wanted if protocol == ""}
    resolved: dict[tuple[str, int], set[str]] = {}
    for pod in pods:
        for port_name, protocol, number in pod.container_ports:
            if port_name in any_protocol or (port_name, protocol) in wanted:
                resolved.setdefault((protocol, number), set()).add(pod.port_path)
    return resolved
