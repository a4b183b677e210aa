"""What questions read from a firewall, whichever form it is held in.

Why a protocol: a question about one flow needs the two endpoints, the few rules enforced
at them and whether each endpoint belongs to each group those rules name. A freshly
compiled :class:`~sdn.policy.compiler.CompiledDfw` answers that from memory; the query
index (:mod:`sdn.query`) answers it from records it fetches one by one, so a traceflow at
100,000 pods loads two endpoints and a handful of rules instead of the whole firewall.
The evaluator, ``reach``, the traceflow walk and the CLI are typed with :class:`Firewall`
and so cannot tell the two apart.

A stored rule names its groups as :class:`SetRef`\\ s: the number of the group's member
set (:attr:`~sdn.policy.compiler.CompiledDfw.classes` numbers them) plus the group's
address terms for outside addresses. An endpoint read from the index carries the numbers
of the member sets it belongs to (:attr:`~sdn.policy.compiler.Endpoint.classes`), so
"is this endpoint in that group" needs no member set at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Protocol

from sdn.policy.compiler import Endpoint, Service, Term, outside_match


class MemberSet(Protocol):
    """A group as a rule evaluates it."""

    @property
    def path(self) -> str: ...

    @property
    def outside_terms(self) -> tuple[Term, ...]:
        """The CIDR terms that match addresses of no port (the data plane puts them in
        its address sets)."""
        ...

    def contains(self, ep: Endpoint) -> bool:
        """Whether the endpoint is a member."""
        ...


class FirewallRule(Protocol):
    """A rule as evaluation and the answers read it (:class:`~sdn.policy.compiler.
    CompiledRule`, or :class:`StoredRule` from the index)."""

    @property
    def order(self) -> int: ...
    @property
    def category(self) -> str: ...
    @property
    def policy_path(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def rule_id(self) -> int: ...
    @property
    def action(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def sources(self) -> Sequence[MemberSet] | None: ...
    @property
    def destinations(self) -> Sequence[MemberSet] | None: ...
    @property
    def sources_excluded(self) -> bool: ...
    @property
    def destinations_excluded(self) -> bool: ...
    @property
    def services(self) -> tuple[Service, ...] | None: ...
    @property
    def disabled(self) -> bool: ...


class Firewall(Protocol):
    """What questions read from a firewall (see the module's doc)."""

    @property
    def default_action(self) -> str: ...
    @property
    def application_start(self) -> int: ...
    @property
    def endpoint_count(self) -> int: ...

    def endpoint(self, index: int) -> Endpoint:
        """The endpoint with this index."""
        ...

    def endpoint_for_ip(self, ip: IPv4Address) -> Endpoint:
        """The port endpoint owning ``ip``, else an outside endpoint."""
        ...

    def endpoints_of(self, paths: Iterable[str]) -> dict[str, Endpoint]:
        """The endpoints of those port paths that have one, by path."""
        ...

    def candidates(self, index: int, direction: str) -> Sequence[FirewallRule]:
        """The rules enforced at one endpoint in one direction, in evaluation order."""
        ...

    def classes_of(self, index: int) -> frozenset[int]:
        """The numbers of the member sets the endpoint belongs to: two endpoints with
        equal ones are indistinguishable to every rule."""
        ...


@dataclass(frozen=True)
class SetRef:
    """A group named by a stored rule: its member set's number and its outside terms."""

    path: str
    number: int
    outside_terms: tuple[Term, ...] = ()

    def contains(self, ep: Endpoint) -> bool:
        """Whether the endpoint is a member: for a port, whether its member sets
        include this one (an endpoint read without them cannot be answered for)."""
        if ep.index is None:
            return outside_match(self.outside_terms, ep.ip)
        if ep.classes is None:
            raise ValueError(f"endpoint {ep.path} was read without its member sets")
        return self.number in ep.classes


@dataclass(frozen=True)
class StoredRule:
    """A rule as the index stores it: a :class:`~sdn.policy.compiler.CompiledRule`
    whose groups are :class:`SetRef`\\ s and without its applied-to set (the endpoints'
    records list the rules applied at them)."""

    order: int
    category: str
    policy_path: str
    path: str
    rule_id: int
    action: str
    direction: str
    sources: tuple[SetRef, ...] | None
    destinations: tuple[SetRef, ...] | None
    sources_excluded: bool
    destinations_excluded: bool
    services: tuple[Service, ...] | None
    disabled: bool
