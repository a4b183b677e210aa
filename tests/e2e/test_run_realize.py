"""``ncp run --cluster DIR --realize`` as a process (root): the data plane follows a folder
of manifests. At start the pods' namespaces exist with the state's addresses; a pod
manifest added gets its namespace, deleted loses it; a NetworkPolicy added changes the
nftables rules (its rule ids appear as comments) and ``sdn verify`` agrees with the
simulator; SIGTERM leaves the data plane as it is, and ``sdn realize --teardown`` then
leaves the host as before. (The refusal without root runs on any host:
tests/ncp/live/test_realizer.py.)"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdn.dataplane import record
from sdn.dataplane.layout import netns_prefix, owner_tag
from sdn.dataplane.realize import teardown
from sdn.model import SecurityPolicy
from sdn.store import Store
from tests.support.dataplane import (
    EGRESS_POLICY,
    host_snapshot,
    needs_root_dataplane,
    netns_json,
)
from tests.support.live import wait

__all__ = ["needs_root_dataplane"]  # the fixture, used by name
pytestmark = pytest.mark.usefixtures("needs_root_dataplane")

REPO = Path(__file__).resolve().parents[2]

_POD = """apiVersion: v1
kind: Pod
metadata:
  name: extra
  namespace: default
  labels:
    app: extra
spec:
  containers:
    - name: c
      image: x
"""



def ports(tag: str) -> dict[str, record.RealizedPort]:
    """The realized ports by pod, as the record says (none before the first realize)."""
    found = record.load(tag)
    return {} if found is None else {p.pod: p for p in found.ports}


def address_of(netns: str) -> str | None:
    """The IPv4 address on ``eth0`` in ``netns`` (None: no such namespace or address)."""
    if not Path("/run/netns", netns).exists():
        return None
    try:
        links = netns_json(netns, "-4", "addr", "show", "dev", "eth0")
    except subprocess.CalledProcessError:
        return None
    infos = [a for link in links for a in link.get("addr_info", [])]  # type: ignore[attr-defined]
    return str(infos[0]["local"]) if infos else None


def realized_as_stated(tag: str, pods: set[str]) -> bool:
    """Every pod of ``pods`` realized, in a namespace that carries the state's address."""
    found = ports(tag)
    return pods <= set(found) and all(address_of(found[p].netns) == found[p].ip for p in pods)


def rule_comments(tag: str) -> set[str]:
    """The ``rule <id>`` comments of every router namespace's ``inet sdn_dfw`` table."""
    found = record.load(tag)
    comments: set[str] = set()
    for netns in set(found.gateways.values()) if found else ():
        out = subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "table", "inet",
                              "sdn_dfw"], text=True, capture_output=True, check=False).stdout
        comments |= set(re.findall(r'comment "(rule [^"]+)"', out))
    return comments


def policy_rules(state: Path, name: str) -> set[str]:
    with Store.open_readonly(state) as store:
        return {f"rule {r.rule_id}" for p in store.inventory().of_type(SecurityPolicy)
                if p.tag("ncp/network_policy") == name for r in p.rules}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of guestbook; whatever the test left realized is torn down at the end."""
    monkeypatch.setenv("SDN_RUN_DIR", str(tmp_path / "run"))
    shutil.copytree(REPO / "topologies" / "guestbook", tmp_path / "cluster")
    try:
        yield tmp_path / "cluster"
    finally:
        teardown(str(tmp_path / "state.db"))


def test_ncp_run_realize_follows_the_folder(folder: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    tag = owner_tag(state)
    before = host_snapshot(netns_prefix(tag))
    env = {**os.environ, "PYTHONPATH": str(REPO), "SDN_RUN_DIR": str(tmp_path / "run")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ncp.cli", "run", "--cluster", str(folder), "--state",
         str(state), "--realize", "--log-format", "json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    try:
        guestbook = {"default/frontend-0", "default/frontend-1", "default/frontend-2",
                     "default/redis-master-0", "default/redis-slave-0",
                     "default/redis-slave-1"}
        wait(lambda: realized_as_stated(tag, guestbook), 60, "the guestbook realized")

        (folder / "extra.yaml").write_text(_POD)
        wait(lambda: realized_as_stated(tag, {"default/extra"}), 60, "the new pod's namespace")
        extra = ports(tag)["default/extra"].netns

        (folder / "extra.yaml").unlink()
        # the namespace goes first; the record says so when that realize has finished
        wait(lambda: not Path("/run/netns", extra).exists()
             and "default/extra" not in ports(tag), 60, "the pod's namespace gone")
        assert {pod for pod in ports(tag) if "/" in pod} == guestbook  # and the nodes
        assert realized_as_stated(tag, guestbook)  # the others kept theirs

        rules_before = rule_comments(tag)
        (folder / "egress.yaml").write_text(EGRESS_POLICY)
        wait(lambda: bool(policy_rules(state, "slaves-reach-only-the-master")), 60,
             "the policy in the state")
        new = policy_rules(state, "slaves-reach-only-the-master")
        assert not new & rules_before
        wait(lambda: new <= rule_comments(tag), 60, "the policy's rules in nftables")
        verify = subprocess.run(
            [sys.executable, "-m", "sdn", "verify", "--state", str(state), "--port", "6379",
             "-o", "json"], text=True, capture_output=True, env=env, timeout=120)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        result = json.loads(verify.stdout)
        assert result["probes"] > 0 and result["disagreements"] == []
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        logs = proc.stderr.read() if proc.stderr else ""
    assert code == 0, logs
    messages = [json.loads(line)["message"] for line in logs.splitlines()
                if line.startswith("{")]
    realized = [m for m in messages if m.startswith("realized state revision")]
    assert realized and all(m.endswith("(kernel objects)") for m in realized)
    assert not [m for m in messages if m.startswith("realize failed")]
    assert realized_as_stated(tag, guestbook)  # left as it is on exit

    down = subprocess.run([sys.executable, "-m", "sdn", "realize", "--teardown", "--state",
                           str(state)], text=True, capture_output=True, env=env, timeout=120)
    assert down.returncode == 0, down.stderr
    assert host_snapshot(netns_prefix(tag)) == before


def test_ncp_run_once_realize_realizes_before_it_exits(folder: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    env = {**os.environ, "PYTHONPATH": str(REPO), "SDN_RUN_DIR": str(tmp_path / "run")}
    done = subprocess.run(
        [sys.executable, "-m", "ncp.cli", "run", "--once", "--cluster", str(folder),
         "--state", str(state), "--realize"], text=True, capture_output=True, env=env,
        timeout=120)
    assert done.returncode == 0, done.stderr
    found = record.load(owner_tag(state))
    assert found is not None and found.private.get("dirty") == []
    with Store.open_readonly(state) as store:
        assert found.revision == store.revision
    assert realized_as_stated(owner_tag(state), {"default/frontend-0", "default/redis-master-0"})


def test_ncp_run_once_realize_exits_2_when_the_realize_failed(
        folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import ncp.cli
    import sdn.dataplane.realize
    from sdn.errors import DataplaneError

    def broken(*_args: object, **_kwargs: object) -> None:
        raise DataplaneError("nft said no", code="DATAPLANE_APPLY_FAILED")

    monkeypatch.setattr(sdn.dataplane.realize, "realize", broken)
    state = tmp_path / "state.db"
    code = ncp.cli.main(["run", "--once", "--cluster", str(folder), "--state", str(state),
                         "--realize"])
    err = capsys.readouterr().err
    assert code == 2
    assert "error: DATAPLANE_APPLY_FAILED: nft said no" in err.splitlines()
    assert record.load(owner_tag(state)) is None
