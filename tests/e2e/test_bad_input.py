"""Bad input through ``ncp sync``: exit codes per DESIGN.md, the state never half-written.

* Bad *objects* (exit 1): each is named with its code; everything else is realized.
* Input not read in full (exit 2): a missing path, a file that does not parse or cannot
  be read, a document that cannot be identified, an empty input for a cluster the state
  holds; every problem is printed and nothing is written (a sync never deletes what it
  merely failed to read).
* Unusable *arguments* (exit 2): a config or profile that cannot be used; nothing is
  written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.statefiles import every_table

GUESTBOOK_PODS = {"frontend-0", "frontend-1", "frontend-2", "redis-master-0",
                  "redis-slave-0", "redis-slave-1"}

#: A label key NSX cannot hold as a tag scope (> 128 characters) that Kubernetes accepts
#: (DNS-subdomain prefix of at most 253 characters, name of at most 63).
LONG_KEY = f"{'a' * 60}.{'b' * 60}.example.com/component"
assert len(LONG_KEY) > 128


def _bad_objects(k8s: Any) -> dict[str, Any]:
    """Case id -> (files to add: name -> docs or raw text, code, object, unrealized pod)."""
    many = {f"label-{i:02d}": "x" for i in range(30)}
    return {
        "namespace-not-found": (
            {"orphan.yaml": [k8s.pod("orphan", "nope")]},
            "NAMESPACE_NOT_FOUND", "Pod/nope/orphan", ("nope", "orphan")),
        "30-labels": (
            {"many.yaml": [k8s.pod("many", labels=many)]},
            "TAG_LIMIT_EXCEEDED", "Pod/default/many", ("default", "many")),
        "label-key-too-long": (
            {"longkey.yaml": [k8s.pod("longkey", labels={LONG_KEY: "v", "app": "x"})]},
            "TAG_SCOPE_TOO_LONG", "Pod/default/longkey", ("default", "longkey")),
        "duplicate-pod": (
            {"dup-a.yaml": [k8s.pod("twin")], "dup-b.yaml": [k8s.pod("twin")]},
            "DUPLICATE_OBJECT", "twin", None),
        "duplicate-deployment": (
            {"zz-frontend-again.yaml": (Path(__file__).resolve().parents[2] / "topologies"
                                        / "guestbook" / "frontend.yaml").read_text()},
            "DUPLICATE_OBJECT", "frontend", None),
        "unknown-node": (
            {"pinned.yaml": [k8s.pod("pinned", nodeName="worker-9")]},
            "NODE_NOT_FOUND", "Pod/default/pinned", ("default", "pinned")),
        "static-snat-ip-outside-pool": (
            {"ns.yaml": [k8s.namespace("pinned", {"ncp/static_snat_ip": "192.0.2.5"})]},
            "IP_NOT_IN_POOL", "Namespace/pinned", None),
    }


BAD_OBJECT_CASES = ["namespace-not-found", "30-labels", "label-key-too-long",
                    "duplicate-pod", "duplicate-deployment", "unknown-node",
                    "static-snat-ip-outside-pool"]


def _add(folder: Path, files: dict[str, Any], cli: Any) -> None:
    for name, content in files.items():
        if isinstance(content, str):
            (folder / name).write_text(content)
        else:
            cli.write_yaml(folder / name, *content)


@pytest.mark.parametrize("case", [pytest.param(c, id=c) for c in BAD_OBJECT_CASES])
def test_bad_object_is_named_and_the_rest_realized(cli: Any, k8s: Any, tags: Any,
                                                    case: str) -> None:
    files, code, obj, unrealized = _bad_objects(k8s)[case]
    folder = cli.copy_sample(cli.GUESTBOOK)
    _add(folder, files, cli)
    res = cli.sync(folder)
    assert res.code == 1, res.out
    report = res.json()
    matching = [p for p in report["problems"] if p["code"] == code]
    assert matching, report["problems"]
    assert any(obj in p["object"] or obj in p["message"] for p in matching), matching
    # One bad object blocks nothing else: the guestbook is whole.
    ports = {p["id"] for p in cli.show("segment-ports", "--namespace", "default")}
    assert ports >= GUESTBOOK_PODS
    assert report["realized"]["nodes"] == 3
    if unrealized is not None:
        ns, name = unrealized
        assert not cli.show("segment-ports", "--tag", f"ncp/pod={name}",
                            "--tag", f"ncp/project={ns}")
    # What was written is consistent.
    assert cli.sdn("validate", "--state", cli.state).code == 0
    assert cli.sdn("ipam", "check", "--state", cli.state).code == 0
    # The table output names the problem too.
    table = cli.sync(folder, output="table")
    assert table.code == 1
    assert code in table.out


def test_duplicate_pod_keeps_the_first(cli: Any, k8s: Any) -> None:
    folder = cli.copy_sample(cli.GUESTBOOK)
    cli.write_yaml(folder / "dup-a.yaml", k8s.pod("twin", labels={"from": "a"}))
    cli.write_yaml(folder / "dup-b.yaml", k8s.pod("twin", labels={"from": "b"}))
    assert cli.sync(folder).code == 1
    (port,) = cli.show("segment-ports", "--tag", "ncp/pod=twin")
    assert {"scope": "from", "tag": "a"} in port["tags"]


def test_static_snat_ip_outside_pool_status(cli: Any, k8s: Any, tags: Any) -> None:
    folder = cli.copy_sample(cli.GUESTBOOK)
    cli.write_yaml(folder / "ns.yaml",
                   k8s.namespace("pinned", {"ncp/static_snat_ip": "192.0.2.5"}),
                   k8s.pod("p", "pinned"))
    res = cli.sync(folder)
    assert res.code == 1
    report = res.json()
    ann = report["namespaces"]["pinned"]
    assert ann["ncp/snat_ip_status"] == "IP_NOT_IN_POOL"
    assert "ncp/snat_ip" not in ann
    assert [p["object"] for p in report["problems"]] == ["Namespace/pinned"]
    # No SNAT rule, no pool allocation for it; the other namespaces keep theirs.
    rules = cli.show("nat-rules")
    assert not [r for r in rules if tags(r).get("ncp/project") == "pinned"]
    assert {tags(r).get("ncp/project") for r in rules} >= {"default", "kube-public",
                                                           "kube-system"}


def test_unknown_kind_is_a_note(cli: Any) -> None:
    folder = cli.copy_sample(cli.GUESTBOOK)
    cli.write_yaml(folder / "cm.yaml", {"apiVersion": "v1", "kind": "ConfigMap",
                                        "metadata": {"name": "settings",
                                                     "namespace": "default"},
                                        "data": {"a": "b"}})
    res = cli.sync(folder)
    assert res.code == 0, res.out
    report = res.json()
    assert report["problems"] == []
    assert any("ConfigMap" in n and "settings" in n for n in report["notes"])
    table = cli.sync(folder, output="table", state=cli.tmp / "other.db")
    assert table.code == 0
    assert "note:" in table.out and "ConfigMap" in table.out


# --- input not read in full: exit 2, every problem printed, nothing written -------------


BROKEN_YAML = "apiVersion: v1\nkind: Pod\nmetadata: {name: x\n  namespace: d\n"


def _incomplete(cli: Any, k8s: Any, folder: Path) -> dict[str, tuple[list[Path], list[str]]]:
    """Case id -> (``--cluster`` paths, [(code, text naming the object), ...] expected).

    ``folder`` is a private copy of the guestbook (the cluster the state holds)."""
    def add(name: str, text: str | bytes) -> Path:
        path = folder / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return path

    empty = cli.tmp / "empty"
    cases: dict[str, Any] = {
        "misspelt-path": lambda: ([cli.tmp / "misspelt"], [("PATH_NOT_FOUND", "misspelt")]),
        "second-path-missing": lambda: ([folder, cli.tmp / "gone.yaml"],
                                        [("PATH_NOT_FOUND", "gone.yaml")]),
        "malformed-yaml": lambda: (add("broken.yaml", BROKEN_YAML) and [folder],
                                   [("MALFORMED_MANIFEST", "broken.yaml")]),
        "malformed-json": lambda: (add("broken.json", '{"kind": "Pod", ') and [folder],
                                   [("MALFORMED_MANIFEST", "broken.json")]),
        "not-utf8": lambda: (add("latin1.yaml", b"kind: Pod\nname: caf\xe9\n") and [folder],
                             [("MALFORMED_MANIFEST", "latin1.yaml")]),
        "dangling-symlink": lambda: (
            (folder / "link.yaml").symlink_to(cli.tmp / "nowhere.yaml") or [folder],
            [("UNREADABLE_FILE", "link.yaml")]),
        "document-without-kind": lambda: (
            add("nokind.yaml", "apiVersion: v1\nmetadata: {name: web}\n") and [folder],
            [("INVALID_OBJECT", "nokind.yaml")]),
        "document-without-name": lambda: (
            add("noname.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {}\n") and [folder],
            [("INVALID_OBJECT", "noname.yaml")]),
        "two-broken-files": lambda: (
            add("a-broken.yaml", BROKEN_YAML) and add("b-broken.json", "[") and [folder],
            [("MALFORMED_MANIFEST", "a-broken.yaml"), ("MALFORMED_MANIFEST", "b-broken.json")]),
        "empty-folder": lambda: (empty.mkdir() or [empty], [("EMPTY_INPUT", "k8s-cluster")]),
        "empty-file": lambda: ([add("../empty.yaml", "")], [("EMPTY_INPUT", "k8s-cluster")]),
        "only-unused-kinds": lambda: (
            [cli.write_yaml("cm/cm.yaml", {"apiVersion": "v1", "kind": "ConfigMap",
                                           "metadata": {"name": "settings"}})],
            [("EMPTY_INPUT", "k8s-cluster")]),
    }
    return cases  # built lazily: each case makes only its own files


INCOMPLETE = ["misspelt-path", "second-path-missing", "malformed-yaml", "malformed-json",
              "not-utf8", "dangling-symlink", "document-without-kind",
              "document-without-name", "two-broken-files", "empty-folder", "empty-file",
              "only-unused-kinds"]


@pytest.mark.parametrize("output", ["table", "json"])
@pytest.mark.parametrize("case", [pytest.param(c, id=c) for c in INCOMPLETE])
def test_input_not_read_in_full_writes_nothing(cli: Any, k8s: Any, case: str,
                                               output: str) -> None:
    folder = cli.copy_sample(cli.GUESTBOOK)
    assert cli.sync(folder).code == 0
    before = every_table(cli.state)
    paths, expected = _incomplete(cli, k8s, folder)[case]()
    res = cli.sync(*paths, now=cli.T0 + 120, output=output)
    assert res.code == 2, (res.out, res.err)
    assert res.out == ""
    lines = res.err.splitlines()
    assert len(lines) == len(expected), lines  # every problem, each once
    for (code, name), line in zip(sorted(expected), sorted(lines), strict=True):
        assert line.startswith(f"error: {code} ") and name in line, line
    assert every_table(cli.state) == before
    # The guestbook is whole: nothing was deleted for having been unread.
    ports = {p["id"] for p in cli.show("segment-ports", "--namespace", "default")}
    assert ports >= GUESTBOOK_PODS


@pytest.mark.parametrize("case", ["misspelt-path", "malformed-yaml", "dangling-symlink"])
def test_input_not_read_in_full_on_a_fresh_state_leaves_no_state(cli: Any, k8s: Any,
                                                                 case: str) -> None:
    folder = cli.copy_sample(cli.GUESTBOOK)
    paths, _expected = _incomplete(cli, k8s, folder)[case]()
    res = cli.sync(*paths)
    assert res.code == 2
    assert not cli.state.exists()
    assert not cli.state.parent.exists() or not any(cli.state.parent.iterdir())


def test_empty_input_on_a_fresh_state_is_a_first_sync(cli: Any) -> None:
    (cli.tmp / "empty").mkdir()
    res = cli.sync(cli.tmp / "empty")
    assert res.code == 0, res.err
    assert res.json()["realized"]["pods"] == 0


def test_allow_empty_empties_the_cluster(cli: Any) -> None:
    assert cli.sync(cli.GUESTBOOK).code == 0
    (cli.tmp / "empty").mkdir()
    res = cli.sync(cli.tmp / "empty", now=cli.T0 + 120, extra=("--allow-empty",))
    assert res.code == 0, res.err
    report = res.json()
    assert report["realized"]["pods"] == 0
    assert report["deleted"]["SegmentPort"] >= len(GUESTBOOK_PODS)
    assert not cli.show("segment-ports", "--tag", "ncp/pod=frontend-0")
    assert cli.sdn("validate", "--state", cli.state).code == 0
    assert cli.sdn("ipam", "check", "--state", cli.state).code == 0


def test_duplicate_object_is_not_incomplete_input(cli: Any, k8s: Any) -> None:
    """Both copies were read, so nothing is lost: a per-object problem, exit 1."""
    folder = cli.copy_sample(cli.GUESTBOOK)
    cli.write_yaml(folder / "dup-a.yaml", k8s.pod("twin"))
    cli.write_yaml(folder / "dup-b.yaml", k8s.pod("twin"))
    res = cli.sync(folder)
    assert res.code == 1
    assert [p["code"] for p in res.json()["problems"]] == ["DUPLICATE_OBJECT"]


# --- pod block exhaustion ------------------------------------------------------------------


def test_pod_block_exhaustion(cli: Any, k8s: Any) -> None:
    config = cli.write_yaml("config.yaml", {
        "container_ip_blocks": [{"id": "tiny", "cidr": "10.9.0.0/23"}],
        "subnet_prefix": 24,
        "implicit_namespaces": [],
    })
    folder = cli.write_yaml(
        "cluster/all.yaml",
        *(k8s.namespace(n) for n in ("ns-a", "ns-b", "ns-c")),
        *(k8s.pod(f"pod-{i}", n) for n in ("ns-a", "ns-b", "ns-c") for i in range(2)),
    ).parent
    res = cli.sync(folder, extra=("--config", config))
    assert res.code == 1, res.out
    report = res.json()
    ann = report["namespaces"]
    assert ann["ns-a"]["ncp/subnet-0"] == "10.9.0.0/24"
    assert ann["ns-b"]["ncp/subnet-0"] == "10.9.1.0/24"
    assert "ncp/error" not in ann["ns-a"] and "ncp/error" not in ann["ns-b"]
    assert ann["ns-c"]["ncp/error"] == "NAMESPACE_SUBNETS_EXHAUSTED"
    assert "ncp/subnet-0" not in ann["ns-c"]
    problems = {(p["code"], p["object"]) for p in report["problems"]}
    assert ("NAMESPACE_SUBNETS_EXHAUSTED", "Namespace/ns-c") in problems
    assert all(code == "NAMESPACE_SUBNETS_EXHAUSTED" and "ns-c" in obj
               for code, obj in problems)
    assert report["realized"] == {"namespaces": 2, "pods": 4, "nodes": 3}
    for ns in ("ns-a", "ns-b"):
        assert len(cli.show("segment-ports", "--namespace", ns)) == 2
    assert cli.show("segment-ports", "--namespace", "ns-c") == []
    assert cli.show("segments", "--namespace", "ns-c") == []
    # Exhaustion can end with time alone, so a re-run reconciles in full, but with
    # nothing new it still writes nothing.
    rev, before = cli.revision(), cli.dump()
    again = cli.sync(folder, now=cli.T0 + 1, extra=("--config", config))
    assert again.code == 1
    assert cli.revision() == rev
    assert cli.dump() == before


# --- unusable arguments: exit 2, nothing written -------------------------------------------


def _unusable(cli: Any) -> dict[str, tuple[tuple[object, ...], str]]:
    """Case id -> (extra sync arguments, text stderr must contain)."""
    overlap = cli.write_yaml("overlap.yaml", {
        "container_ip_blocks": [{"id": "pods-a", "cidr": "172.30.0.0/16"}],
        "no_snat_ip_blocks": [{"id": "nosnat-a", "cidr": "172.30.128.0/17"}],
    })
    unknown_cfg = cli.write_yaml("unknown.yaml", {"subnet_prefx": 24})
    return {
        "profile-unknown-field": (
            ("--profile", cli.write_profile("bad-field", bogus_field=1)),
            "parameters.bogus_field"),
        "profile-unknown-nested-field": (
            ("--profile", cli.write_profile("bad-nested", cni_configurations={
                "type": "nsxt", "parameters": {"nsx_lb": True, "bogus_nested": 1}})),
            "parameters.cni_configurations.parameters.bogus_nested"),
        "profile-prefix-31": (
            ("--profile", cli.write_profile("prefix-31", pod_subnet_prefix=31)),
            "pod_subnet_prefix"),
        "profile-unknown-block": (
            ("--profile", cli.write_profile(
                "no-such-block", pod_ip_block_ids=["ip-block-pods", "ip-block-missing"])),
            "ip-block-missing"),
        "config-overlapping-blocks": (("--config", overlap), "OVERLAPPING_BLOCKS"),
        "config-unknown-field": (("--config", unknown_cfg), "subnet_prefx"),
        "config-missing": (("--config", cli.tmp / "nope.yaml"), "CONFIG_NOT_FOUND"),
        "bad-cluster-name": (("--cluster-name", "Not_A_Label"), "cluster"),
    }


UNUSABLE = ["profile-unknown-field", "profile-unknown-nested-field", "profile-prefix-31",
            "profile-unknown-block", "config-overlapping-blocks", "config-unknown-field",
            "config-missing", "bad-cluster-name"]


@pytest.mark.parametrize("case", [pytest.param(c, id=c) for c in UNUSABLE])
def test_unusable_arguments_leave_the_state_unchanged(cli: Any, case: str) -> None:
    assert cli.sync(cli.GUESTBOOK).code == 0
    rev, before = cli.revision(), cli.dump()
    extra, expected = _unusable(cli)[case]
    res = cli.sync(cli.GUESTBOOK, now=cli.T0 + 5, extra=extra)
    assert res.code == 2, res.out
    assert expected in res.err
    assert res.out == ""
    assert cli.revision() == rev
    assert cli.dump() == before


@pytest.mark.parametrize("case", [
    pytest.param("profile-unknown-field", id="profile-unknown-field"),
    pytest.param("profile-prefix-31", id="profile-prefix-31"),
    pytest.param("config-overlapping-blocks", id="config-overlapping-blocks"),
    pytest.param("config-unknown-field", id="config-unknown-field"),
    pytest.param("bad-cluster-name", id="bad-cluster-name"),
])
def test_unusable_arguments_on_a_fresh_state_write_nothing(cli: Any, case: str) -> None:
    extra, expected = _unusable(cli)[case]
    res = cli.sync(cli.GUESTBOOK, extra=extra)
    assert res.code == 2
    assert expected in res.err
    if cli.state.exists():  # at the very least: no object, no revision
        assert cli.revision() == 0
        assert cli.dump()["objects"] == []
    show = cli.sdn("show", "segments", "--state", cli.state)
    assert show.code == 2
    assert "STATE_NOT_FOUND" in show.err
    assert not cli.state.exists()


def test_profile_error_names_file_and_code(cli: Any) -> None:
    path = cli.write_profile("bad-field", bogus_field=1)
    res = cli.sync(cli.GUESTBOOK, extra=("--profile", path))
    assert res.code == 2
    assert "UNKNOWN_FIELD" in res.err
    assert "bad-field" in res.err


def test_profile_file_that_is_not_json(cli: Any) -> None:
    path = cli.tmp / "broken.json"
    path.write_text("{ not json")
    assert cli.sync(cli.GUESTBOOK).code == 0
    rev = cli.revision()
    res = cli.sync(cli.GUESTBOOK, extra=("--profile", path))
    assert res.code == 2
    assert res.err.startswith("error:")
    assert cli.revision() == rev
    json.dumps(res.err)  # printable
