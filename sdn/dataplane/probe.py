"""Real packets between network namespaces: listeners that answer, and a prober that
sends many probes at once and says what the kernel did with each.

Both work the way the issue-13 spike proved fastest on this kernel: **one process,
``setns`` per socket**. A socket belongs to the network namespace its creator was in at
``socket()`` time, so one thread can switch into a namespace, create the socket, and
use it from anywhere afterwards; there is no process (and no ``ip netns exec``) per
namespace. The prober keeps up to ``parallel`` probes in flight on one epoll, each with
its own deadline; 19,800 TCP probes among 100 pods take a few seconds.

Outcomes (what a probe can tell from the source's side):

* ``open``: TCP handshake completed, a UDP datagram echoed, an ICMP echo answered;
* ``refused``: an immediate answer that says no: a TCP RST, an ICMP destination
  unreachable (port, host, net, administratively prohibited: what ``reject`` sends), or
  a source without a route to the destination;
* ``timeout``: nothing came back within the timeout (dropped somewhere).

The listeners run in a child process forked by :func:`listening` (TCP: accept and close;
UDP: echo each datagram); the child watches a pipe from its parent and exits when the
parent closes it or dies, so no listener outlives the command, Ctrl-C included.

This module only observes: it changes no link, address, route, sysctl or rule.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import signal
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sdn.dataplane import kernel
from sdn.errors import SdnError

Outcome = Literal["open", "refused", "timeout"]
#: The protocols a probe can use.
PROBE_PROTOCOLS = ("TCP", "UDP", "ICMP")
#: Seconds a probe waits for an answer before it counts as dropped (well under TCP's
#: first SYN retransmission, at 1 s, so one SYN is all a dropped probe sends).
DEFAULT_TIMEOUT = 0.8
#: Probes in flight at once (the spike: 2,000 in flight was fastest; 500 twice slower).
DEFAULT_PARALLEL = 2000
#: The host-global ARP table's hard limit (settable only in the initial namespace).
GC_THRESH3 = Path("/proc/sys/net/ipv4/neigh/default/gc_thresh3")
GC_THRESH3_SYSCTL = "net.ipv4.neigh.default.gc_thresh3"

_PAYLOAD = b"sdn-verify"
_ICMP_ECHO, _ICMP_ECHO_REPLY, _ICMP_UNREACHABLE = 8, 0, 3
_RAW_BUFFER = 4 << 20
_NO_LINGER = struct.pack("ii", 1, 0)
_IP_RECVERR = 11  # linux/in.h (not exported by Python's socket module)
_SO_RCVBUFFORCE = 33  # asm-generic/socket.h (likewise)


@dataclass(frozen=True, slots=True)
class Probe:
    """One probe: from the namespace ``netns`` to ``dst`` (an IPv4 address) with
    ``protocol`` on ``port`` (None for ICMP)."""

    netns: str
    dst: str
    protocol: str
    port: int | None


@dataclass(frozen=True, slots=True)
class Listener:
    """A listener to start: ``protocol`` (TCP or UDP) on ``port`` in ``netns``."""

    netns: str
    protocol: str
    port: int


def probe_error(message: str, code: str = "PROBE_FAILED", obj: str = "") -> SdnError:
    """A coded error of the probing machinery (exit 2, one line)."""
    return SdnError(message, code=code, obj=obj)


class _Namespaces:
    """Switch the calling thread between named network namespaces, and back to the one
    it started in. Namespace files are opened once each and closed by :meth:`close`."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self._fds: dict[str, int] = {}
        self._current: str | None = None

    def enter(self, name: str | None) -> None:
        """Make ``name`` (None: the starting namespace) the thread's namespace."""
        if name == self._current:
            return
        if name is None:
            fd = self._home
        else:
            fd = self._fds.get(name, -1)
            if fd < 0:
                try:
                    fd = os.open(kernel.NETNS_DIR / name, os.O_RDONLY | os.O_CLOEXEC)
                except FileNotFoundError:
                    raise probe_error(f"network namespace {name} does not exist (run sdn "
                                      "realize)", code="NETNS_MISSING", obj=name) from None
                self._fds[name] = fd
        if self._libc.setns(fd, kernel.CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise probe_error(f"cannot enter network namespace: {os.strerror(err)}",
                              code="DATAPLANE_NOT_ROOT" if err == errno.EPERM else "PROBE_FAILED",
                              obj=name or "initial namespace")
        self._current = name

    def socket(self, name: str, kind: int, proto: int = 0) -> socket.socket:
        """A non-blocking socket created in the namespace ``name``."""
        self.enter(name)
        return socket.socket(socket.AF_INET, kind | socket.SOCK_NONBLOCK, proto)

    def close(self) -> None:
        """Back to the starting namespace; close every namespace file."""
        try:
            self.enter(None)
        finally:
            for fd in (*self._fds.values(), self._home):
                os.close(fd)
            self._fds.clear()


def neighbour_limit() -> int:
    """The host-global ARP table's hard limit (:data:`GC_THRESH3`)."""
    return int(GC_THRESH3.read_text().split()[0])


def check_neighbour_room(needed: int, limit: Callable[[], int] = neighbour_limit) -> None:
    """Refuse to probe when the ARP table cannot hold the neighbour entries the probes
    create: past the limit the kernel drops packets ("neighbor table overflow") and
    every probe would time out, which would be reported as the firewall's doing.

    Raises:
        SdnError: ``NEIGHBOUR_TABLE_TOO_SMALL`` naming the sysctl and both numbers.
    """
    have = limit()
    if needed > have:
        raise probe_error(f"these probes need {needed} ARP entries but {GC_THRESH3_SYSCTL} "
                          f"is {have}: run sdn realize (it raises it for the realized "
                          f"pods), or probe fewer pairs (--sample, --namespace)",
                          code="NEIGHBOUR_TABLE_TOO_SMALL", obj=GC_THRESH3_SYSCTL)


# --- listeners ---------------------------------------------------------------------------

@contextmanager
def listening(listeners: Iterable[Listener]) -> Iterator[None]:
    """Run ``listeners`` in a child process for the duration of the ``with`` block.

    Returns once every socket listens. The child exits when the block ends (or the parent
    dies: it watches a pipe only the parent holds open), and is waited for.

    Raises:
        SdnError: ``NETNS_MISSING``, or ``PROBE_FAILED`` when a port cannot be bound.
    """
    wanted = sorted(set(listeners), key=lambda x: (x.netns, x.protocol, x.port))
    status_r, status_w = os.pipe()
    life_r, life_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(status_r)
        os.close(life_w)
        _listener_child(wanted, status_w, life_r)
    os.close(status_w)
    os.close(life_r)
    try:
        with os.fdopen(status_r, "rb") as status:
            answer = status.readline().decode().rstrip("\n")
        if answer != "ready":
            code, _, rest = answer.partition("\t")
            obj, _, message = rest.partition("\t")
            raise probe_error(message or "the listener process ended before it was ready",
                              code=code or "PROBE_FAILED", obj=obj)
        yield
    finally:
        os.close(life_w)
        _stop(pid)


def _stop(pid: int) -> None:
    """End the listener child and reap it (it usually ends by itself on the closed pipe)."""
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _listener_child(wanted: list[Listener], status_w: int, life_r: int) -> None:
    """The listener process: make every socket, say ``ready``, serve until the parent's
    pipe closes. Ctrl-C is the parent's to handle."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            serving = _bind_all(wanted)
        except SdnError as exc:
            os.write(status_w, f"{exc.code}\t{exc.obj}\t{exc.args[0]}\n".encode())
            code = 1
            return
        except OSError as exc:
            os.write(status_w, f"PROBE_FAILED\t\tcannot listen: {exc}\n".encode())
            code = 1
            return
        os.write(status_w, b"ready\n")
        os.close(status_w)
        _serve(serving, life_r)
    except BaseException:  # the child must never return into the parent's code
        code = 1
    finally:
        os._exit(code)


def _bind_all(wanted: list[Listener]) -> dict[int, tuple[socket.socket, bool]]:
    """Every listener's socket by file descriptor (``True``: TCP)."""
    spaces = _Namespaces()
    serving: dict[int, tuple[socket.socket, bool]] = {}
    try:
        for item in wanted:
            tcp = item.protocol == "TCP"
            sock = spaces.socket(item.netns, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
            if tcp:  # past connections' TIME_WAIT must not block a new listener
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("0.0.0.0", item.port))
            except OSError as exc:
                raise probe_error(f"cannot listen on {item.protocol}/{item.port}: "
                                  f"{exc.strerror}", obj=item.netns) from None
            if tcp:
                sock.listen(4096)
            serving[sock.fileno()] = (sock, tcp)
    finally:
        spaces.close()
    return serving


def _serve(serving: dict[int, tuple[socket.socket, bool]], life_r: int) -> None:
    poll = select.epoll()
    for fd in serving:
        poll.register(fd, select.EPOLLIN)
    poll.register(life_r, select.EPOLLIN)
    while True:
        for fd, _ in poll.poll():
            if fd == life_r:
                return
            sock, tcp = serving[fd]
            try:
                while True:
                    if tcp:
                        sock.accept()[0].close()
                    else:
                        data, peer = sock.recvfrom(2048)
                        sock.sendto(data, peer)
            except OSError:  # drained (EAGAIN), or the peer went away
                pass


# --- prober ------------------------------------------------------------------------------

def probe_all(probes: Sequence[Probe], *, timeout: float = DEFAULT_TIMEOUT,
              parallel: int = DEFAULT_PARALLEL,
              progress: Callable[[int], None] | None = None) -> list[Outcome]:
    """Send every probe (at most ``parallel`` in flight) and return each one's outcome, in
    order. ``progress`` is called with the number finished, a few times a second.

    Raises:
        SdnError: ``NETNS_MISSING`` when a source namespace is gone, ``DATAPLANE_NOT_ROOT``.
    """
    spaces = len({p.netns for p in probes})
    engine = _Engine(probes, timeout, max(1, min(parallel, _fd_room(spaces))), progress)
    try:
        engine.run()
    finally:
        engine.close()
    return [r if r is not None else "timeout" for r in engine.results]


def _fd_room(spaces: int) -> int:
    """How many probe sockets fit under the open-file limit (raised to its hard limit)
    beside a namespace file and a raw socket per source namespace."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return int(soft) - 2 * spaces - 64


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int) -> bytes:
    """An ICMP echo request with ``ident`` and ``seq``."""
    head = struct.pack("!BBHHH", _ICMP_ECHO, 0, 0, ident, seq)
    csum = _checksum(head + _PAYLOAD)
    return struct.pack("!BBHHH", _ICMP_ECHO, 0, csum, ident, seq) + _PAYLOAD


def icmp_answer(packet: bytes) -> tuple[Outcome, int, int, str] | None:
    """What an ICMP packet received on a raw socket (IP header first) answers: ``open``
    for an echo reply, ``refused`` for a destination unreachable quoting our echo
    request, with that echo's ident and seq and the address the probe was sent to;
    None for anything else."""
    if len(packet) < 20:
        return None
    ihl = (packet[0] & 15) * 4
    icmp = packet[ihl:]
    if len(icmp) < 8:
        return None
    if icmp[0] == _ICMP_ECHO_REPLY:
        ident, seq = struct.unpack("!HH", icmp[4:8])
        return "open", ident, seq, socket.inet_ntoa(packet[12:16])
    if icmp[0] == _ICMP_UNREACHABLE and len(icmp) >= 8 + 20:
        inner = icmp[8:]
        inner_ihl = (inner[0] & 15) * 4
        quoted = inner[inner_ihl:]
        if inner[9] == socket.IPPROTO_ICMP and len(quoted) >= 8 and quoted[0] == _ICMP_ECHO:
            ident, seq = struct.unpack("!HH", quoted[4:8])
            return "refused", ident, seq, socket.inet_ntoa(inner[16:20])
    return None


class _Engine:
    """One run of the prober: probes started in order, each registered on one epoll with
    a deadline; TCP and UDP have a socket per probe, ICMP one raw socket per source
    namespace shared by its probes (echoes told apart by ident and seq)."""

    def __init__(self, probes: Sequence[Probe], timeout: float, parallel: int,
                 progress: Callable[[int], None] | None) -> None:
        self.probes, self.timeout, self.parallel = probes, timeout, parallel
        self.progress = progress
        self.results: list[Outcome | None] = [None] * len(probes)
        self.done = 0
        self.spaces = _Namespaces()
        self.poll = select.epoll()
        self.socks: dict[int, tuple[socket.socket, int]] = {}   # fd -> (socket, probe)
        self.open_by_probe: dict[int, socket.socket] = {}
        self.raw: dict[str, socket.socket] = {}                  # netns -> raw ICMP socket
        self.raw_fds: dict[int, socket.socket] = {}
        self.echoes: dict[tuple[int, int], int] = {}             # (ident, seq) -> probe
        self.deadlines: deque[tuple[float, int]] = deque()
        self.inflight = 0
        self.base = int.from_bytes(os.urandom(2), "big")

    def run(self) -> None:
        nxt, total = 0, len(self.probes)
        told = time.monotonic()
        while nxt < total or self.inflight:
            while nxt < total and self.inflight < self.parallel:
                self._start(nxt)
                nxt += 1
            wait = 0.05
            if self.deadlines:
                wait = min(wait, max(0.0, self.deadlines[0][0] - time.monotonic()))
            for fd, events in self.poll.poll(wait):
                if fd in self.raw_fds:
                    self._read_raw(fd)
                else:
                    self._answered(fd, events)
            self._expire(time.monotonic())
            if self.progress is not None and time.monotonic() - told > 0.25:
                self.progress(self.done)
                told = time.monotonic()
        if self.progress is not None:
            self.progress(self.done)

    def _finish(self, i: int, outcome: Outcome) -> None:
        if self.results[i] is not None:
            return
        self.results[i] = outcome
        self.done += 1
        self.inflight -= 1
        if self.probes[i].protocol == "ICMP":
            self.echoes.pop(self._echo_key(i), None)
        sock = self.open_by_probe.pop(i, None)
        if sock is not None:
            self.poll.unregister(sock.fileno())
            del self.socks[sock.fileno()]
            sock.close()

    def _start(self, i: int) -> None:
        probe = self.probes[i]
        self.inflight += 1
        self.deadlines.append((time.monotonic() + self.timeout, i))
        if probe.protocol == "ICMP":
            self._start_icmp(i, probe)
            return
        tcp = probe.protocol == "TCP"
        sock = self.spaces.socket(probe.netns, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
        self.socks[sock.fileno()] = (sock, i)
        self.open_by_probe[i] = sock
        address = (probe.dst, probe.port or 0)
        if tcp:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _NO_LINGER)
            err = sock.connect_ex(address)
            self.poll.register(sock.fileno(), select.EPOLLOUT)
            if err not in (0, errno.EINPROGRESS):
                self._finish(i, "refused")  # no route from the source
            return
        sock.setsockopt(socket.IPPROTO_IP, _IP_RECVERR, 1)  # every ICMP error counts
        self.poll.register(sock.fileno(), select.EPOLLIN)
        try:
            sock.connect(address)
            sock.send(_PAYLOAD)
        except OSError:
            self._finish(i, "refused")

    def _start_icmp(self, i: int, probe: Probe) -> None:
        raw = self.raw.get(probe.netns)
        if raw is None:
            raw = self.spaces.socket(probe.netns, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            raw.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, _RAW_BUFFER)
            self.raw[probe.netns] = raw
            self.raw_fds[raw.fileno()] = raw
            self.poll.register(raw.fileno(), select.EPOLLIN)
        ident, seq = self._echo_key(i)
        self.echoes[(ident, seq)] = i
        try:
            raw.sendto(echo_request(ident, seq), (probe.dst, 0))
        except OSError:
            self._finish(i, "refused")

    def _echo_key(self, i: int) -> tuple[int, int]:
        """The ident and seq of probe ``i``'s echo request (unique in one run)."""
        return (self.base + (i >> 16)) & 0xFFFF, i & 0xFFFF

    def _answered(self, fd: int, events: int) -> None:
        sock, i = self.socks[fd]
        if self.probes[i].protocol == "TCP":
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            self._finish(i, "open" if err == 0 else "refused")
            return
        try:
            sock.recv(2048)
        except BlockingIOError:
            return
        except OSError:
            self._finish(i, "refused")
            return
        self._finish(i, "open")

    def _read_raw(self, fd: int) -> None:
        raw = self.raw_fds[fd]
        while True:
            try:
                packet = raw.recv(65535)
            except BlockingIOError:
                return
            answer = icmp_answer(packet)
            if answer is None:
                continue
            outcome, ident, seq, peer = answer
            i = self.echoes.get((ident, seq))
            if i is not None and self.probes[i].dst == peer:
                self._finish(i, outcome)

    def _expire(self, now: float) -> None:
        while self.deadlines and self.deadlines[0][0] <= now:
            _, i = self.deadlines.popleft()
            self._finish(i, "timeout")

    def close(self) -> None:
        for sock, _ in self.socks.values():
            sock.close()
        for raw in self.raw.values():
            raw.close()
        self.poll.close()
        self.spaces.close()
