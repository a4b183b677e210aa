"""The generated scripts on the real nftables of this kernel, inside throwaway network
namespaces (``sdnt-nft-*``, deleted whatever happens): every namespace's tables load
(``nft -c`` then applied), and a transaction applied on top of the old tables gives
exactly the tables the new ruleset gives applied afresh.

Needs root, ``ip`` and ``nft``: skipped with the reason when missing, failed when
``CI=true`` (CI runs as root and installs both)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdn.dataplane.nftgen import Ruleset, transaction
from sdn.dataplane.nftmodel import digest
from sdn.model import Inventory
from tests.support.nft_cases import (
    chains_touched,
    changed,
    generate,
    load_sample,
    one_policy_changed,
)

SAMPLES = ["guestbook", "multi-tenant", "lb-heavy", "admin", "shared-t1"]


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces and nftables)"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"needs the {tool!r} command"
    return None


class Netns:
    """A throwaway namespace of this test module, with nft run inside it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def nft(self, *args: str, script: str = "") -> str:
        done = subprocess.run(["ip", "netns", "exec", self.name, "nft", *args],
                              input=script, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"nft {' '.join(args)}: {done.stderr}\n{script[:3000]}"
        return done.stdout

    def apply(self, script: str) -> None:
        if script:
            self.nft("-f", "-", script=script)

    def reset(self) -> None:
        self.nft("flush", "ruleset")

    def tables(self) -> dict[str, Any]:
        """Our tables, normalized: sets with sorted elements, chains with their hooks,
        rules in order per chain (handles, counters and listing order left out)."""
        listed = json.loads(self.nft("-j", "-s", "list", "ruleset"))["nftables"]
        out: dict[str, Any] = {}
        for item in listed:
            kind, body = next(iter(item.items()))
            if kind == "metainfo":
                continue
            body = _without_handles(body)
            if kind == "rule":
                out.setdefault(f"rules {body['family']} {body['table']} {body['chain']}",
                               []).append(body["expr"])
            else:
                if "elem" in body:
                    body["elem"] = sorted(body["elem"], key=json.dumps)
                out[f"{kind} {body['family']} {body.get('table', '')} {body['name']}"] = body
        return out


def _without_handles(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _without_handles(v) for k, v in obj.items() if k != "handle"}
    if isinstance(obj, list):
        return [_without_handles(v) for v in obj]
    return obj


@pytest.fixture(scope="module")
def netns() -> Iterator[tuple[Netns, Netns]]:
    """Two throwaway namespaces (one takes transactions, one fresh tables)."""
    missing = _missing()
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {missing}")
        pytest.skip(missing)
    tag = uuid.uuid4().hex[:8]
    made: list[str] = []
    try:
        for side in ("a", "b"):
            name = f"sdnt-nft-{tag}{side}"
            subprocess.run(["ip", "netns", "add", name], check=True, timeout=30)
            made.append(name)
        yield Netns(made[0]), Netns(made[1])
    finally:
        for name in made:
            subprocess.run(["ip", "netns", "del", name], check=False, timeout=30)


@pytest.fixture(scope="module", params=SAMPLES)
def sample(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    return load_sample(tmp_path_factory.mktemp(request.param) / "state.db", request.param)


def test_every_namespaces_tables_load_on_this_kernel(
        netns: tuple[Netns, Netns], sample: Inventory) -> None:
    ns, _ = netns
    _, _, rs = generate(sample)
    assert rs
    for ruleset in rs.values():
        ns.reset()
        script = transaction(None, ruleset)
        ns.nft("-c", "-f", "-", script=script)
        ns.apply(script)
        ns.apply(script)  # a second fresh apply replaces, never merges
        listed = ns.tables()
        assert {k.split()[-1] for k in listed if k.startswith("table ")} \
            == {t.name for t in ruleset.tables}
        ns.apply(transaction(ruleset, None))
        assert ns.tables() == {}


def assert_transaction_equals_fresh(pair: tuple[Netns, Netns], old: dict[str, Ruleset],
                                    new: dict[str, Ruleset]) -> None:
    """For every namespace: old applied then ``transaction(old, new)`` lists exactly as
    ``new`` applied afresh."""
    a, b = pair
    for name in sorted(old.keys() | new.keys()):
        a.reset()
        b.reset()
        a.apply(transaction(None, old.get(name)))
        a.apply(transaction(old.get(name), new.get(name)))
        b.apply(transaction(None, new.get(name)))
        assert a.tables() == b.tables(), name


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_transaction_gives_what_a_fresh_apply_gives(
        netns: tuple[Netns, Netns], sample: Inventory, data: st.DataObject) -> None:
    _, _, old = generate(sample)
    _, _, new = generate(changed(sample, data))
    assert_transaction_equals_fresh(netns, old, new)


def test_a_one_policy_change_applies_in_one_transaction(
        netns: tuple[Netns, Netns], tmp_path: Path) -> None:
    """The script of a one-policy change flushes and refills only that policy's chains,
    and applies to the very tables a fresh apply gives."""
    inv = load_sample(tmp_path / "state.db", "multi-tenant")
    _, _, old = generate(inv)
    changed_inv, policy = one_policy_changed(inv)
    _, _, new = generate(changed_inv)
    mine = {f"pol_{digest(policy.path)}_{d}" for d in ("in", "out", "inlb")}
    scripts = [transaction(old.get(n), new.get(n)) for n in old.keys() | new]
    assert any(scripts) and all(chains_touched(s) <= mine for s in scripts)
    assert_transaction_equals_fresh(netns, old, new)
