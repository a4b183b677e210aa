"""Property: ``sdn replay`` says of every flow what ``sdn explain`` says of it, on the
sample topologies, for random flows between any of their addresses (pods, nodes, cluster
IPs and VIPs, outside addresses a policy names or not), protocols and ports (the ones
policies and virtual servers name, and others): the same verdict (ALLOWED, DROPPED,
MIXED) and the same deciding rule, flow by flow, through the whole command (``-o json``),
with flows repeated and grouped as replay groups them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sdn.cli
from tests.support.cli_runs import run_main, sync_sample

SAMPLES = ("guestbook", "multi-tenant", "lb-heavy")
OUTSIDE = ("192.0.2.7", "10.50.1.1", "8.8.8.8")
#: Ports policies and virtual servers name, and one none does.
PORTS = (53, 80, 443, 5432, 6379, 8080, 8443, 12345)


def sdn_json(state: Path, *argv: object) -> Any:
    code, out, err = run_main(sdn.cli.main, "--state", state, *argv, "-o", "json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Each sample synced, with the addresses flows are drawn from."""
    out: dict[str, Any] = {}
    for name in SAMPLES:
        state = tmp_path_factory.mktemp(name) / "state.db"
        sync_sample(state, name)
        ports = [b["ip_address"] for p in sdn_json(state, "show", "segment-ports")
                 for b in p.get("address_bindings", [])]
        vips = [vs["ip_address"] for vs in sdn_json(state, "show", "lb-virtual-servers")]
        out[name] = (state, sorted(ports), sorted({*ports, *vips, *OUTSIDE}))
    yield out


@st.composite
def flows_of(draw: st.DrawFn, ports: list[str],
             addresses: list[str]) -> list[tuple[str, str, str, int | None]]:
    """A few pairs of addresses (ports' more often), then flows between them: pairs
    repeat with other protocols and ports, and pods of one class stand for each other."""
    end = st.one_of(st.sampled_from(ports), st.sampled_from(addresses))
    pairs = draw(st.lists(st.tuples(end, end), min_size=2, max_size=5))
    out = []
    for src, dst in draw(st.lists(st.sampled_from(pairs), min_size=8, max_size=30)):
        protocol = draw(st.sampled_from(["TCP", "TCP", "UDP", "SCTP", "ICMP"]))
        port = None if protocol == "ICMP" else draw(st.sampled_from(PORTS))
        out.append((src, dst, protocol, port))
    return out


def explained(state: Path, src: str, dst: str, protocol: str,
              port: int | None) -> tuple[str, tuple[str | None, str | None]]:
    """``sdn explain``'s verdict and deciding rule and point (the first backend that
    drops, else the first backend's; None: no port enforced anything, or the load
    balancer dropped it)."""
    argv: list[object] = ["explain", "--src", src, "--dst", dst, "--protocol", protocol]
    if port is not None:
        argv += ["--dport", port]
    data = sdn_json(state, *argv)
    backends = data["backends"]
    if not backends:
        return "DROPPED", (None, None)
    deciding = next((b for b in backends if not b["allowed"]), backends[0])["deciding"]
    return data["disposition"], (deciding["path"], deciding["point"]) if deciding \
        else (None, None)


def check(state: Path, flows: list[tuple[str, str, str, int | None]], path: Path) -> None:
    """Replay ``flows`` from a CSV file and explain each: the same answers."""
    path.write_text("".join(f"{s},{d},{p},{'' if n is None else n}\n"
                            for s, d, p, n in flows))
    got = sdn_json(state, "replay", "--flows", path)
    expected = [explained(state, *f) for f in flows]
    assert got["counts"]["flows"] == len(flows)
    assert got["counts"]["allowed"] == sum(v == "ALLOWED" for v, _ in expected)
    assert got["counts"]["mixed"] == sum(v == "MIXED" for v, _ in expected)
    rules: Counter[tuple[str | None, str | None, bool]] = Counter(
        (*rule, verdict == "ALLOWED") for verdict, rule in expected)
    assert {(r["path"], r["point"], allowed): r["allowed" if allowed else "dropped"]
            for r in got["rules"] for allowed in (True, False)
            if r["allowed" if allowed else "dropped"]} == dict(rules)
    dropped = {(e["src"], e["dst"], e["protocol"], e["port"]): e for e in got["dropped"]}
    for flow, (verdict, rule) in zip(flows, expected, strict=True):
        entry = dropped.get(flow)
        if verdict == "ALLOWED":
            assert entry is None, flow
            continue
        assert entry is not None, flow
        assert (entry["disposition"], (entry["rule"]["path"], entry["rule"]["point"])) \
            == (verdict, rule), flow
        assert entry["flows"] == flows.count(flow)


@pytest.mark.parametrize("sample", SAMPLES)
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_replay_equals_explain_flow_by_flow(samples: dict[str, Any], sample: str,
                                             data: st.DataObject, tmp_path: Path) -> None:
    state, ports, addresses = samples[sample]
    flows = data.draw(flows_of(ports, addresses))
    flows = flows + flows[:2]  # repeated flows are counted, not asked again
    check(state, flows, tmp_path / "flows.csv")


def test_every_pair_of_guestbook_addresses(samples: dict[str, Any], tmp_path: Path) -> None:
    """Exhaustively on the smallest sample: every ordered pair of its addresses (pods,
    nodes, cluster IPs, VIPs, outside), with the port its policy allows, one it does not,
    UDP and ICMP."""
    state, _, addresses = samples["guestbook"]
    flows = [(s, d, p, n) for s in addresses for d in addresses
             for p, n in (("TCP", 6379), ("TCP", 80), ("UDP", 53), ("ICMP", None))]
    check(state, flows, tmp_path / "flows.csv")
