"""The allocators against naive oracles: lowest free first, never twice, holds respected."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdn.ipam import AddressAllocator, Hold, SubnetAllocator, first_free, subnet_host_range

BLOCK = IPv4Network("10.0.0.0/22")


def naive_subnets(block: IPv4Network, prefix: int, taken: list[IPv4Network]) -> list[IPv4Network]:
    """Every free aligned subnet of the block, in order (the oracle)."""
    return [s for s in block.subnets(new_prefix=prefix) if not any(s.overlaps(t) for t in taken)]


@settings(max_examples=100, deadline=None)
@given(prefix=st.integers(min_value=24, max_value=28),
       taken=st.lists(st.tuples(st.integers(0, 1023), st.integers(24, 30)), max_size=8),
       count=st.integers(min_value=1, max_value=20))
def test_subnets_are_lowest_free_first(prefix: int, taken: list[tuple[int, int]],
                                       count: int) -> None:
    taken_nets = [IPv4Network((int(BLOCK.network_address) + (o >> (32 - p) << (32 - p)), p))
                  for o, p in taken]
    alloc = SubnetAllocator([("b", BLOCK)], taken=taken_nets)
    got = [alloc.allocate(["b"], prefix) for _ in range(count)]
    oracle = naive_subnets(BLOCK, prefix, taken_nets)[:count]
    assert [g[1] for g in got if g is not None] == oracle
    assert got.count(None) == count - len(oracle)


@settings(max_examples=100, deadline=None)
@given(used=st.sets(st.integers(10, 40), max_size=20),
       held=st.sets(st.integers(10, 40), max_size=10),
       until=st.floats(min_value=0, max_value=200), now=st.floats(min_value=0, max_value=200))
def test_addresses_skip_used_and_active_holds(used: set[int], held: set[int], until: float,
                                               now: float) -> None:
    holds = [Hold("p", IPv4Network(IPv4Address(h)), until) for h in held]
    alloc = AddressAllocator([(10, 40)], used=used, holds=holds, now=now)
    got = []
    while (ip := alloc.allocate()) is not None:
        got.append(int(ip))
    blocked = used | (held if until > now else set())
    assert got == [i for i in range(10, 41) if i not in blocked]


@pytest.mark.parametrize(("cidr", "expected"), [
    pytest.param("10.0.0.0/24", ("10.0.0.2", "10.0.0.254"), id="slash24"),
    pytest.param("10.0.0.0/30", ("10.0.0.2", "10.0.0.2"), id="slash30-one-host"),
    pytest.param("10.0.0.0/31", None, id="slash31-nothing"),
])
def test_subnet_host_range_reserves_network_gateway_broadcast(cidr: str, expected: object) -> None:
    span = subnet_host_range(IPv4Network(cidr))
    if expected is None:
        assert span is None
    else:
        assert span == tuple(int(IPv4Address(a)) for a in expected)  # type: ignore[union-attr]


def test_blocks_are_used_in_order() -> None:
    alloc = SubnetAllocator([("a", IPv4Network("10.0.0.0/24")),
                             ("b", IPv4Network("10.1.0.0/24"))])
    got = [alloc.allocate(["a", "b"], 25) for _ in range(5)]
    assert got == [("a", IPv4Network("10.0.0.0/25")), ("a", IPv4Network("10.0.0.128/25")),
                   ("b", IPv4Network("10.1.0.0/25")), ("b", IPv4Network("10.1.0.128/25")), None]


def test_add_range_resumes_after_exhaustion() -> None:
    alloc = AddressAllocator([(1, 2)])
    assert [int(alloc.allocate() or 0) for _ in range(3)] == [1, 2, 0]
    alloc.add_range(100, 101)
    assert [int(alloc.allocate() or 0) for _ in range(3)] == [100, 101, 0]


def test_take_refuses_used_held_and_outside() -> None:
    alloc = AddressAllocator([(1, 10)], used=[3], holds=[Hold("p", IPv4Network("0.0.0.4/32"), 9)],
                             now=5)
    assert not alloc.take(IPv4Address(3))
    assert not alloc.take(IPv4Address(4))
    assert not alloc.take(IPv4Address(11))
    assert alloc.take(IPv4Address(5))
    assert not alloc.take(IPv4Address(5))


@given(ranges=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 8)), min_size=1,
                       max_size=3),
       used=st.sets(st.integers(0, 70), max_size=40),
       holds=st.lists(st.tuples(st.integers(0, 70), st.sampled_from([32, 31, 30]),
                                st.booleans()), max_size=6))
def test_first_free_is_what_the_allocator_hands_out_first(
        ranges: list[tuple[int, int]], used: set[int],
        holds: list[tuple[int, int, bool]]) -> None:
    spans = [(lo, lo + n) for lo, n in ranges]
    hs = [Hold("/p", IPv4Network((a, p), strict=False), 200.0 if active else 50.0)
          for a, p, active in holds]
    oracle = AddressAllocator(spans, used=used, holds=hs, now=100.0).allocate()
    assert first_free(spans, used, hs, 100.0) == oracle
