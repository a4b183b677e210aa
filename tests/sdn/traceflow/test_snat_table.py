"""The SNAT rule a walk applies: the first enabled SNAT rule of the gateway, in NSX order
(sequence number, then path), whose source holds the packet's source; checked against a
brute-force scan of every rule on random rule sets."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

from hypothesis import given, settings
from hypothesis import strategies as st

from sdn.model import Inventory, NatRule
from sdn.model.nat import nat_rule_path
from sdn.traceflow.lookups import snat_entry
from sdn.traceflow.walk import _SnatTables

GATEWAY = "/infra/tier-0s/t0"
SOURCES = ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3/32", "10.2.0.5-10.2.0.9",
           "10.1.0.0/16, 10.3.0.0/16", None]


def _rule(number: int, source: str | None, sequence: int, enabled: bool = True) -> NatRule:
    return NatRule(id=f"r{number:02d}", path=nat_rule_path(GATEWAY, f"r{number:02d}"),
                   parent_path=f"{GATEWAY}/nat/USER", action="SNAT", source_network=source,
                   translated_network=f"192.0.2.{number}", sequence_number=sequence,
                   enabled=enabled)


def _oracle(rules: list[NatRule], src: IPv4Address) -> str | None:
    """Every enabled rule scanned: the first in (sequence, path) order that holds src."""
    def holds(rule: NatRule) -> bool:
        if rule.source_network is None:
            return True
        for item in rule.source_network.split(","):
            first = item.strip().split("-")[0]
            if src in IPv4Network(first, strict=False):
                return True
        return False
    found = sorted((r.sequence_number, r.path) for r in rules if r.enabled and holds(r))
    return found[0][1] if found else None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SOURCES), st.integers(0, 3), st.booleans()),
                min_size=1, max_size=8),
       st.sampled_from(["10.1.2.3", "10.1.2.4", "10.1.9.9", "10.9.9.9", "10.2.0.5",
                        "10.2.0.7", "10.3.1.1", "11.0.0.1"]))
def test_the_walk_picks_the_rule_a_full_scan_picks(
        specs: list[tuple[str | None, int, bool]], source: str) -> None:
    rules = [_rule(n, src, seq, on) for n, (src, seq, on) in enumerate(specs)]
    entries = {GATEWAY: tuple(snat_entry(r) for r in rules if r.enabled)}
    tables = _SnatTables(entries, Inventory(rules))
    found = tables[GATEWAY].lookup(IPv4Address(source))
    assert (found.path if found is not None else None) == _oracle(rules, IPv4Address(source))
