"""Field value types with NSX's rules: addresses, ports, protocols numbers, ids, paths.

Every path into the state (``sdn apply``, ``ncp sync``, a state loaded from disk) builds
the pydantic models, so these rules hold for all of them; a value that breaks one is a
validation error naming the field and quoting the value, never a crash later in a tool
that trusts the model.

They run on every stored object each time a state is loaded, so each is a plain
function with a fast path for the common, valid case (no regular expressions compiled
per call, no ``ipaddress`` objects kept).

Choices (NSX documents the shapes, not every corner):

* Addresses (``IPAddressExpression.ip_addresses``) are what NSX's IPAddressExpression
  takes: an address ``10.0.0.1``, a CIDR ``10.0.0.0/24`` (host bits allowed, as
  Kubernetes' ``ipBlock`` allows them; the network is what counts) or a range
  ``10.0.0.1-10.0.0.9`` (start not after end). IPv6 forms are accepted as NSX accepts
  them, but the engine is IPv4 only: an IPv6 entry is stored and shown, and matches no
  endpoint (``sdn.policy.compiler``).
* Ports are ``N`` or ``LO-HI`` with 1 <= LO <= HI <= 65535. NSX caps a service entry at
  15 port entries; that cap is not in the project's reference, so it is not enforced here
  (``sdn lint`` warns about NCP's own per-policy limit).
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

ANY = "ANY"

MAX_PORT = 65535


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#: An IPv4 address or CIDR with ``ipaddress``' own rules (decimal octets 0-255 without
#: leading zeros; a prefix length 0-32, leading zeros allowed): the fast path of every
#: stored address, one C call instead of ``ipaddress``' several Python ones.
_IPV4_OR_CIDR = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}(?:/0*(?:3[0-2]|[12]?[0-9]))?")


def _address(text: str) -> IPv4Address | IPv6Address | None:
    if "%" in text:  # an IPv6 zone (fe80::1%eth0) means nothing to a firewall
        return None
    try:
        return ip_address(text)
    except ValueError:
        return None


def address_entry_error(text: str) -> str | None:
    """Why ``text`` is not an address, CIDR or range NSX takes; None when it is one.

    A CIDR's prefix is a length (``/24``), not a netmask (``/255.255.255.0``).
    """
    if _IPV4_OR_CIDR.fullmatch(text):
        return None
    if "/" in text:
        base, _, prefix = text.partition("/")
        if _address(base) is None or not (prefix.isascii() and prefix.isdigit()):
            return f"{text!r} is not an IPv4 address, CIDR or range"
        try:
            ip_network(text, strict=False)
        except ValueError:
            return f"{text!r} is not an IPv4 address, CIDR or range"
        return None
    if "-" in text:
        lo_text, _, hi_text = text.partition("-")
        lo, hi = _address(lo_text), _address(hi_text)
        if lo is None or hi is None or lo.version != hi.version:
            return f"{text!r} is not an IPv4 address, CIDR or range"
        if int(lo) > int(hi):
            return f"{text!r}: the range starts after it ends"
        return None
    if _address(text) is None:
        return f"{text!r} is not an IPv4 address, CIDR or range"
    return None


def _check_address_entry(text: str) -> str:
    error = address_entry_error(text)
    if error is not None:
        raise PydanticCustomError("invalid_address", error)
    return text


def port_entry_error(text: str) -> str | None:
    """Why ``text`` is not a port ``N`` or a range ``LO-HI`` (1-65535); None when it is."""
    if text.isdigit() and text.isascii():
        return None if 1 <= int(text) <= MAX_PORT else \
            f"{text!r} is not a port: ports are 1-{MAX_PORT}"
    lo, sep, hi = text.partition("-")
    if not sep or not (lo.isdigit() and lo.isascii() and hi.isdigit() and hi.isascii()):
        return f"{text!r} is not a port or a port range 'LO-HI'"
    if not (1 <= int(lo) <= MAX_PORT and 1 <= int(hi) <= MAX_PORT):
        return f"{text!r} is not a port range: ports are 1-{MAX_PORT}"
    if int(lo) > int(hi):
        return f"{text!r}: the range starts after it ends"
    return None


def port_bounds(text: str) -> tuple[int, int]:
    """``(lo, hi)`` of a valid port entry (``"80"`` is ``(80, 80)``, ``"8000-8080"`` its
    ends): the one reading of the entries the models hold (see :func:`port_entry_error`)."""
    lo, _, hi = text.partition("-")
    return int(lo), int(hi or lo)


def _check_port_entry(text: str) -> str:
    error = port_entry_error(text)
    if error is not None:
        raise PydanticCustomError("invalid_port", error)
    return text


#: Paths and ``ANY`` are checked by patterns in pydantic-core (there are tens of
#: thousands in a large state); :data:`PATTERN_MESSAGES` words their errors.
PATH_PATTERN = r"^/"
PATH_OR_ANY_PATTERN = r"^(?:ANY$|/)"

#: What a value that does not match one of these patterns is not.
PATTERN_MESSAGES = {
    PATH_PATTERN: "is not a Policy path ('/infra/...')",
    PATH_OR_ANY_PATTERN: "is neither 'ANY' nor a Policy path ('/infra/...')",
}


#: One entry of an IPAddressExpression.
AddressEntry = Annotated[str, AfterValidator(_check_address_entry)]
#: One port or port range of an L4 service entry.
PortEntry = Annotated[str, AfterValidator(_check_port_entry)]
#: A group, service or scope reference of a rule or policy: a path or ``ANY``.
PathOrAny = Annotated[str, Field(pattern=PATH_OR_ANY_PATTERN)]
#: A Policy path.
PolicyPath = Annotated[str, Field(pattern=PATH_PATTERN)]
#: An ICMP type or code (one byte).
IcmpNumber = Annotated[int, Field(ge=0, le=255)]
