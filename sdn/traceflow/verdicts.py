"""The distributed firewall's answer for a flow, along the path traceflow would walk.

``explain`` and ``reach --dst`` ask the DFW, ``traceflow`` walks the packet; both start
from :mod:`sdn.traceflow.targets`, so a flow to a virtual server is judged per backend,
with the translated destination and port, exactly as the walk judges it after the load
balancer. A flow the load balancer cannot place (no pool for the request, or a pool
without members) has no legs and is dropped by the load balancer, not by a rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from sdn.policy import Endpoint, FlowVerdict, evaluate_flow
from sdn.traceflow.l7 import HttpRequest
from sdn.traceflow.targets import Leg, Source, Target, Translation, service_legs
from sdn.traceflow.walk import TraceContext, no_backend_reason


@dataclass(frozen=True)
class LegVerdict:
    """The DFW's decisions for the flow to one backend (or to the target itself)."""

    leg: Leg
    verdict: FlowVerdict


@dataclass(frozen=True)
class Answer:
    """Every leg of one flow, judged."""

    source: Source
    target: Target
    protocol: str
    translation: Translation | None
    legs: tuple[LegVerdict, ...]

    @property
    def allowed(self) -> bool:
        """True when every backend the flow may reach lets it in (and there is one)."""
        return bool(self.legs) and all(lv.verdict.allowed for lv in self.legs)

    @property
    def disposition(self) -> str:
        """``ALLOWED``, ``DROPPED``, or ``MIXED`` when backends disagree."""
        verdicts = {lv.verdict.allowed for lv in self.legs}
        if verdicts == {True}:
            return "ALLOWED"
        return "MIXED" if len(verdicts) > 1 else "DROPPED"

    @property
    def lb_drop(self) -> str | None:
        """Why the load balancer dropped the flow, when it did."""
        if self.translation is None or self.legs:
            return None
        return no_backend_reason(self.translation.choice)


def judge(ctx: TraceContext, source: Source, target: Target, protocol: str, *,
          http: HttpRequest | None = None, explain: bool = False) -> Answer:
    """Decide the flow ``source`` -> ``target`` at the DFW, per backend (module docstring)."""
    src = (ctx.dfw.endpoint_for_ip(source.ip) if source.port is not None
           else Endpoint(ip=source.ip))
    translation = service_legs(ctx, source, target, protocol, http)
    if translation is None:
        name = (target.pod.display_name or target.pod.id) if target.pod is not None \
            else str(target.ip)
        legs: tuple[Leg, ...] = (Leg(name, target.ip, target.port),)
    else:
        legs = translation.legs
    out = tuple(LegVerdict(leg, evaluate_flow(ctx.dfw, src, ctx.dfw.endpoint_for_ip(leg.ip),
                                              protocol=protocol, port=leg.port,
                                              explain=explain))
                for leg in legs)
    return Answer(source, target, protocol, translation, out)


__all__ = ["Answer", "LegVerdict", "judge"]
