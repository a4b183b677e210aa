"""``sdn connectivity -o json`` as text, written a source at a time and shared per party.

The answer is ``json.dumps({"connections": [...]}, indent=2)``'s text exactly, written
directly: at 300 pods it is 190,000 entries (30 MB), at 1,000 pods 2.4 million (380 MB),
and the encoder's indenting, done in Python, took most of the command's time, the whole
text most of its memory.

What is shared, and why it is exact:

* Every source of one party (:class:`~sdn.policy.connectivity.Member`) has the same
  answer to every destination (the matrix decides a pair of parties once), so a party's
  row, the entries to every destination in order, is the same text for each of its
  sources but for the source's own name: it is kept as the list of the entries' texts
  after ``"src": NAME`` (:meth:`_Rows.row`) and a source's text is one ``str.join`` of
  that list with its name (in C, not an append per entry in Python).
* A source is never paired with itself (:meth:`~sdn.policy.connectivity.Matrix.paired`),
  and an outside address never with another: an outside party's row holds the pods only,
  and a pod's own entries are cut out of its party's row (they are one slice of it: the
  row keeps where each destination's entries begin).
* A destination's entries for one answer (per protocol, its ports) are formatted once
  (:meth:`_Rows.row`): the matrix numbers its answers, equal ones alike
  (:meth:`~sdn.policy.connectivity.Matrix.numbers_from`).

``--witness`` entries name both ends' addresses, so they are not shared: that writer
(:func:`witness_chunks`) formats every entry, as the command did before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sdn.policy.connectivity import Connection, Matrix, Member, PortRange

_OPEN = '{\n  "connections": ['
_SRC = ',\n    {\n      "src": '
_DST = ',\n      "dst": '


def json_chunks(matrix: Matrix, *, witness: bool = False) -> Iterator[str]:
    """``{"connections": [...]}`` exactly as ``print_json`` writes it (``json.dumps`` with
    ``indent=2``), a source at a time (see the module's doc)."""
    if witness:
        yield from witness_chunks(matrix)
        return
    rows = _Rows(matrix)
    yield _OPEN
    first = True
    for src in matrix.sources:
        parts = rows.parts(src)
        if len(parts) > 1:
            text = (_SRC + rows.quoted[src.label]).join(parts)
            yield text[1:] if first else text  # the first entry has no comma before it
            first = False
    yield "]\n}\n" if first else "\n  ]\n}\n"


class _Rows:
    """The texts of each source party's row (see the module's doc)."""

    def __init__(self, matrix: Matrix) -> None:
        self.matrix = matrix
        self.quoted = {m.label: json.dumps(m.label)
                       for m in (*matrix.sources, *matrix.destinations)}
        self._dst_heads = [_DST + self.quoted[d.label] for d in matrix.destinations]
        #: a pod's position among the destinations, by its endpoint's index
        self._own = {d.endpoint.index: n for n, d in enumerate(matrix.destinations)
                     if d.endpoint.index is not None}
        self._tails: dict[int, list[str]] = {}  # by answer number
        self._entries: dict[int, list[str]] = {}  # by answer number and destination
        self._rows: dict[int, tuple[list[str], list[int]]] = {}  # party -> (row, starts)

    def parts(self, src: Member) -> list[str]:
        """What joined with ``src``'s ``"src"`` text is its entries: ``""`` then the text
        after the name of each entry, its own entries (a pod's to itself) left out."""
        row, starts = self.row(src)
        own = self._own.get(src.endpoint.index) if src.endpoint.index is not None else None
        if own is None:
            return row
        return row[:starts[own]] + row[starts[own + 1]:]

    def row(self, src: Member) -> tuple[list[str], list[int]]:
        """The party's row (``""`` first, then every entry's text after the source's name,
        destinations in order) and where each destination's entries begin in it (one
        more for the end)."""
        found = self._rows.get(src.party)
        if found is not None:
            return found
        numbers = self.matrix.numbers_from(src.party)
        row, starts = [""], []
        entries, count = self._entries, len(self._dst_heads)
        for n, dst in enumerate(self.matrix.destinations):
            starts.append(len(row))
            answer = numbers[dst.party]
            if answer:
                more = entries.get(answer * count + n)
                if more is None:
                    more = entries[answer * count + n] = self._format(n, answer)
                row += more
        starts.append(len(row))
        found = self._rows[src.party] = (row, starts)
        return found

    def _format(self, n: int, answer: int) -> list[str]:
        """The entries to destination ``n`` for the answer numbered ``answer``: the text
        after the source's name of each."""
        tails = self._tails.get(answer)
        if tails is None:
            tails = self._tails[answer] = [
                entry_tail(protocol, None if protocol == "ICMP" else ports)
                for protocol, ports in self.matrix.answer(answer).items()]
        return [self._dst_heads[n] + t for t in tails]


def entry_tail(protocol: str, ports: tuple[PortRange, ...] | None,
               witness: dict[str, Any] | None = None) -> str:
    """An entry's text after ``"dst": NAME`` (``json.dumps``' ``indent=2`` layout)."""
    lines = [f'      "protocol": "{protocol}"']
    if ports is not None:
        ranges = ",\n".join(f"        [\n          {lo},\n          {hi}\n        ]"
                            for lo, hi in ports)
        lines.append(f'      "ports": [\n{ranges}\n      ]')
    if witness is not None:
        inner = ",\n".join(f"        {json.dumps(k)}: {json.dumps(v)}"
                           for k, v in witness.items())
        lines.append(f'      "witness": {{\n{inner}\n      }}')
    return ",\n" + ",\n".join(lines) + "\n    }"


def witness_of(c: Connection) -> dict[str, Any]:
    """One packet of the entry: the first allowed port (none for ICMP)."""
    out: dict[str, Any] = {"src_ip": str(c.src_ip), "dst_ip": str(c.dst_ip),
                           "protocol": c.protocol}
    if c.ports is not None:
        out["dst_port"] = c.ports[0][0]
    return out


def witness_chunks(matrix: Matrix) -> Iterator[str]:
    """The ``--witness`` answer's text, a source at a time, every entry formatted."""
    quoted = {m.label: json.dumps(m.label) for m in (*matrix.sources, *matrix.destinations)}
    yield _OPEN
    first = True
    for src in matrix.sources:
        chunk = [_SRC + quoted[c.src] + _DST + quoted[c.dst]
                 + entry_tail(c.protocol, c.ports, witness_of(c))
                 for c in matrix.row(src)]
        if chunk:
            text = "".join(chunk)
            yield text[1:] if first else text
            first = False
    yield "]\n}\n" if first else "\n  ]\n}\n"
