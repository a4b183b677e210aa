"""The kernel side of a realize (root): what this host must have (:func:`preflight`),
applying a blueprint :class:`~sdn.dataplane.plan.Diff`, the nftables scripts, the
host-global ARP limit, and removing namespaces.

Why ``ip -batch`` for links, addresses and routes: the spike measured 6 ms a pod with one
``ip -batch`` from the initial namespace (namespaces and veths, each end made directly in
its namespace) plus one ``ip -n NS -batch`` per namespace, against 14-35 ms with
pyroute2, whose interface lookups dump every link of a 1,000-port router. Sysctls are
written by entering each namespace from this process (:func:`inside`), which ``ip``
cannot do without a process per namespace.

Steps are idempotent where the kernel allows (``addr replace``, ``route replace``), but a
failure halfway is not rolled back: :mod:`sdn.dataplane.realize` marks every namespace the
failed run touched as dirty and the next realize rebuilds those whole (:func:`reset`).
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sdn.dataplane.plan import (
    Address,
    Blueprint,
    Bridge,
    Diff,
    KernelObject,
    Namespace,
    Route,
    Sysctl,
    Veth,
    diff,
)
from sdn.errors import DataplaneError

#: Where ``ip netns`` keeps its namespaces' names.
NETNS_DIR = Path("/run/netns")
PROC_SYS = Path("/proc/sys")
CLONE_NEWNET = 0x40000000
#: The host-global ARP table limits (only the initial namespace can set them).
ARP_LIMITS = ("gc_thresh1", "gc_thresh2", "gc_thresh3")
_ARP_DIR = "net/ipv4/neigh/default"
#: ``ip`` processes run at once (the kernel serialises link changes under one lock, so
#: more only queue).
WORKERS = 4
#: How long a teardown waits for the kernel to free the namespaces it deleted.
FREE_TIMEOUT = 30.0
#: Seconds to wait for bridge ports still coming up (:func:`settle`).
SETTLE_TIMEOUT = 2.0

Progress = Callable[[str], None]

#: Everything the nftables generator relies on, checked with ``nft -c`` in a throwaway
#: namespace: vmaps, conntrack state, counters with comments, ``numgen`` and ``jhash``
#: load balancing, DNAT and SNAT, a bridge-family SpoofGuard with concatenations.
NFT_PROBE = """\
table inet sdn_preflight {
  map egress { type ipv4_addr : verdict; }
  chain dfw { type filter hook forward priority 0; policy accept;
    ct state established,related counter accept comment "stateful"
    ip saddr vmap @egress
  }
  chain lb { type nat hook prerouting priority dstnat; policy accept;
    ip daddr 10.0.0.1 tcp dport 80 dnat to numgen random mod 2 map { 0 : 10.0.0.2, 1 : 10.0.0.3 }
    ip daddr 10.0.0.4 dnat to jhash ip saddr mod 2 map { 0 : 10.0.0.2, 1 : 10.0.0.3 }
  }
  chain nat { type nat hook postrouting priority srcnat; policy accept;
    ip saddr 10.0.0.0/24 snat to 198.51.100.1
  }
}
table bridge sdn_preflight {
  map sg { type ifname . ether_addr . ipv4_addr : verdict; }
  chain sg { type filter hook prerouting priority -300; policy accept;
    ether type ip iifname . ether saddr . ip saddr vmap @sg
  }
}
"""


def preflight(prefix: str, *, nft: bool = True) -> None:
    """Refuse, before anything is made, a host that cannot realize: not root, ``ip`` or
    ``nft`` missing, br_netfilter absent, or (``nft``) an nftables feature the kernel
    lacks, tried in a throwaway namespace ``<prefix>preflight``.

    Raises:
        DataplaneError: ``DATAPLANE_NOT_ROOT``, ``DATAPLANE_TOOL_MISSING`` or
            ``DATAPLANE_KERNEL_FEATURE``.
    """
    if os.geteuid() != 0:
        raise DataplaneError("realizing needs root (network namespaces, nftables); run "
                             "it with sudo", code="DATAPLANE_NOT_ROOT")
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            raise DataplaneError(f"{tool!r} is not installed (package "
                                 f"{'iproute2' if tool == 'ip' else 'nftables'})",
                                 code="DATAPLANE_TOOL_MISSING", obj=tool)
    if not (PROC_SYS / "net/bridge").is_dir():
        raise DataplaneError("br_netfilter is not loaded (no /proc/sys/net/bridge): the "
                             "firewall would not see traffic within a segment",
                             code="DATAPLANE_KERNEL_FEATURE", obj="br_netfilter")
    if nft:
        _probe_nft(f"{prefix}preflight")


def _probe_nft(netns: str) -> None:
    _run(["ip", "netns", "add", netns])
    try:
        proc = subprocess.run(["ip", "netns", "exec", netns, "nft", "-c", "-f", "-"],
                              input=NFT_PROBE, text=True, capture_output=True, check=False)
    finally:
        _run(["ip", "netns", "del", netns])
    if proc.returncode != 0:
        raise DataplaneError(f"nftables cannot load what the firewall needs: "
                             f"{_first_error(proc.stderr)}", code="DATAPLANE_KERNEL_FEATURE",
                             obj="nftables")


def _first_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return next((line for line in lines if "rror" in line), lines[0] if lines else "failed")


def _run(argv: list[str], stdin: str = "", *, tolerant: bool = False) -> None:
    """Run one command; a failure is ``DATAPLANE_APPLY_FAILED`` unless ``tolerant``."""
    proc = subprocess.run(argv, input=stdin, text=True, capture_output=True, check=False)
    if proc.returncode != 0 and not tolerant:
        where = (" ".join(argv[:3]) if argv[1] == "-n"
                 else f"nft in {argv[3]}" if argv[1:3] == ["netns", "exec"] else argv[0])
        raise DataplaneError(f"{where}: {_first_error(proc.stderr)}",
                             code="DATAPLANE_APPLY_FAILED")


def batch(lines: Iterable[str], netns: str | None = None, *, tolerant: bool = False) -> None:
    """``ip [-n NETNS] -batch -`` of ``lines`` (``tolerant``: ``-force``, errors ignored,
    for removing what may be gone already)."""
    text = "".join(f"{line}\n" for line in lines)
    if not text:
        return
    argv = ["ip", *(["-n", netns] if netns else []), *(["-force"] if tolerant else []),
            "-batch", "-"]
    _run(argv, text, tolerant=tolerant)


def _parallel(jobs: Mapping[str, list[str]], *, tolerant: bool = False) -> None:
    """One ``ip -n NS -batch`` per namespace, :data:`WORKERS` at a time; every job runs,
    then the first failure is raised."""
    if not jobs:
        return
    with ThreadPoolExecutor(WORKERS) as pool:
        futures = [pool.submit(batch, lines, ns, tolerant=tolerant)
                   for ns, lines in sorted(jobs.items())]
    errors = [e for e in (f.exception() for f in futures) if e is not None]
    if errors:
        raise errors[0]


def apply(d: Diff, progress: Progress) -> None:
    """Make the kernel go the way of ``d``: deletions in namespaces that stay, then
    namespaces and veths removed and made (one ``ip -batch``), sysctls, then each
    namespace's links, addresses and routes (one ``ip -n NS -batch`` each)."""
    gone = d.deleted_namespaces()
    if d.delete:
        progress(f"deleting {len(d.delete)} objects")
        _parallel(_deletions(d.delete, gone))
    made = [o.name for o in d.create if isinstance(o, Namespace)]
    veths = [o for o in d.create if isinstance(o, Veth)]
    if gone or made or veths:
        progress(f"making {len(made)} namespaces and {len(veths)} veth pairs")
    batch([*(f"netns del {n}" for n in sorted(gone)), *(f"netns add {n}" for n in made),
           *(_veth_add(v) for v in veths)])
    sysctls = [o for o in d.create if isinstance(o, Sysctl)]
    sysctls += [new for _, new in d.update if isinstance(new, Sysctl)]
    write_sysctls(sysctls)
    jobs = _creations(d, made)
    if jobs:
        progress(f"configuring {len(jobs)} namespaces")
    _parallel(jobs)


def _deletions(objects: Iterable[KernelObject], gone: set[str]) -> dict[str, list[str]]:
    """Per namespace that stays, the commands removing ``objects`` (routes, addresses,
    then links: what a removed link carried goes with it). A veth reaching into a
    namespace that stays is removed from that end: at once, where a namespace's own
    removal frees its veths later, and a veth of the same name may be made next."""
    jobs: dict[str, list[str]] = defaultdict(list)
    objects = list(objects)
    lost = {end for o in objects if isinstance(o, Veth) for end in o.ends()}
    lost |= {(o.netns, o.name) for o in objects if isinstance(o, Bridge)}
    for o in reversed(objects):
        if isinstance(o, Route) and o.netns not in gone and (o.netns, o.dev) not in lost:
            jobs[o.netns].append(f"route del {o.prefix}")
        elif isinstance(o, Address) and o.netns not in gone \
                and (o.netns, o.interface) not in lost:
            jobs[o.netns].append(f"addr del {o.address} dev {o.interface}")
        elif isinstance(o, Veth):
            staying = [end for end in o.ends() if end[0] not in gone]
            if staying:
                jobs[staying[0][0]].append(f"link del {staying[0][1]}")
        elif isinstance(o, Bridge) and o.netns not in gone:
            jobs[o.netns].append(f"link del {o.name}")
    return jobs


def _veth_add(v: Veth) -> str:
    mac = f" address {v.mac}" if v.mac else ""
    return (f"link add {v.name} netns {v.netns}{mac} type veth peer name {v.peer_name} "
            f"netns {v.peer_netns}")


def _peer_state(v: Veth) -> str:
    master = f" master {v.peer_master}" if v.peer_master else " nomaster"
    return f"link set {v.peer_name}{master} {'up' if v.peer_up else 'down'}"


def _creations(d: Diff, made: list[str]) -> dict[str, list[str]]:
    """Per namespace, the commands making and updating its objects, in creation order
    (bridges before the ports enslaved to them, addresses before routes via them)."""
    jobs: dict[str, list[str]] = defaultdict(list)
    for name in made:
        jobs[name].append("link set lo up")
    for o in d.create:
        if isinstance(o, Bridge):
            jobs[o.netns] += [f"link add {o.name} type bridge",
                              f"link set {o.name} address {o.mac} up"]
        elif isinstance(o, Veth):
            jobs[o.netns].append(f"link set {o.name} up")
            jobs[o.peer_netns].append(_peer_state(o))
        elif isinstance(o, Address):
            jobs[o.netns].append(f"addr replace {o.address} dev {o.interface}")
        elif isinstance(o, Route):
            jobs[o.netns].append(_route(o))
    for old, new in d.update:
        _update(jobs, old, new)
    return jobs


def _route(r: Route) -> str:
    return f"route replace {r.prefix} via {r.via} dev {r.dev}"


def _update(jobs: dict[str, list[str]], old: KernelObject, new: KernelObject) -> None:
    """An object changed in place (a sysctl is written by :func:`write_sysctls`)."""
    if isinstance(new, Bridge):
        jobs[new.netns].append(f"link set {new.name} address {new.mac}")
    elif isinstance(new, Veth) and isinstance(old, Veth):
        if new.mac != old.mac and new.mac:
            jobs[new.netns].append(f"link set {new.name} address {new.mac}")
        if (new.peer_master, new.peer_up) != (old.peer_master, old.peer_up):
            jobs[new.peer_netns].append(_peer_state(new))
    elif isinstance(new, Route):
        jobs[new.netns].append(_route(new))


def settle(namespaces: Iterable[str], timeout: float = SETTLE_TIMEOUT,
           ports: Callable[[str], list[str]] | None = None) -> list[str]:
    """Wait (at most ``timeout`` seconds) until every administratively up bridge port in
    ``namespaces`` forwards, and return the namespaces where some port still does not.

    Why: the kernel's link watch batches carrier changes, so a veth just set up leaves
    its bridge port disabled for up to a second: traffic sent through it at once (a
    verify, a live trace, a user's own test right after ``sdn realize``) would be lost.
    ``sdn realize`` waits before it returns; ``sdn verify`` checks again before probing.
    Waiting only observes: a port whose pod set its interface down stays down."""
    states = ports or bridge_port_states
    deadline = time.monotonic() + timeout
    pending = sorted(set(namespaces))
    while True:
        pending = [ns for ns in pending if any(s != "forwarding" for s in states(ns))]
        if not pending or time.monotonic() >= deadline:
            return pending
        time.sleep(0.05)


def bridge_port_states(netns: str) -> list[str]:
    """The STP state of every administratively up bridge port in ``netns`` (``bridge -j
    link``); a port set down on purpose (a port whose admin state is DOWN) is left out."""
    out = subprocess.run(["bridge", "-j", "-n", netns, "link", "show"], text=True,
                         capture_output=True, check=False).stdout
    return [str(port.get("state")) for port in json.loads(out or "[]")
            if "UP" in port.get("flags", ())]


def write_sysctls(sysctls: Iterable[Sysctl]) -> None:
    """Write each sysctl inside its namespace: the thread enters the namespace, writes
    under ``/proc/sys`` (which shows the namespace of whoever opens it), and comes back."""
    by_ns: dict[str, list[Sysctl]] = defaultdict(list)
    for s in sysctls:
        by_ns[s.netns].append(s)
    for name, items in sorted(by_ns.items()):
        try:
            with inside(name):
                for s in items:
                    (PROC_SYS / s.name).write_text(s.value)
        except OSError as err:
            raise DataplaneError(f"sysctl in {name}: {err.strerror or err}",
                                 code="DATAPLANE_APPLY_FAILED") from err


@contextmanager
def inside(netns: str) -> Iterator[None]:
    """The calling thread in the network namespace ``netns`` for the block.

    ``setns(2)`` through ctypes (Python 3.11 has no ``os.setns``): pyroute2 has it too,
    but the command-line layer may not reach pyroute2 even indirectly (an import
    contract), and this is all that is needed of it."""
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(NETNS_DIR / netns, os.O_RDONLY)
        try:
            _setns(libc, target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(libc, home)
    finally:
        os.close(home)


def _setns(libc: ctypes.CDLL, fd: int) -> None:
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def apply_nft(scripts: Mapping[str, str], progress: Progress) -> None:
    """Each namespace's nftables script, one atomic ``nft -f`` transaction each."""
    todo = {ns: script for ns, script in scripts.items() if script}
    if not todo:
        return
    progress(f"loading nftables in {len(todo)} namespaces")
    with ThreadPoolExecutor(WORKERS) as pool:
        futures = [pool.submit(_run, ["ip", "netns", "exec", ns, "nft", "-f", "-"], script)
                   for ns, script in sorted(todo.items())]
    errors = [e for e in (f.exception() for f in futures) if e is not None]
    if errors:
        raise errors[0]


def owned_namespaces(prefix: str) -> list[str]:
    """The namespaces whose name starts with ``prefix`` (an owner's, record or not)."""
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix))
    except FileNotFoundError:
        return []


def reset(old: Blueprint, dirty: set[str], progress: Progress) -> Blueprint:
    """Remove the ``dirty`` namespaces (a failed run touched them: what is in them is
    unknown) and the veths reaching into them from namespaces that stay, whatever of it
    exists; returns ``old`` without them, what the kernel now holds."""
    kept = old.without(dirty)
    progress(f"rebuilding {len(dirty)} namespaces a failed realize left")
    _parallel(_deletions(diff(old, kept).delete, dirty), tolerant=True)
    batch((f"netns del {n}" for n in sorted(dirty)), tolerant=True)
    return kept


def delete_namespaces(names: list[str], sentinel: str, *,
                      timeout: float = FREE_TIMEOUT) -> None:
    """Delete namespaces and wait until the kernel has freed them.

    ``ip netns del`` returns at once; the kernel frees namespaces later, in batches, one
    batch after the other (one worker). A namespace's id in the initial namespace goes
    when its batch starts. So each namespace gets an id first, and once those are gone
    (their batch has started) a throwaway namespace ``sentinel`` is deleted the same way:
    its id goes when the next batch starts, after ours has freed everything."""
    if not names:
        return
    deadline = time.monotonic() + timeout
    _delete_watched(names, deadline)
    batch([f"netns add {sentinel}"])
    _delete_watched([sentinel], deadline)


def _delete_watched(names: list[str], deadline: float) -> None:
    """Give ``names`` namespace ids, delete them, wait until the ids are gone."""
    batch((f"netns set {n} auto" for n in names), tolerant=True)
    ids = _nsids(set(names))
    batch((f"netns del {n}" for n in names), tolerant=True)
    while ids & _nsids(None) and time.monotonic() < deadline:
        time.sleep(0.02)


def _nsids(names: set[str] | None) -> set[str]:
    """The namespace ids of ``names`` (None: every id still allocated)."""
    out = subprocess.run(["ip", "netns", "list-id"], text=True, capture_output=True,
                         check=False).stdout
    found = set()
    for line in out.splitlines():  # nsid 3 (iproute2 netns name: NAME)
        words = line.replace("(", " ").replace(")", " ").split()
        if len(words) >= 2 and (names is None or words[-1] in names):
            found.add(words[1])
    return found


def raise_arp_limit(need: int, kept: Mapping[str, Any] | None, *,
                    root: Path = PROC_SYS) -> dict[str, Any] | None:
    """Raise the host-global ARP limits when ``need`` neighbour entries exceed the soft
    one (``gc_thresh2``; the kernel refuses new neighbours past ``gc_thresh3``, in every
    namespace, spike section 6); returns what the record keeps to restore them (the
    first originals and what was set), ``kept`` when nothing changed."""
    current = _arp_limits(root)
    if need <= current["gc_thresh2"]:
        return dict(kept) if kept else None
    soft = 1 << (need - 1).bit_length()
    wanted = {"gc_thresh1": current["gc_thresh1"], "gc_thresh2": soft,
              "gc_thresh3": max(current["gc_thresh3"], 2 * soft)}
    for name in ("gc_thresh3", "gc_thresh2"):
        (root / _ARP_DIR / name).write_text(str(wanted[name]))
    original = dict(kept["original"]) if kept else current
    return {"original": original, "set": wanted}


def restore_arp_limit(kept: Mapping[str, Any] | None, *, root: Path = PROC_SYS) -> None:
    """Put back the ARP limits a realize raised, unless someone changed them since."""
    if not kept:
        return
    current = _arp_limits(root)
    for name in ("gc_thresh2", "gc_thresh3"):
        if current[name] == kept["set"][name]:
            (root / _ARP_DIR / name).write_text(str(kept["original"][name]))


def _arp_limits(root: Path) -> dict[str, int]:
    return {name: int((root / _ARP_DIR / name).read_text()) for name in ARP_LIMITS}
