"""``sdn verify``: real packets between the realized pods, each outcome compared with the
simulator's verdict (DESIGN.md, "Data plane").

The pods and their namespaces come from the realize record (:mod:`sdn.dataplane.record`),
never recomputed: a state with no record is refused (``NOT_REALIZED``), and so is a
record of another revision than the state's (``STALE_REALIZATION``), so a stale data
plane is never probed as if it were the state's. It observes and never repairs: what the
kernel does is reported as it is (a pod whose interface is down shows up as
disagreements naming it).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sdn.cli.filters import check_scope
from sdn.cli.questions import answers, open_index, pod_names, pod_ports
from sdn.dataplane import kernel, probe, record
from sdn.dataplane.layout import owner_tag
from sdn.dataplane.verify import Flow, Pod, choose_pairs, flows, neighbours, report, simulate
from sdn.errors import SdnError
from sdn.render.output import STRUCTURED, print_data, print_table
from sdn.traceflow import TraceContext

#: Disagreements the table lists before it says how many more there are.
TABLE_ROWS = 50


def _check_arguments(args: argparse.Namespace) -> list[int]:
    """The ports to probe, after the checks argparse cannot make."""
    def bad(message: str, obj: str) -> SdnError:
        return SdnError(message, code="BAD_ARGUMENT", obj=obj)

    if args.seed is not None and args.sample is None:
        raise bad("--seed picks the --sample; give --sample N too", "--seed")
    ports = list(dict.fromkeys(args.port or []))
    if args.protocol == "ICMP" and ports:
        raise bad("ICMP has no ports: leave --port out", "--port")
    if args.protocol != "ICMP" and not ports:
        raise bad(f"{args.protocol} needs at least one --port", "--port")
    return ports


def _realized(state: str, revision: int) -> record.Realized:
    """The record of this state's realization at ``revision``."""
    found = record.load(owner_tag(state))
    if found is None:
        raise SdnError("nothing of this state is realized on this host: run sdn realize "
                       "first", code="NOT_REALIZED", obj=str(state))
    if found.revision != revision:
        raise SdnError(f"the data plane holds revision {found.revision} of the state, "
                       f"which is at revision {revision}: run sdn realize to bring it up to "
                       "date", code="STALE_REALIZATION", obj=str(state))
    return found


def _pods(ctx: TraceContext, realized: record.Realized,
          namespaces: list[str] | None) -> list[Pod]:
    """The realized pods (of ``namespaces``), in name order."""
    chosen = pod_ports(ctx, None, namespaces)
    names = pod_names(chosen)
    pods = []
    for port in realized.ports:
        if port.path not in chosen:
            continue  # a node's port, or another namespace's pod
        segment = ctx.ports[port.path].parent_path
        seg = ctx.segments.get(segment)
        router = seg.connectivity_path if seg is not None and seg.connectivity_path \
            else segment
        pods.append(Pod(names[port.path], port.path, port.netns, port.ip, segment, router))
    return sorted(pods, key=lambda p: p.name)


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str], None]]:
    """A status line on stderr while the long parts run (only on a terminal)."""
    if not enabled or not sys.stderr.isatty():
        yield lambda _msg: None
        return
    from rich.console import Console

    with Console(stderr=True).status("verifying") as status:
        yield status.update


def _table(data: dict[str, object], chosen: list[Flow]) -> None:
    dis = data["disagreements"]
    assert isinstance(dis, list)
    title = f"{data['probes']} probes: {data['agreements']} agree, {len(dis)} disagree"
    if not dis:
        print(title if chosen else "nothing to probe (fewer than two realized pods)")
        return
    rows = []
    for d in dis[:TABLE_ROWS]:
        rule = d["rule"]
        rows.append([d["src"], d["dst"],
                     d["protocol"] + (f"/{d['port']}" if d["port"] is not None else ""),
                     d["simulated"], d["kernel"],
                     "-" if rule is None else f"{rule['rule_id']} "
                                              f"({rule['path'].rsplit('/', 1)[-1]})"])
    print_table(["FROM", "TO", "PROBE", "SIMULATED", "KERNEL", "RULE"], rows, title=title)
    if len(dis) > TABLE_ROWS:
        print(f"... and {len(dis) - TABLE_ROWS} more disagreements (-o json lists all)")


@answers
def run(args: argparse.Namespace) -> int:
    """Probe, compare, report; exit 0 when every probe agrees, 1 otherwise."""
    ports = _check_arguments(args)
    if os.geteuid() != 0:
        raise SdnError("sdn verify sends packets from the pods' network namespaces: run it "
                       "as root", code="DATAPLANE_NOT_ROOT")
    index = open_index(args)
    check_scope(index.store, None, args.namespace or ())
    realized = _realized(args.state, index.key.revision)
    ctx = index.trace_context()
    pods = _pods(ctx, realized, args.namespace)
    pairs = choose_pairs(len(pods), args.sample, args.seed or 0) if len(pods) > 1 else []
    chosen = flows(pods, pairs, args.protocol, ports)
    probe.check_neighbour_room(neighbours(chosen))
    with _progress(args.output == "table") as step:
        step(f"simulating {len(chosen)} flows")
        verdicts = [simulate(ctx, f) for f in chosen]
        listeners = {probe.Listener(f.dst.netns, f.protocol, p)
                     for f in chosen if (p := f.port) is not None}
        if chosen:
            step("waiting for bridge ports to forward")
            kernel.settle(realized.gateways.values())
        with probe.listening(listeners):
            outcomes = probe.probe_all(
                [f.probe() for f in chosen],
                progress=lambda n: step(f"probing: {n} of {len(chosen)} answered"))
    data = report(chosen, verdicts, outcomes)
    if args.output in STRUCTURED:
        print_data(data, args.output)
    else:
        _table(data, chosen)
    return 0 if not data["disagreements"] else 1
