"""A tiny interpreter of :class:`~sdn.dataplane.nftmodel.Ruleset` values, written apart
from the generator (it reads the structure, never the generator's helpers), so tests can
check what the generated tables decide against what the simulator decides.

It knows exactly the expressions the generator emits: ``ct state`` (every packet here
opens a new connection, so ``established,related`` never matches), ``ip saddr``/``ip
daddr`` against literal addresses or named sets (elements: address, CIDR, ``lo-hi``),
``meta l4proto``, ``th dport``/``th sport``, ``oifname``/``iifname``, ``meta mark & X ==``,
mark statements, ``accept``/``drop``/``reject``/``return``, ``jump``/``goto`` and
``<key> vmap @map``. Anything else raises, so a new expression cannot pass unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

from sdn.dataplane.nftmodel import Chain, Match, Rule, Table

PROTOCOLS = {"icmp": 1, "tcp": 6, "udp": 17, "sctp": 132}


@dataclass
class Packet:
    """What the interpreted rules look at."""

    src: IPv4Address
    dst: IPv4Address
    protocol: int
    dport: int | None = None
    sport: int | None = None
    iif: str = ""
    oif: str = ""
    mark: int = 0
    seen: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """The verdict that ended the base chain (``accept`` by policy when none did), the
    comment of the rule that gave it and the statements met on the way."""

    verdict: str
    comment: str
    statements: tuple[str, ...] = ()


def _in_element(value: int, element: str) -> bool:
    if "-" in element and "/" not in element and element.count(".") == 6:
        lo, hi = element.split("-")
        return int(IPv4Address(lo)) <= value <= int(IPv4Address(hi))
    if "." in element:
        return IPv4Address(value) in IPv4Network(element, strict=False)
    if "-" in element:
        lo, hi = element.split("-")
        return int(lo) <= value <= int(hi)
    return value == int(element)


class Interpreter:
    """Runs one packet through one table's chains."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.chains = {c.name: c for c in table.chains}
        self.sets = {s.name: s for s in table.sets}

    def _values(self, m: Match) -> list[str]:
        if len(m.values) == 1 and m.values[0].startswith("@"):
            return [k for k, _ in self.sets[m.values[0][1:]].elements]
        return list(m.values)

    def _field(self, key: str, p: Packet) -> int | str | None:
        if key == "ip saddr":
            return int(p.src)
        if key == "ip daddr":
            return int(p.dst)
        if key == "th dport":
            return p.dport
        if key == "th sport":
            return p.sport
        if key == "iifname":
            return f'"{p.iif}"'
        if key == "oifname":
            return f'"{p.oif}"'
        raise AssertionError(f"unknown match key {key!r}")

    def matches(self, m: Match, p: Packet) -> bool:
        if m.key == "ct state":
            hit = False  # every packet here is new
        elif m.key == "meta l4proto":
            hit = any(PROTOCOLS.get(v, int(v) if v.isdigit() else -1) == p.protocol
                      for v in m.values)
        elif m.key.startswith("meta mark & ") and m.key.endswith(" =="):
            mask = int(m.key.split()[3], 16)
            hit = (p.mark & mask) == int(m.values[0], 16)
        else:
            value = self._field(m.key, p)
            if value is None:
                hit = False
            elif isinstance(value, str):
                hit = value in self._values(m)
            else:
                hit = any(_in_element(value, e) for e in self._values(m))
        return hit != m.negate

    def run(self, chain: str, p: Packet) -> Outcome:
        """The outcome of base chain ``chain`` for ``p``."""
        found = self._chain(self.chains[chain], p, [])
        return found or Outcome("accept", "")

    def _statement(self, s: str, p: Packet) -> None:
        if s.startswith("meta mark set meta mark & "):
            p.mark &= int(s.rsplit(" ", 1)[1], 16)
        elif s.startswith("meta mark set meta mark | "):
            p.mark |= int(s.rsplit(" ", 1)[1], 16)

    def _chain(self, chain: Chain, p: Packet, statements: list[str]) -> Outcome | None:
        """None: fell off the end (or ``return``) without a final verdict."""
        for rule in chain.rules:
            if not all(self.matches(m, p) for m in rule.matches):
                continue
            for s in rule.statements:
                self._statement(s, p)
                statements.append(s)
            if rule.comment:
                p.seen.append(rule.comment)
            outcome = self._verdict(rule, p, statements)
            if outcome == "return":
                return None
            if outcome is not None:
                return outcome
        return None

    def _verdict(self, rule: Rule, p: Packet, statements: list[str]) -> Outcome | str | None:
        v = rule.verdict
        if v in ("accept", "drop", "reject"):
            return Outcome(v, rule.comment, tuple(statements))
        if v == "return":
            return "return"
        if not v:
            return Outcome("accept", rule.comment, tuple(statements)) \
                if any(s.startswith(("dnat", "snat")) for s in rule.statements) else None
        words = v.split()
        if words[0] in ("jump", "goto"):
            found = self._chain(self.chains[words[1]], p, statements)
            return found if words[0] == "jump" else (found or "return")
        if words[-2] == "vmap":
            key = self._field(" ".join(words[:-2]), p)
            target = dict(self.sets[words[-1][1:]].elements).get(str(IPv4Address(key))) \
                if isinstance(key, int) else None
            if target is None:
                return None
            return self._verdict(Rule(verdict=target), p, statements)
        raise AssertionError(f"unknown verdict {v!r}")
