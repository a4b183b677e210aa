"""The packet a trace injects (NSX's ``FieldsPacketData``, flattened).

Defaults follow what operators use for pod-to-pod traces: a TCP SYN (``tcp_flags`` 2)
with TTL 64. The source port defaults to a stable ephemeral port derived from the
addresses, so the same question always gives the same trace (and the same load-balancer
backend, once services are traced).
"""

from __future__ import annotations

import zlib
from ipaddress import IPv4Address
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Protocol = Literal["TCP", "UDP", "SCTP", "ICMP"]
PROTOCOL_NUMBERS = {"ICMP": 1, "TCP": 6, "UDP": 17, "SCTP": 132}


class PacketSpec(BaseModel):
    """One packet: addresses, protocol, ports, TTL and TCP flags."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    src_ip: IPv4Address
    dst_ip: IPv4Address
    protocol: Protocol = "TCP"
    src_port: int | None = Field(default=None, ge=1, le=65535)
    dst_port: int | None = Field(default=None, ge=1, le=65535)
    ttl: int = Field(default=64, ge=0, le=255)
    tcp_flags: int = Field(default=2, ge=0, le=511)

    @model_validator(mode="after")
    def _ports_fit_protocol(self) -> PacketSpec:
        if self.protocol == "ICMP" and (self.src_port is not None or self.dst_port is not None):
            raise ValueError("ICMP has no ports")
        if self.protocol != "ICMP" and self.dst_port is None:
            raise ValueError(f"{self.protocol} needs a destination port")
        return self

    @property
    def sport(self) -> int | None:
        """The source port, or a stable ephemeral one (49152-65535) for L4 protocols."""
        if self.protocol == "ICMP":
            return None
        if self.src_port is not None:
            return self.src_port
        key = f"{self.src_ip}>{self.dst_ip}:{self.dst_port}/{self.protocol}".encode()
        return 49152 + zlib.crc32(key) % 16384

    def to_api(self) -> dict[str, object]:
        """NSX's ``FieldsPacketData`` for this packet."""
        transport: dict[str, object]
        if self.protocol == "TCP":
            transport = {"tcp_header": {"src_port": self.sport, "dst_port": self.dst_port,
                                        "tcp_flags": self.tcp_flags}}
        elif self.protocol == "ICMP":
            transport = {"icmp_echo_request_header": {"id": 0, "sequence": 0}}
        else:
            key = "udp_header" if self.protocol == "UDP" else "sctp_header"
            transport = {key: {"src_port": self.sport, "dst_port": self.dst_port}}
        return {
            "resource_type": "FieldsPacketData", "transport_type": "UNICAST",
            "ip_header": {"src_ip": str(self.src_ip), "dst_ip": str(self.dst_ip),
                          "protocol": PROTOCOL_NUMBERS[self.protocol], "ttl": self.ttl},
            "transport_header": transport,
        }

    def reply(self) -> PacketSpec:
        """The reply of this packet (addresses and ports swapped; a SYN-ACK for TCP)."""
        return PacketSpec(src_ip=self.dst_ip, dst_ip=self.src_ip, protocol=self.protocol,
                          src_port=self.dst_port, dst_port=self.sport, ttl=64,
                          tcp_flags=18 if self.protocol == "TCP" else self.tcp_flags)
