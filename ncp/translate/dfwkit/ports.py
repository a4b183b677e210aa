"""Ports of a policy rule: protocols, numbers, ranges and port names.

A numbered port item becomes an ``L4PortSetServiceEntry`` (``port``-``endPort`` as
``"start-end"``; no port: every port of the protocol). A **named port** has no NSX form; it
stays a :class:`PortSpec` with a ``name`` until :func:`~ncp.translate.dfwkit.rules.expand_rule`
resolves it against the pods that receive the traffic. Each policy kind has its own port
syntax; the checks of its values (which protocols, which numbers, which names) are the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ncp.translate.dfwkit.errors import PolicyInputError
from sdn.model import L4PortSetServiceEntry

__all__ = ["PROTOCOLS", "PortSpec", "check_port_name", "check_port_number", "check_protocol"]

#: The protocols a Kubernetes policy port can name.
PROTOCOLS = ("TCP", "UDP", "SCTP")

_PORT_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")


@dataclass(frozen=True)
class PortSpec:
    """One port item of a rule.

    Attributes:
        protocol: ``TCP``, ``UDP`` or ``SCTP``; ``""`` for a named port of any protocol
            (AdminNetworkPolicy's ``namedPort``).
        start: First port, or None for every port of the protocol (or a named port).
        end: Last port of a range (None: just ``start``).
        name: The port name of a named port (``""`` otherwise).
    """

    protocol: str
    start: int | None = None
    end: int | None = None
    name: str = ""

    def entry(self) -> L4PortSetServiceEntry:
        """The service entry of a numbered (not named) port item."""
        if self.start is None:
            ports: tuple[str, ...] = ()
        elif self.end is None or self.end == self.start:
            ports = (str(self.start),)
        else:
            ports = (f"{self.start}-{self.end}",)
        return _service_entry(self.protocol, ports)


@lru_cache(maxsize=1 << 12)
def _service_entry(protocol: str, ports: tuple[str, ...]) -> L4PortSetServiceEntry:
    """One shared, validated service entry per (protocol, ports): a frozen value that a
    large cluster's rules repeat tens of thousands of times (a failing one raises each
    time: ``lru_cache`` keeps no exceptions)."""
    kind: Any = protocol
    return L4PortSetServiceEntry(l4_protocol=kind, destination_ports=ports)


def check_protocol(value: object, where: str) -> str:
    """The protocol (default TCP); ``UNKNOWN_PROTOCOL`` unless TCP, UDP or SCTP."""
    if value is None:
        return "TCP"
    if value not in PROTOCOLS:
        raise PolicyInputError("UNKNOWN_PROTOCOL",
                               f"{where}: protocol {value!r} is not TCP, UDP or SCTP")
    return str(value)


def check_port_number(value: object, where: str) -> int:
    """A port number; ``INVALID_PORT`` unless an integer in 1-65535."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise PolicyInputError("INVALID_PORT", f"{where}: port {value!r} is not in 1-65535")
    return value


def check_port_name(value: object, where: str) -> str:
    """A named port; ``INVALID_PORT`` unless a valid IANA service name (as Kubernetes)."""
    if (not isinstance(value, str) or len(value) > 15 or "--" in value
            or _PORT_NAME.fullmatch(value) is None or not re.search("[a-z]", value)):
        raise PolicyInputError(
            "INVALID_PORT",
            f"{where}: port {value!r} is neither a number in 1-65535 nor a port name")
    return value
