"""A traceflow request's packet read as NSX reads it, and the walk it runs: the
simulator ``sdn traceflow -o json`` runs, through the same query index.

Why here and not in the routes: the Manager API (``lport_id``) and the Policy API
(``source_id``) inject the same packet the same way; only how they name the source port
differs.

The packet is NSX's ``FieldsPacketData``. How its fields become the walked packet
(:class:`~sdn.traceflow.PacketSpec`), NSX's rules where it has them, else our choices:

* ``ip_header.src_ip`` defaults to the source port's own address (what NSX's UI fills
  in); a different address is traced as sent, so SpoofGuard drops it as NSX would.
* The destination is the packet's: ``ip_header.dst_ip``; without it, the address of the
  port that owns ``eth_header.dst_mac`` (an L2 trace names the peer by MAC alone); with
  neither, the request is refused. A ``dst_mac`` beside a ``dst_ip`` changes nothing (a
  routed packet carries its gateway's MAC).
* The protocol is the ``transport_header``'s kind (``tcp_header``, ``udp_header``,
  ``sctp_header``, ``icmp_echo_request_header``), else ``ip_header.protocol`` (1, 6, 17,
  132), else ICMP, NSX's default; the two must agree when both are given. Ports come
  from the kind's header or, as some clients send them, flat in ``transport_header``
  (``src_port``, ``dst_port``). TCP and UDP need a destination port.
* ``ttl`` defaults to 64, ``tcp_flags`` to 2 (SYN), ``frame_size`` to 128 (NSX's
  defaults); the source port, when not given, is the stable ephemeral one the CLI picks
  (:attr:`~sdn.traceflow.PacketSpec.sport`), so the API and ``sdn traceflow`` trace the
  same flow.
* Refused as unsupported (the simulator walks unicast IPv4 only): ``BinaryPacketData``,
  ``transport_type`` other than ``UNICAST``, ``ipv6_header``, ``arp_header``.

The walk runs on a :class:`~sdn.query.QueryIndex` opened on the state at the view's
revision and kept until the revision moves or traceflows stop for a while
(:class:`Tracer`), so a trace reads the compiled firewall, lookups and the few objects
it meets, as ``sdn traceflow`` does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import AddressValueError, IPv4Address
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sdn.api.errors import MALFORMED_REQUEST, ApiError
from sdn.query import QueryIndex
from sdn.traceflow import PacketSpec, Trace, TraceContext, trace
from sdn.traceflow.l7 import HttpRequest
from sdn.traceflow.packets import PROTOCOL_NUMBERS

#: NSX's ``FieldsPacketData`` defaults.
DEFAULT_FRAME_SIZE = 128
#: Transport header kinds and the protocol each one is.
_HEADERS = {"tcp_header": "TCP", "udp_header": "UDP", "sctp_header": "SCTP",
            "icmp_echo_request_header": "ICMP"}
_BY_NUMBER = {number: name for name, number in PROTOCOL_NUMBERS.items()}


def bad_request(message: str, module: str) -> ApiError:
    """400 with NSX's field-validation code."""
    return ApiError(400, MALFORMED_REQUEST, message, module)


@dataclass(frozen=True)
class Packet:
    """The packet to walk and the frame size NSX counts for it."""

    spec: PacketSpec
    frame_size: int


def _section(body: Mapping[str, Any], key: str, module: str) -> Mapping[str, Any]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise bad_request(f"packet.{key} must be an object", module)
    return value


def _address(text: object, where: str, module: str) -> IPv4Address:
    try:
        return IPv4Address(str(text))
    except AddressValueError:
        raise bad_request(f"{where} {text!r} is not an IPv4 address", module) from None


def _protocol(ip: Mapping[str, Any], transport: Mapping[str, Any], module: str
              ) -> tuple[str, Mapping[str, Any]]:
    """The protocol and the header holding its ports (flat ``transport_header`` when no
    kind's header is given)."""
    kinds = [k for k in _HEADERS if k in transport]
    if len(kinds) > 1:
        raise bad_request(f"packet.transport_header has several headers: {kinds}", module)
    number = ip.get("protocol")
    by_number = None
    if number is not None:
        by_number = _BY_NUMBER.get(number) if isinstance(number, int) else None
        if by_number is None:
            raise bad_request(f"packet.ip_header.protocol {number!r} is not one of "
                              f"{sorted(_BY_NUMBER)}", module)
    if kinds:
        header = transport[kinds[0]]
        if not isinstance(header, Mapping):
            raise bad_request(f"packet.transport_header.{kinds[0]} must be an object", module)
        protocol = _HEADERS[kinds[0]]
        if by_number is not None and by_number != protocol:
            raise bad_request(f"packet.ip_header.protocol {number} is not the "
                              f"{kinds[0]}'s protocol ({PROTOCOL_NUMBERS[protocol]})", module)
        return protocol, header
    return by_number or "ICMP", transport


def read_packet(body: object, *, source_ip: IPv4Address | None,
                address_of_mac: Mapping[str, str], module: str) -> Packet:
    """The packet of a traceflow request (see the module's doc for the rules).

    ``source_ip``: the source port's own address; ``address_of_mac``: port addresses by
    lower-case MAC (for a destination named by MAC alone).

    Raises:
        ApiError: 400 for a packet that cannot be traced.
    """
    if not isinstance(body, Mapping):
        raise bad_request("packet must be an object (FieldsPacketData)", module)
    kind = body.get("resource_type", "FieldsPacketData")
    if kind != "FieldsPacketData":
        raise bad_request(f"packet.resource_type {kind!r} is not supported (only "
                          "FieldsPacketData)", module)
    if body.get("transport_type", "UNICAST") != "UNICAST":
        raise bad_request("only UNICAST packets are traced", module)
    for unsupported in ("ipv6_header", "arp_header"):
        if body.get(unsupported):
            raise bad_request(f"packet.{unsupported} is not supported (IPv4 only)", module)
    ip = _section(body, "ip_header", module)
    eth = _section(body, "eth_header", module)
    transport = _section(body, "transport_header", module)
    src = ip.get("src_ip")
    if src is None and source_ip is None:
        raise bad_request("packet.ip_header.src_ip is needed: the source port has no "
                          "address", module)
    src_ip = _address(src, "packet.ip_header.src_ip", module) if src is not None else source_ip
    dst = ip.get("dst_ip")
    if dst is None and eth.get("dst_mac") is not None:
        dst = address_of_mac.get(str(eth["dst_mac"]).lower())
        if dst is None:
            raise bad_request(f"packet.eth_header.dst_mac {eth['dst_mac']!r} is no port's "
                              "MAC; give ip_header.dst_ip", module)
    if dst is None:
        raise bad_request("packet needs ip_header.dst_ip (or eth_header.dst_mac)", module)
    protocol, ports = _protocol(ip, transport, module)
    fields: dict[str, Any] = {"src_ip": src_ip, "dst_ip": _address(dst, "packet.ip_header.dst_ip",
                                                                   module),
                              "protocol": protocol, "ttl": ip.get("ttl", 64)}
    if protocol != "ICMP":
        fields["src_port"] = ports.get("src_port")
        fields["dst_port"] = ports.get("dst_port")
    if protocol == "TCP" and ports.get("tcp_flags") is not None:
        fields["tcp_flags"] = ports["tcp_flags"]
    frame = body.get("frame_size", DEFAULT_FRAME_SIZE)
    if not isinstance(frame, int) or isinstance(frame, bool) or frame < 1:
        raise bad_request(f"packet.frame_size {frame!r} is not a positive integer", module)
    try:
        return Packet(PacketSpec(**fields), frame)
    except ValidationError as err:
        raise bad_request("; ".join(
            f"packet: {'.'.join(str(p) for p in e['loc']) or 'fields'}: {e['msg']}"
            for e in err.errors(include_url=False)), module) from None


class Tracer:
    """Runs walks on the state through its query index, one index per revision.

    Used from the server's one event loop only (see :mod:`sdn.api.app`): the index's
    store connection belongs to that thread. The index pins a read snapshot of the
    state, which holds back the write-ahead log of a concurrent ``ncp run``; so it is let
    go once no traceflow has run for ``idle_seconds`` (the next one opens it again: the
    index's parts are on disk, so that costs tens of milliseconds, not a rebuild).
    """

    def __init__(self, state: Path, idle_seconds: float = 30.0) -> None:
        self.state = state
        self.idle_seconds = idle_seconds
        self._index: QueryIndex | None = None
        self._context: TraceContext | None = None
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None

    @property
    def holds_snapshot(self) -> bool:
        """Whether an index (and its read snapshot of the state) is open."""
        return self._index is not None

    def context(self, revision: int) -> TraceContext:
        """The trace context of the state, reopened when the view's revision differs
        from the one the index pinned."""
        if self._index is None or self._context is None or self._index.key.revision != revision:
            self.close()
            self._index = QueryIndex.open(self.state)
            self._context = self._index.trace_context()
        return self._context

    def run(self, revision: int, port_path: str, packet: PacketSpec) -> Trace:
        """The walk ``sdn traceflow`` runs for this port and packet."""
        result = trace(self.context(revision), port_path, packet, http=HttpRequest())
        self._last = time.monotonic()
        if self._timer is None:
            self._release_later(self.idle_seconds)
        return result

    def _release_later(self, delay: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not inside a server's loop: nothing to wait for
            return
        self._timer = loop.call_later(delay, self._release_if_idle)

    def _release_if_idle(self) -> None:
        self._timer = None
        idle = time.monotonic() - self._last
        if idle >= self.idle_seconds:
            self.close()
        else:
            self._release_later(self.idle_seconds - idle)

    def close(self) -> None:
        """Close the index (and let its read snapshot go)."""
        if self._index is not None:
            self._index.close()
        self._index = None
        self._context = None


__all__ = ["DEFAULT_FRAME_SIZE", "Packet", "Tracer", "bad_request", "read_packet"]
