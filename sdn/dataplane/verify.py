"""``sdn verify``'s reasoning: which flows to probe, what the simulator says of each, what
the kernel's outcome must then be, and the report of where they differ.

The simulator's verdict for a flow is the traceflow walk's (:func:`sdn.traceflow.trace`,
the same function ``sdn traceflow`` prints), so routing, SpoofGuard and both DFW points
count, and the rule named is the one traceflow names. Each verdict expects one kernel
outcome (:mod:`sdn.dataplane.probe`):

==============  ========  =========================================================
simulated       kernel    why
==============  ========  =========================================================
delivered       open      the handshake, the UDP echo or the ICMP echo came back
dropped         timeout   a DROP rule (or any silent drop) answers nothing
rejected        refused   NSX's REJECT answers with a TCP RST or ICMP unreachable
no_route        refused   a router without a route answers ICMP net unreachable (a
                          pod without a gateway fails at once)
loop            timeout   the packet dies of TTL somewhere (ICMP time exceeded is
                          not read as a refusal)
==============  ========  =========================================================

Nothing here does I/O: the CLI (:mod:`sdn.cli.verify_cmd`) probes and passes the outcomes.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import Any

from sdn.dataplane.probe import Outcome, Probe
from sdn.traceflow import Disposition, PacketSpec, Trace, TraceContext, trace
from sdn.traceflow.walk import DEFAULT_RULE_PATH

#: The kernel outcome each simulated verdict expects (module docstring).
EXPECTED: dict[str, Outcome] = {
    "delivered": "open",
    "dropped": "timeout",
    "rejected": "refused",
    "no_route": "refused",
    "loop": "timeout",
    "exits_network": "timeout",
}


def expected(simulated: str) -> Outcome:
    """The kernel outcome that agrees with the simulated verdict ``simulated``."""
    return EXPECTED[simulated]


def agrees(simulated: str, kernel: Outcome) -> bool:
    """Whether the kernel's outcome is the one the simulator predicts."""
    return EXPECTED[simulated] == kernel


@dataclass(frozen=True, slots=True)
class Pod:
    """A realized pod: its name as ``sdn reach`` prints it, its port, where it lives and
    where it is routed (``router``: its segment's gateway, or the segment itself when it
    has none)."""

    name: str
    path: str
    netns: str
    ip: str
    segment: str
    router: str


@dataclass(frozen=True, slots=True)
class Flow:
    """One probed flow: ``src`` to ``dst`` with ``protocol`` on ``port`` (None: ICMP)."""

    src: Pod
    dst: Pod
    protocol: str
    port: int | None

    def probe(self) -> Probe:
        """The probe that tests this flow in the kernel."""
        return Probe(self.src.netns, self.dst.ip, self.protocol, self.port)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The simulator's verdict on one flow, and the DFW rule that decided it (None when
    no rule did: a drop before or after the DFW)."""

    simulated: str
    rule: dict[str, Any] | None


def choose_pairs(count: int, sample: int | None = None, seed: int = 0
                 ) -> list[tuple[int, int]]:
    """Ordered pairs of distinct pods among ``count`` (by index), in order: all of them,
    or ``sample`` of them drawn with ``seed`` (the same every time)."""
    total = count * (count - 1)
    if sample is None or sample >= total:
        chosen: Iterable[int] = range(total)
    else:
        chosen = sorted(random.Random(seed).sample(range(total), sample))
    pairs = []
    for k in chosen:
        src, rest = divmod(k, count - 1)
        pairs.append((src, rest + (rest >= src)))  # skip the pod itself
    return pairs


def flows(pods: Sequence[Pod], pairs: Iterable[tuple[int, int]], protocol: str,
          ports: Sequence[int]) -> list[Flow]:
    """Every flow to probe: each pair on each port (once for ICMP, which has none)."""
    on: Sequence[int | None] = ports if protocol != "ICMP" else [None]
    return [Flow(pods[s], pods[d], protocol, port) for s, d in pairs for port in on]


def simulate(ctx: TraceContext, flow: Flow) -> Verdict:
    """The simulator's verdict on ``flow``: the traceflow walk's disposition, REJECT told
    apart from DROP, with the DFW rule of the last DFW observation."""
    packet = PacketSpec(src_ip=IPv4Address(flow.src.ip), dst_ip=IPv4Address(flow.dst.ip),
                        protocol=flow.protocol, dst_port=flow.port)
    walked = trace(ctx, flow.src.path, packet)
    rule = _deciding_rule(walked)
    verdict = walked.disposition.value.lower()
    if walked.disposition is Disposition.DROPPED and rule is not None \
            and walked.observations[-1].reason == "FW_RULE" \
            and _action(ctx, flow, walked) == "REJECT":
        verdict = "rejected"
    return Verdict(verdict, rule)


def _deciding_rule(walked: Trace) -> dict[str, Any] | None:
    """The last DFW rule the walk met (the drop's, or the ingress allow's); None when the
    walk ended for another reason than the DFW's after no DFW decision."""
    for obs in reversed(walked.observations):
        if obs.component_type == "DFW" and obs.acl_rule_id is not None:
            if walked.disposition is not Disposition.DELIVERED and obs.reason != "FW_RULE":
                return None  # allowed by the DFW, then lost elsewhere: no rule decided
            return {"rule_id": obs.acl_rule_id, "path": obs.acl_rule_path}
    return None


def _action(ctx: TraceContext, flow: Flow, walked: Trace) -> str:
    """The action of the DFW rule that dropped the walk (REJECT or DROP)."""
    drop = walked.observations[-1]
    if drop.acl_rule_path == DEFAULT_RULE_PATH:
        return ctx.dfw.default_action
    at, direction = (flow.src, "OUT") if drop.segment_port_path == flow.src.path \
        else (flow.dst, "IN")
    index = ctx.dfw.endpoint_for_ip(IPv4Address(at.ip)).index
    rules = ctx.dfw.candidates(index, direction) if index is not None else ()
    return next((r.action for r in rules if r.path == drop.acl_rule_path), "DROP")


def neighbours(chosen: Iterable[Flow]) -> int:
    """How many ARP entries the probes of ``chosen`` make (the table is host-global):
    on one segment, each pod learns the other; across segments, each pod learns its
    gateway, and each side's router learns the pod it delivers to; between two routers,
    each learns its transit peer (both ways: at most two per router and its Tier-0)."""
    entries: set[tuple[str, str]] = set()
    for flow in chosen:
        src, dst = flow.src, flow.dst
        if src.segment == dst.segment:
            entries |= {(src.netns, dst.ip), (dst.netns, src.ip)}
            continue
        entries |= {(src.netns, src.router), (dst.netns, dst.router),
                    (dst.router, dst.ip), (src.router, src.ip)}
        if src.router != dst.router:
            entries |= {(src.router, "upstream"), ("upstream", src.router),
                        (dst.router, "upstream"), ("upstream", dst.router)}
    return len(entries)


def report(chosen: Sequence[Flow], verdicts: Sequence[Verdict],
           outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """``sdn verify -o json``: how many probes, how many agreed, and every disagreement
    with both sides and the simulator's deciding rule (DESIGN.md, "Data plane")."""
    disagreements = [
        {"src": f.src.name, "dst": f.dst.name, "protocol": f.protocol, "port": f.port,
         "simulated": v.simulated, "kernel": k, "rule": v.rule}
        for f, v, k in zip(chosen, verdicts, outcomes, strict=True)
        if not agrees(v.simulated, k)]
    return {"probes": len(chosen), "agreements": len(chosen) - len(disagreements),
            "disagreements": disagreements}
