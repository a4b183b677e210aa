"""``sdn traceflow --live``: one real packet through the realized data plane, followed by
nftables tracing, told as the simulator's Traceflow.

The steps, and why:

1. **Where to look** (:func:`watched`): the routers on the source's side and on the
   destination's side (each with the routers one transit link away: a Tier-1's Tier-0) and
   the destination pods' namespaces. Not every namespace: a monitor per namespace costs a
   process, and a 100-namespace realization has hundreds.
2. **Mark the flow** (:func:`trace_script`): a table of our own, ``sdn_trace``, in each
   watched namespace: a prerouting chain at priority -350 (before SpoofGuard's bridge chain
   at -300, before NAT and the DFW) sets ``meta nftrace`` on packets of the flow only
   (protocol, source port, IP id: what NAT leaves alone), and an empty chain last on every
   other hook, so each namespace says where the packet came in, went out, or was taken in.
   The script replaces a table left by a crashed run in the same transaction.
3. **Listen** (:class:`Monitors`): ``nft monitor`` per namespace (``ip netns exec``), started
   before the table is added; a monitor is ready when it prints our table's creation (a
   table added before a monitor subscribed is added again until it does).
4. **Send one packet**, crafted with scapy (only the layers needed, imported here: all of
   scapy costs more than the whole budget) and sent from a raw socket opened inside the
   source pod's namespace, with a fresh source port unless one was asked for (a stale
   conntrack entry of an earlier trace would skip the NAT and LB rules).
5. **Read** until the packet's way has ended (:data:`GRACE` after it was seen in a
   destination's namespace or dropped: other monitors may still be printing earlier
   hops), else until the monitors have been quiet for :data:`QUIET` (a packet held
   while a router resolves its next hop's address arrived 40-50 ms late, measured), at
   most :data:`READ_AT_MOST` (:data:`SILENT_AT_MOST` while nothing at all was printed).
6. **Always clean up**, on error and Ctrl-C too: our tables deleted, monitors killed and
   waited for.

The events become observations in :mod:`sdn.dataplane.observations`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import random
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from sdn.dataplane import kernel
from sdn.dataplane.layout import Layout, owner_tag
from sdn.dataplane.nfttrace import FlowKey, of_flow, parse_line
from sdn.dataplane.observations import (
    HOOK_CHAINS,
    TRACE_TABLE,
    KernelView,
    PortView,
    observe,
)
from sdn.dataplane.record import Realized, load, run_dir
from sdn.errors import DataplaneError
from sdn.model import Inventory
from sdn.traceflow.packets import PROTOCOL_NUMBERS, PacketSpec
from sdn.traceflow.results import Trace

#: Reading ends this long after the packet's way ended, after this much silence when no
#: end was seen, and at the latest this long after sending (:data:`SILENT_AT_MOST` when
#: no monitor has printed anything yet: on a loaded host a monitor may print late).
GRACE = 0.02
QUIET = 0.15
READ_AT_MOST = 0.5
SILENT_AT_MOST = 2.0
#: How long monitors may take to subscribe before the trace gives up.
READY_WITHIN = 3.0
_PRIORITY_LAST = 1000


def preflight() -> None:
    """Refuse before anything is made: not root, or ``nft``/``ip`` missing."""
    if os.geteuid() != 0:
        raise DataplaneError("a live trace needs root (it adds nftables rules and sends "
                             "from a pod's namespace)", code="DATAPLANE_NOT_ROOT")
    for tool in ("nft", "ip"):
        if shutil.which(tool) is None:
            raise DataplaneError(f"`{tool}` is not installed", code="DATAPLANE_TOOL_MISSING",
                                 obj=tool)


def realized_for(state: str | Path, revision: int) -> tuple[str, Realized]:
    """The owner tag and realize record of ``state``, which must be of ``revision``.

    Raises:
        DataplaneError: ``NOT_REALIZED`` (no record) or ``STALE_REALIZATION`` (the record is
            of an older revision: realize again first).
    """
    tag = owner_tag(state)
    realized = load(tag)
    if realized is None:
        raise DataplaneError("nothing is realized for this state; run `sdn realize` first",
                             code="NOT_REALIZED", obj=str(state))
    if realized.revision != revision:
        raise DataplaneError(f"the data plane is realized at revision {realized.revision}, "
                             f"the state is at {revision}; run `sdn realize` first",
                             code="STALE_REALIZATION", obj=str(state))
    return tag, realized


def view_of(inv: Inventory, tag: str, realized: Realized) -> KernelView:
    """The kernel names of this realization (ports restricted to the realized ones)."""
    layout = Layout.of(inv, tag)
    made = {p.path for p in realized.ports}
    ports = {path: port for path, port in layout.ports.items() if path in made}
    return KernelView.of(dataclasses.replace(layout, ports=ports), inv)


def watched(view: KernelView, source: PortView, destinations: Sequence[IPv4Address],
            ) -> tuple[list[str], list[str]]:
    """The router namespaces, and the namespaces where the packet may end (destination
    pods; the outside when no destination is a port), to watch (module docs, step 1)."""
    def router_of(segment: str) -> str | None:
        return next((ns for (ns, _), hop in view.links.items()
                     if hop.kind == "segment" and hop.path == segment), None)

    def near(ns: str) -> set[str]:
        by_path = {r.path: n for n, r in view.routers.items()}
        return {ns} | {by_path[hop.path] for (n, _), hop in view.links.items()
                       if n == ns and hop.kind == "router" and hop.path in by_path}

    routers: set[str] = set()
    pods: set[str] = set()
    ends = [source] + [p for ip in destinations if (p := view.port_at(ip)) is not None]
    for port in ends:
        home = router_of(port.segment)
        if home is not None:
            routers |= near(home)
        if port is not source:
            pods.add(port.netns)
    routers |= {ns for ns, r in view.routers.items() if r.kind == "tier0"}
    if view.outside and len(ends) == 1:
        pods.add(view.outside)  # no port to end at: a packet leaving is seen to end there
    return sorted(routers), sorted(pods)


def flow_match(key: FlowKey) -> str:
    """The nft match for the traced packet (protocol, source port or echo id, IP id)."""
    proto = key.protocol.lower()
    parts = [f"ip protocol {proto}"]
    if key.sport is not None:
        parts.append(f"icmp id {key.sport}" if proto == "icmp" else f"{proto} sport {key.sport}")
    if key.ip_id is not None:
        parts.append(f"ip id {key.ip_id}")
    return " ".join(parts)


def trace_script(key: FlowKey, *, router: bool) -> str:
    """The ``nft -f`` script adding our table (module docs, step 2), replacing a stale one.
    A router also gets a bridge-family table, to see SpoofGuard (bridge prerouting)."""
    match = flow_match(key)
    hooks = ("forward", "input", "postrouting") if router else ("input",)
    chains = [f"chain {HOOK_CHAINS['prerouting']} {{ type filter hook prerouting priority "
              f"-350; {match} meta nftrace set 1; }}"]
    chains += [f"chain {HOOK_CHAINS[h]} {{ type filter hook {h} priority {_PRIORITY_LAST}; }}"
               for h in hooks]
    script = [f"table inet {TRACE_TABLE} {{}}", f"delete table inet {TRACE_TABLE}",
              f"table inet {TRACE_TABLE} {{", *(f"  {c}" for c in chains), "}"]
    if router:
        script += [f"table bridge {TRACE_TABLE} {{}}", f"delete table bridge {TRACE_TABLE}",
                   f"table bridge {TRACE_TABLE} {{",
                   f"  chain {HOOK_CHAINS['prerouting']} {{ type filter hook prerouting "
                   f"priority -350; {match} meta nftrace set 1; }}", "}"]
    return "\n".join(script) + "\n"


def removal_script(*, router: bool) -> str:
    """The ``nft -f`` script deleting our tables (absent ones are fine)."""
    families = ("inet", "bridge") if router else ("inet",)
    lines = []
    for family in families:
        lines += [f"table {family} {TRACE_TABLE} {{}}", f"delete table {family} {TRACE_TABLE}"]
    return "\n".join(lines) + "\n"


def _nft_all(scripts: dict[str, str]) -> list[str]:
    """Run one ``nft -f -`` per namespace at once; the namespaces where it failed, with
    nft's message."""
    procs = {ns: subprocess.Popen(["ip", "netns", "exec", ns, "nft", "-f", "-"],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
             for ns in scripts}
    failed = []
    for ns, proc in procs.items():
        _, err = proc.communicate(scripts[ns])
        if proc.returncode != 0:
            failed.append(f"{ns}: {err.strip().splitlines()[0] if err.strip() else 'failed'}")
    return failed


class Monitors:
    """``nft monitor`` in each namespace, read by one thread each (module docs, step 3)."""

    def __init__(self, namespaces: Iterable[str], ends: Iterable[str] = ()) -> None:
        self.lines: list[tuple[str, str]] = []
        self.last_trace = 0.0
        #: When the packet's way ended: seen in one of the namespaces ``ends``, or dropped.
        self.ended = 0.0
        self._ends = frozenset(ends)
        self._lock = threading.Lock()
        self._ready: dict[str, threading.Event] = {}
        self._procs: dict[str, subprocess.Popen[str]] = {}
        self._threads: list[threading.Thread] = []
        for ns in namespaces:
            self._ready[ns] = threading.Event()
            proc = subprocess.Popen(["ip", "netns", "exec", ns, "nft", "monitor"],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    text=True, bufsize=1)
            self._procs[ns] = proc
            thread = threading.Thread(target=self._read, args=(ns, proc), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _read(self, ns: str, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("trace id "):
                with self._lock:
                    self.lines.append((ns, line.rstrip("\n")))
                    self.last_trace = time.monotonic()
                    if ns in self._ends or "(verdict drop)" in line or " policy drop" in line:
                        self.ended = self.ended or self.last_trace
            elif line.startswith(f"add table inet {TRACE_TABLE}"):
                self._ready[ns].set()

    def unready(self) -> list[str]:
        """The namespaces whose monitor has not shown our table yet."""
        return [ns for ns, ev in self._ready.items() if not ev.is_set()]

    def wait_ready(self, timeout: float) -> list[str]:
        """Wait up to ``timeout`` for every monitor; the ones still not ready."""
        end = time.monotonic() + timeout
        for ev in self._ready.values():
            ev.wait(max(0.0, end - time.monotonic()))
        return self.unready()

    def read_until_done(self, sent: float) -> list[tuple[str, str]]:
        """The trace lines after ``sent``, once the packet's way is over (step 5)."""
        while True:
            now = time.monotonic()
            if self.ended > sent and now - self.ended >= GRACE:
                break
            heard = self.last_trace > sent
            if now - sent >= (READ_AT_MOST if heard else SILENT_AT_MOST) or (
                    heard and not self.ended and now - self.last_trace >= QUIET):
                break
            time.sleep(0.002)
        with self._lock:
            return list(self.lines)

    def stop(self) -> None:
        """Kill every monitor (it has nothing to clean up) and wait for it and its reader."""
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.kill()
        for proc in self._procs.values():
            proc.wait()
        for thread in self._threads:
            thread.join(timeout=2)


@contextlib.contextmanager
def _locked(tag: str) -> Iterator[None]:
    """One live trace per realization at a time (they would share ``sdn_trace``)."""
    path = run_dir() / f".{tag}.trace.lock"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def raw_socket_in(netns: str) -> socket.socket:
    """A raw IPv4 socket (we write the IP header) living in the namespace ``netns``: this
    thread enters it, opens the socket and comes back (a socket keeps its namespace)."""
    with kernel.inside(netns):
        return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)


def craft(packet: PacketSpec, ip_id: int) -> bytes:
    """The packet's bytes (IP header on), crafted with scapy's layers for its protocol."""
    from scapy.layers.inet import ICMP, IP, TCP, UDP  # narrow and late: see module docs

    ip = IP(src=str(packet.src_ip), dst=str(packet.dst_ip), ttl=packet.ttl, id=ip_id,
            proto=PROTOCOL_NUMBERS[packet.protocol])
    if packet.protocol == "TCP":
        return bytes(ip / TCP(sport=packet.sport, dport=packet.dst_port, flags=packet.tcp_flags))
    if packet.protocol == "UDP":
        return bytes(ip / UDP(sport=packet.sport, dport=packet.dst_port))
    if packet.protocol == "ICMP":
        return bytes(ip / ICMP(type=8, id=ip_id, seq=0))
    from scapy.layers.sctp import SCTP
    return bytes(ip / SCTP(sport=packet.sport, dport=packet.dst_port))


@dataclass(frozen=True)
class LiveFlow:
    """The packet as sent: the spec (with the source port used) and what identifies it."""

    packet: PacketSpec
    key: FlowKey


def live_flow(packet: PacketSpec, rng: random.Random) -> LiveFlow:
    """``packet`` with a fresh source port when none was asked for, and a fresh IP id
    (ICMP: the echo id is the IP id)."""
    ip_id = rng.randrange(1, 65536)
    if packet.protocol != "ICMP" and packet.src_port is None:
        packet = packet.model_copy(update={"src_port": rng.randrange(49152, 65536)})
    sport = ip_id if packet.protocol == "ICMP" else packet.sport
    return LiveFlow(packet, FlowKey(packet.protocol, sport, ip_id))


def run(view: KernelView, tag: str, source: PortView, flow: LiveFlow,
        destinations: Sequence[IPv4Address]) -> Trace:
    """Send ``flow`` from ``source`` and tell what the kernel did (module docs)."""
    routers, pods = watched(view, source, destinations)
    lines = capture(tag, source.netns, flow, routers, pods)
    events = [e for ns, line in lines if (e := parse_line(ns, line)) is not None]
    return observe(of_flow(events, flow.key), view, flow.packet, source)


def capture(tag: str, source_netns: str, flow: LiveFlow, routers: Iterable[str],
            pods: Iterable[str]) -> list[tuple[str, str]]:
    """Steps 2 to 6 of the module docs: the trace lines (namespace, line) the monitors of
    ``routers`` and ``pods`` printed for one packet of ``flow`` sent from
    ``source_netns``."""
    preflight()
    routers, pods = list(routers), list(pods)
    missing = [ns for ns in (source_netns, *routers, *pods) if not (kernel.NETNS_DIR / ns).exists()]
    if missing:
        raise DataplaneError(f"namespace {missing[0]} is gone (run `sdn realize` again)",
                             code="NETNS_MISSING", obj=missing[0])
    scripts = {ns: trace_script(flow.key, router=True) for ns in routers}
    scripts |= {ns: trace_script(flow.key, router=False) for ns in pods}
    with _locked(tag):
        monitors = Monitors(scripts, ends=pods)
        try:
            wire = craft(flow.packet, flow.key.ip_id or 1)
            sock = raw_socket_in(source_netns)
            _install(monitors, scripts)
            sent = time.monotonic()
            with sock:
                sock.sendto(wire, (str(flow.packet.dst_ip), 0))
            return monitors.read_until_done(sent)
        finally:
            _nft_all({ns: removal_script(router=ns in routers) for ns in scripts})
            monitors.stop()


def _install(monitors: Monitors, scripts: dict[str, str]) -> None:
    """Add our tables; again where a monitor missed the addition (it subscribed late)."""
    end = time.monotonic() + READY_WITHIN
    pending = dict(scripts)
    while pending:
        failed = _nft_all(pending)
        if failed:
            raise DataplaneError("could not add the trace table: " + "; ".join(failed),
                                 code="LIVE_TRACE_FAILED")
        late = monitors.wait_ready(min(0.05, max(0.0, end - time.monotonic())))
        if late and time.monotonic() >= end:
            raise DataplaneError(f"nft monitor did not start in {', '.join(late)}",
                                 code="LIVE_TRACE_FAILED")
        pending = {ns: scripts[ns] for ns in late}
