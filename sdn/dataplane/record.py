"""What a realize made on this host, kept where the namespaces live and die: one JSON
file per owner under :data:`RUN_DIR` (a tmpfs: a reboot clears it together with the
namespaces it describes).

``sdn realize`` writes it after every run (atomically: a temporary file renamed); ``sdn
verify`` and ``sdn traceflow --live`` read it to find each port's namespace and address
without recomputing the layout; ``sdn realize --teardown`` removes it last. Its public
part is exactly ``sdn realize -o json`` without ``changes`` (DESIGN.md, "Data plane");
``private`` is the realizer's own bookkeeping (what it applied, to diff against next
time), which nobody else reads.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdn.dataplane.layout import Layout

#: Where the records live (override with ``SDN_RUN_DIR``, e.g. in tests).
RUN_DIR = Path("/run/sdn")


def run_dir() -> Path:
    """The records' folder (``$SDN_RUN_DIR`` or :data:`RUN_DIR`)."""
    return Path(os.environ.get("SDN_RUN_DIR", RUN_DIR))


def record_path(tag: str) -> Path:
    """The record of the owner ``tag`` (:func:`~sdn.dataplane.layout.owner_tag`)."""
    return run_dir() / f"{tag}.json"


@dataclass(frozen=True)
class RealizedPort:
    """A realized port as ``sdn realize -o json`` lists it."""

    path: str
    pod: str
    cluster: str | None
    netns: str
    interface: str
    ip: str
    mac: str


@dataclass(frozen=True)
class Realized:
    """One owner's realization: the state revision, its ports, the gateways' namespaces
    and the outside network."""

    state: str
    revision: int
    ports: tuple[RealizedPort, ...]
    gateways: dict[str, str]
    outside_netns: str
    outside_addresses: tuple[str, ...]
    private: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, layout: Layout, state: str, revision: int,
           private: dict[str, Any] | None = None) -> Realized:
        """The record of ``layout`` realized from ``state`` at ``revision``."""
        ports = tuple(RealizedPort(p.path, p.pod, p.cluster, p.netns, p.interface,
                                   str(p.ip.ip), p.mac)
                      for p in sorted(layout.ports.values(), key=lambda p: p.path))
        gateways = {path: r.netns for path, r in sorted(layout.routers.items())
                    if r.kind != "isolated"}
        return cls(state, revision, ports, gateways, layout.outside.netns,
                   tuple(str(a) for a in layout.outside.addresses), dict(private or {}))

    def public(self) -> dict[str, Any]:
        """The DESIGN.md shape (``sdn realize -o json`` without ``changes``)."""
        return {
            "revision": self.revision,
            "ports": [{"path": p.path, "pod": p.pod, "cluster": p.cluster, "netns": p.netns,
                       "interface": p.interface, "ip": p.ip, "mac": p.mac}
                      for p in self.ports],
            "gateways": [{"path": path, "netns": netns}
                         for path, netns in self.gateways.items()],
            "outside": {"netns": self.outside_netns,
                        "addresses": list(self.outside_addresses)},
        }

    def port(self, name: str) -> RealizedPort | None:
        """A port by path or by ``NS/POD``."""
        return next((p for p in self.ports if name in (p.path, p.pod)), None)


def save(tag: str, realized: Realized) -> Path:
    """Write the record of ``tag`` atomically (a reader sees the old one or the new one)."""
    path = record_path(tag)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body = {"state": realized.state, **realized.public(), "private": realized.private}
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{tag}.",
                                     delete=False) as out:
        out.write(json.dumps(body, sort_keys=True))  # dumps: C-encoded, dump is not
    os.replace(out.name, path)
    return path


def load(tag: str) -> Realized | None:
    """The record of ``tag``, or None when nothing is realized (or the file is not one
    of ours: a record that does not parse is treated as absent, never trusted)."""
    try:
        body = json.loads(record_path(tag).read_text())
        ports = tuple(RealizedPort(p["path"], p["pod"], p["cluster"], p["netns"],
                                   p["interface"], p["ip"], p["mac"]) for p in body["ports"])
        return Realized(str(body["state"]), int(body["revision"]), ports,
                        {g["path"]: g["netns"] for g in body["gateways"]},
                        body["outside"]["netns"], tuple(body["outside"]["addresses"]),
                        dict(body.get("private") or {}))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def forget(tag: str) -> None:
    """Remove the record of ``tag`` (teardown's last step; absent is fine)."""
    record_path(tag).unlink(missing_ok=True)
