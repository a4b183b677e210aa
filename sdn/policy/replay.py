"""Recorded flows against a firewall: which would pass, which would be dropped, by what.

Every flow is decided as :func:`~sdn.policy.evaluator.evaluate_flow`, the function
``sdn explain`` runs, decides it: :func:`~sdn.policy.evaluator.decide` at the source's
egress and at the destination's ingress, so replaying a flow and explaining it never
disagree. What makes 100,000 flows cheap is that most of them repeat a question: two
pods whose member-set numbers are equal (:meth:`~sdn.policy.firewall.Firewall.
classes_of`) are indistinguishable to every rule, as source, destination and enforcement
point (the reasoning of :mod:`sdn.policy.reach`). So flows are grouped by (source class,
destination class, protocol, port) and each group is evaluated once, with one flow of it
standing for all, and the rules enforced at a class are read once per direction. An
address that is not a port's has no class: it is its own key.

Endpoints are matched as ``explain`` matches them: the destination is the port owning the
address (any port with an address: a pod's, a node's), the source only when that port is
a pod's (``explain`` takes any other address as an outside client). A flow to a virtual
server's address (a cluster IP, a load balancer VIP: ``elsewhere``) is handed to
``judge_elsewhere``: the caller judges it as ``explain`` does, through the load balancer
(:mod:`sdn.traceflow.verdicts`); those flows are grouped by their addresses, protocol and
port.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address

from sdn.policy.compiler import PROTOCOL_NUMBERS, Endpoint
from sdn.policy.evaluator import Decision, FlowVerdict, candidates, decide
from sdn.policy.firewall import Firewall, FirewallRule
from sdn.policy.flows import Flow


@dataclass(frozen=True)
class Replayed:
    """The firewall's answer for one flow.

    ``disposition`` is ``ALLOWED``, ``DROPPED``, or (through a load balancer whose
    backends disagree) ``MIXED``; ``deciding`` is the decision that dropped it (egress
    first), else the last that allowed it (None: no port enforced anything, or the load
    balancer dropped it: ``lb_drop`` says why)."""

    disposition: str
    deciding: Decision | None
    lb_drop: str | None = None

    @property
    def allowed(self) -> bool:
        """Whether the flow would pass."""
        return self.disposition == "ALLOWED"


#: A class of flows: a port's member sets (or an address of no port), the same for the
#: destination, the protocol and the port.
_Key = tuple[frozenset[int] | str, frozenset[int] | str, str, int | None]


class Replayer:
    """Decides flows against one firewall, each class of flows once (module doc).

    ``pods``: the paths of pod ports (a source at another port is an outside client, as
    ``explain`` has it); ``elsewhere``: the addresses whose flows ``judge_elsewhere``
    answers (the virtual servers', as text)."""

    def __init__(self, dfw: Firewall, pods: Collection[str], *,
                 elsewhere: Collection[str],
                 judge_elsewhere: Callable[[Flow], Replayed]) -> None:
        self.dfw = dfw
        self.pods = pods
        self.elsewhere = elsewhere
        self.judge_elsewhere = judge_elsewhere
        self._sides: tuple[dict[str, tuple[Endpoint, frozenset[int] | str]], ...] = ({}, {})
        self._ports: dict[str, Endpoint] = {}
        self._classes: dict[int, frozenset[int]] = {}
        self._rules: dict[tuple[frozenset[int], str], Sequence[FirewallRule]] = {}
        self._answers: dict[_Key, Replayed] = {}
        self._judged: dict[tuple[str, str, str, int | None], Replayed] = {}
        #: How many distinct questions the flows asked (each evaluated once).
        self.evaluated = 0

    def side(self, ip: str, *, source: bool) -> tuple[Endpoint, frozenset[int] | str]:
        """The endpoint of an address as ``explain`` takes it (module doc), and its class
        (the address itself for an endpoint of no port)."""
        sides = self._sides[source]
        found = sides.get(ip)
        if found is None:
            ep = self._ports.get(ip)
            if ep is None:
                ep = self._ports[ip] = self.dfw.endpoint_for_ip(IPv4Address(ip))
            if source and ep.index is not None and ep.path not in self.pods:
                ep = Endpoint(ip=ep.ip)
            found = sides[ip] = (ep, ip if ep.index is None else self._class(ep, ep.index))
        return found

    def _class(self, ep: Endpoint, index: int) -> frozenset[int]:
        """The endpoint's member sets: carried by one read from the index, else asked."""
        found = self._classes.get(index)
        if found is None:
            found = self._classes[index] = ep.classes if ep.classes is not None \
                else self.dfw.classes_of(index)
        return found

    def _decide(self, ep: Endpoint, cls: frozenset[int], direction: str, *, src: Endpoint,
                dst: Endpoint, flow: Flow) -> Decision:
        """The decision at ``ep`` (of class ``cls``), as ``evaluate_flow`` takes it."""
        rules = self._rules.get((cls, direction))
        if rules is None:
            assert ep.index is not None
            rules = self._rules[(cls, direction)] = candidates(self.dfw, ep.index, direction)
        return decide(self.dfw, rules, point="egress" if direction == "OUT" else "ingress",
                      at=ep, src=src, dst=dst, proto=PROTOCOL_NUMBERS[flow.protocol],
                      dport=flow.port, sport=None, direction=direction)

    def replay(self, flow: Flow) -> Replayed:
        """The answer for one flow."""
        if flow.dst in self.elsewhere:
            key4 = (flow.src, flow.dst, flow.protocol, flow.port)
            answer = self._judged.get(key4)
            if answer is None:
                self.evaluated += 1
                answer = self._judged[key4] = self.judge_elsewhere(flow)
            return answer
        src, src_class = self.side(flow.src, source=True)
        dst, dst_class = self.side(flow.dst, source=False)
        key = (src_class, dst_class, flow.protocol, flow.port)
        found = self._answers.get(key)
        if found is None:
            self.evaluated += 1
            egress = ingress = None
            if isinstance(src_class, frozenset):
                egress = self._decide(src, src_class, "OUT", src=src, dst=dst, flow=flow)
            if isinstance(dst_class, frozenset):
                ingress = self._decide(dst, dst_class, "IN", src=src, dst=dst, flow=flow)
            verdict = FlowVerdict(src, dst, flow.protocol, flow.port, egress, ingress)
            found = self._answers[key] = Replayed(
                "ALLOWED" if verdict.allowed else "DROPPED", verdict.deciding)
        return found

    def replay_all(self, flows: Iterable[Flow]) -> list[Replayed]:
        """The answers for many flows, in their order."""
        return [self.replay(f) for f in flows]
