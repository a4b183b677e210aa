"""The field validators of the DFW models against oracles written from NSX's rules.

The oracles are deliberately naive and share no code with ``sdn.model.values``: addresses
through ``ipaddress``' classes after splitting the text by hand, ports by integer parsing
of '0'-'9' characters only. Random strings, valid values and valid values with one
character changed are thrown at both; they must agree, and the model (the path every
object takes into the state) must accept exactly what the oracle accepts.
"""

from __future__ import annotations

import ipaddress
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sdn.model import IPAddressExpression, L4PortSetServiceEntry
from sdn.model.values import address_entry_error, port_entry_error

DIGITS = set("0123456789")


def _oracle_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text or "%" in text or text.strip() != text:
        return None
    for cls in (ipaddress.IPv4Address, ipaddress.IPv6Address):
        try:
            return cls(text)
        except ValueError:
            continue
    return None


def oracle_address_entry(text: str) -> bool:
    """NSX's IPAddressExpression: an address, ADDRESS/PREFIXLEN, or FIRST-LAST."""
    if text.count("/") == 1:
        base, prefix = text.split("/")
        address = _oracle_address(base)
        if address is None or not prefix or not set(prefix) <= DIGITS:
            return False
        return int(prefix) <= address.max_prefixlen
    if "/" in text:
        return False
    if text.count("-") == 1:
        first, last = (_oracle_address(p) for p in text.split("-"))
        return (first is not None and last is not None and first.version == last.version
                and int(first) <= int(last))
    return _oracle_address(text) is not None


def oracle_port_entry(text: str) -> bool:
    """A port 1-65535, or LO-HI of two such ports with LO <= HI."""
    parts = text.split("-")
    if len(parts) not in (1, 2) or not all(p and set(p) <= DIGITS for p in parts):
        return False
    numbers = [int(p) for p in parts]
    return all(1 <= n <= 65535 for n in numbers) and numbers[0] <= numbers[-1]


def _mutated(base: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A valid-looking value with one character replaced, inserted or removed."""
    alphabet = st.sampled_from("0123456789.:/-abcdefx %٣²")

    @st.composite
    def build(draw: st.DrawFn) -> str:
        text = draw(base)
        at = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(["replace", "insert", "delete"]))
        ch = draw(alphabet)
        if how == "insert" or not text:
            return text[:at] + ch + text[at:]
        at = min(at, len(text) - 1)
        return text[:at] + ("" if how == "delete" else ch) + text[at + 1:]

    return build()


ipv4 = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
ipv6 = st.integers(0, 2**128 - 1).map(lambda n: str(ipaddress.IPv6Address(n)))
cidr = st.tuples(st.one_of(ipv4, ipv6), st.integers(0, 130)).map(lambda t: f"{t[0]}/{t[1]}")
ranges = st.tuples(ipv4, ipv4).map(lambda t: f"{t[0]}-{t[1]}")
address_like = st.one_of(ipv4, ipv6, cidr, ranges)
addresses = st.one_of(st.text(max_size=20), address_like, _mutated(address_like))

port = st.integers(-5, 70000).map(str)
port_like = st.one_of(port, st.tuples(port, port).map(lambda t: f"{t[0]}-{t[1]}"))
ports = st.one_of(st.text(alphabet=string.printable + "٣²", max_size=12), port_like,
                  _mutated(port_like))


@settings(max_examples=600, deadline=None)
@given(addresses)
def test_address_entries_agree_with_the_oracle(text: str) -> None:
    expected = oracle_address_entry(text)
    assert (address_entry_error(text) is None) == expected
    try:
        IPAddressExpression(ip_addresses=(text,))
        accepted = True
    except ValidationError as err:
        accepted = False
        (error,) = err.errors()
        assert error["loc"] == ("ip_addresses", 0)
        assert repr(text) in error["msg"]
    assert accepted == expected


@settings(max_examples=600, deadline=None)
@given(ports)
def test_port_entries_agree_with_the_oracle(text: str) -> None:
    expected = oracle_port_entry(text)
    assert (port_entry_error(text) is None) == expected
    try:
        L4PortSetServiceEntry(l4_protocol="TCP", destination_ports=(text,))
        accepted = True
    except ValidationError as err:
        accepted = False
        assert [e["loc"] for e in err.errors()] == [("destination_ports", 0)]
    assert accepted == expected


@pytest.mark.parametrize(("text", "ok"), [
    ("10.0.0.1", True), ("10.0.0.0/24", True), ("10.0.0.1/24", True),  # host bits: k8s
    ("10.0.0.1-10.0.0.9", True), ("10.0.0.9-10.0.0.9", True), ("fd00::/64", True),
    ("10.0.0.300/8", False), ("not-an-ip", False), ("10.0.0.9-10.0.0.1", False),
    ("10.0.0.0/33", False), ("10.0.0.0/255.255.255.0", False), ("10.0.0.1-fd00::1", False),
    ("fe80::1%eth0", False), ("", False), (" 10.0.0.1", False), ("10.0.0.0/", False),
], ids=lambda v: repr(v) if isinstance(v, str) else None)
def test_address_examples(text: str, ok: bool) -> None:
    assert (address_entry_error(text) is None) == ok == oracle_address_entry(text)


@pytest.mark.parametrize(("text", "ok"), [
    ("80", True), ("1", True), ("65535", True), ("8000-8080", True), ("443-443", True),
    ("0", False), ("70000", False), ("abc", False), ("100-50", False), ("-5", False),
    ("80-", False), ("1-2-3", False), ("٣", False), (" 80", False), ("+80", False),
], ids=lambda v: repr(v) if isinstance(v, str) else None)
def test_port_examples(text: str, ok: bool) -> None:
    assert (port_entry_error(text) is None) == ok == oracle_port_entry(text)
