"""Recorded flows against a firewall: which would pass, which would be dropped, by what.

Every flow is decided by :func:`~sdn.policy.evaluator.evaluate_flow`, the function
``sdn explain`` runs, so replaying a flow and explaining it never disagree. What makes
100,000 flows cheap is that most of them repeat a question: two pods whose member-set
numbers are equal (:meth:`~sdn.policy.firewall.Firewall.classes_of`) are
indistinguishable to every rule, as source, destination and enforcement point (the
reasoning of :mod:`sdn.policy.reach`). So flows are grouped by (source class,
destination class, protocol, port) and each group is evaluated once, with one flow of it
standing for all. An address that is not a pod's has no class: it is its own key.

Endpoints are matched as ``explain`` matches them: the destination is the port owning the
address (any port with an address: a pod's, a node's), the source only when that port is
a pod's (``explain`` takes any other address as an outside client). A flow whose
destination is no port (an outside address, a cluster IP, a load balancer VIP) is handed
to ``judge_elsewhere``: the caller judges it as ``explain`` does, through the load
balancer when the address is a virtual server's (:mod:`sdn.traceflow.verdicts`); those
flows are grouped by their addresses, protocol and port.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address

from sdn.policy.compiler import Endpoint
from sdn.policy.evaluator import Decision, evaluate_flow
from sdn.policy.firewall import Firewall
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


#: A class of flows: a pod's member sets (or an outside address), the same for the
#: destination, the protocol and the port.
_Key = tuple[frozenset[int] | IPv4Address, frozenset[int] | IPv4Address, str, int | None]


class Replayer:
    """Decides flows against one firewall, each class of flows once (module doc).

    ``pods``: the paths of pod ports (a source at another port is an outside client, as
    ``explain`` has it); ``judge_elsewhere``: the answer for a flow whose destination is
    no port."""

    def __init__(self, dfw: Firewall, pods: Collection[str],
                 judge_elsewhere: Callable[[Flow], Replayed]) -> None:
        self.dfw = dfw
        self.pods = pods
        self.judge_elsewhere = judge_elsewhere
        self._endpoints: dict[IPv4Address, Endpoint] = {}
        self._classes: dict[int, frozenset[int]] = {}
        self._answers: dict[_Key, Replayed] = {}
        self._elsewhere: dict[tuple[IPv4Address, IPv4Address, str, int | None],
                              Replayed] = {}
        #: How many flows were evaluated, and how many distinct questions they asked.
        self.evaluated = 0

    def endpoint(self, ip: IPv4Address, *, source: bool) -> Endpoint:
        """The endpoint of an address, as ``explain`` takes it (module doc)."""
        found = self._endpoints.get(ip)
        if found is None:
            found = self._endpoints[ip] = self.dfw.endpoint_for_ip(ip)
        if source and found.index is not None and found.path not in self.pods:
            return Endpoint(ip=ip)
        return found

    def _class(self, ep: Endpoint) -> frozenset[int] | IPv4Address:
        if ep.index is None:
            return ep.ip
        found = self._classes.get(ep.index)
        if found is None:
            found = self._classes[ep.index] = self.dfw.classes_of(ep.index)
        return found

    def replay(self, flow: Flow) -> Replayed:
        """The answer for one flow."""
        src = self.endpoint(flow.src, source=True)
        dst = self.endpoint(flow.dst, source=False)
        if dst.index is None:
            key4 = (flow.src, flow.dst, flow.protocol, flow.port)
            answer = self._elsewhere.get(key4)
            if answer is None:
                self.evaluated += 1
                answer = self._elsewhere[key4] = self.judge_elsewhere(flow)
            return answer
        key = (self._class(src), self._class(dst), flow.protocol, flow.port)
        found = self._answers.get(key)
        if found is None:
            self.evaluated += 1
            verdict = evaluate_flow(self.dfw, src, dst, protocol=flow.protocol,
                                    port=flow.port)
            found = self._answers[key] = Replayed(
                "ALLOWED" if verdict.allowed else "DROPPED", verdict.deciding)
        return found

    def replay_all(self, flows: Iterable[Flow]) -> list[Replayed]:
        """The answers for many flows, in their order."""
        return [self.replay(f) for f in flows]
