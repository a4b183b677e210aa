"""Tests for reading Kubernetes manifests from disk (ncp.sources.manifests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ncp.objects import K8sObject
from ncp.sources import ManifestSet, read_manifests


def write(root: Path, files: dict[str, str]) -> None:
    """Write ``files`` (relative path -> text) under ``root``."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def keys(result: ManifestSet) -> list[tuple[str, str, str]]:
    return [obj.key for obj in result.objects]


def codes(result: ManifestSet) -> list[str]:
    return [problem.code for problem in result.problems]


POD_A = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: shop}\n"
POD_B = "apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: shop}\n"

CASES = [
    pytest.param(
        {"c.yaml": POD_A + "---\n" + POD_B},
        [("Pod", "shop", "a"), ("Pod", "shop", "b")],
        [],
        id="multi-document-yaml",
    ),
    pytest.param(
        {"c.yaml": "---\n" + POD_A + "---\n---\n# only a comment\n---\n" + POD_B + "---\n"},
        [("Pod", "shop", "a"), ("Pod", "shop", "b")],
        [],
        id="empty-documents-skipped",
    ),
    pytest.param(
        {"c.json": json.dumps({"apiVersion": "v1", "kind": "Namespace",
                               "metadata": {"name": "shop"}})},
        [("Namespace", "", "shop")],
        [],
        id="json",
    ),
    pytest.param(
        {"c.json": '{"kind": "Pod", "metadata": {"name": "a"}}\n'
                   '{"kind": "Pod", "metadata": {"name": "b"}}\n'},
        [("Pod", "default", "a"), ("Pod", "default", "b")],
        [],
        id="json-concatenated",
    ),
    pytest.param(
        {"c.yaml": "apiVersion: v1\nkind: List\nitems:\n"
                   "- {kind: Pod, apiVersion: v1, metadata: {name: a, namespace: shop}}\n"
                   "- {kind: Service, apiVersion: v1, metadata: {name: s, namespace: shop}}\n"},
        [("Pod", "shop", "a"), ("Service", "shop", "s")],
        [],
        id="list",
    ),
    pytest.param(
        {"c.yaml": "apiVersion: v1\nkind: PodList\nitems:\n"
                   "- {metadata: {name: a, namespace: shop}}\n"
                   "- {metadata: {name: b, namespace: shop}}\n"},
        [("Pod", "shop", "a"), ("Pod", "shop", "b")],
        [],
        id="podlist-items-without-kind",
    ),
    pytest.param(
        {"c.yaml": "kind: List\nitems:\n- kind: List\n  items:\n"
                   "  - {kind: Pod, metadata: {name: a}}\n"},
        [("Pod", "default", "a")],
        [],
        id="nested-list",
    ),
    pytest.param(
        {"c.yaml": "kind: List\nitems: []\n"},
        [],
        [],
        id="empty-list",
    ),
    pytest.param(
        {"c.yaml": "kind: List\nitems: 3\n"},
        [],
        ["INVALID_OBJECT"],
        id="list-items-not-a-list",
    ),
    pytest.param(
        {"c.yaml": "kind: Pod\nmetadata: {name: a}\n---\n"
                   "kind: Node\nmetadata: {name: n1, namespace: ignored}\n---\n"
                   "kind: IngressClass\nmetadata: {name: nginx}\n"},
        [("Pod", "default", "a"), ("Node", "", "n1"), ("IngressClass", "", "nginx")],
        [],
        id="namespace-defaults-and-cluster-scope",
    ),
    pytest.param(
        {"c.yaml": "just a string\n---\n- a\n- list\n---\n42\n"},
        [],
        ["INVALID_OBJECT"] * 3,
        id="not-a-mapping",
    ),
    pytest.param(
        {"c.yaml": "metadata: {name: a}\n---\nkind: Pod\n---\nkind: Pod\nmetadata: {}\n---\n"
                   "kind: Pod\nmetadata: [x]\n---\nkind: Pod\nmetadata: {name: 7}\n---\n"
                   "kind: Pod\nmetadata: {name: a, namespace: [x]}\n---\n" + POD_B},
        [("Pod", "shop", "b")],
        ["INVALID_OBJECT"] * 6,
        id="invalid-objects-others-kept",
    ),
    pytest.param(
        {"a.yaml": POD_A, "b.yaml": POD_A + "---\n" + POD_B},
        [("Pod", "shop", "a"), ("Pod", "shop", "b")],
        ["DUPLICATE_OBJECT"],
        id="duplicate-across-files",
    ),
    pytest.param(
        {"c.yaml": POD_A + "---\n"
                   "kind: Service\nmetadata: {name: a, namespace: shop}\n"},
        [("Pod", "shop", "a"), ("Service", "shop", "a")],
        [],
        id="same-name-other-kind-is-no-duplicate",
    ),
]


@pytest.mark.parametrize(("files", "expected_keys", "expected_codes"), CASES)
def test_read_folder(
    tmp_path: Path,
    files: dict[str, str],
    expected_keys: list[tuple[str, str, str]],
    expected_codes: list[str],
) -> None:
    write(tmp_path, files)
    result = read_manifests([tmp_path])
    assert keys(result) == expected_keys
    assert codes(result) == expected_codes
    for problem in result.problems:
        assert problem.obj
        assert str(tmp_path) in str(problem) or problem.obj.startswith(("Pod", "Service"))


def test_sources_name_file_and_document_index(tmp_path: Path) -> None:
    write(tmp_path, {
        "c.yaml": "---\n" + POD_A + "---\n---\nkind: List\nitems:\n- kind: Pod\n"
                  "  metadata: {name: x}\n",
    })
    result = read_manifests([tmp_path / "c.yaml"])
    file = str(tmp_path / "c.yaml")
    assert [obj.source for obj in result.objects] == [f"{file}#0", f"{file}#2/items/0"]


def test_object_fields(tmp_path: Path) -> None:
    write(tmp_path, {"c.yaml": "apiVersion: apps/v1\nkind: Deployment\n"
                               "metadata: {name: web, namespace: shop, labels: {app: web}}\n"
                               "spec: {replicas: 2}\n"})
    (obj,) = read_manifests([tmp_path]).objects
    assert obj == K8sObject(
        "Deployment", "apps/v1", "shop", "web", obj.body, f"{tmp_path / 'c.yaml'}#0"
    )
    assert obj.body["spec"] == {"replicas": 2}
    assert obj.ref == "shop/web"
    assert obj.ident == "Deployment shop/web"
    assert obj.labels == {"app": "web"}
    assert hash(obj) == hash(obj)  # hashable although the body is a dict


def test_duplicate_names_both_sources(tmp_path: Path) -> None:
    write(tmp_path, {"a.yaml": POD_A, "b.yaml": POD_A})
    result = read_manifests([tmp_path])
    (problem,) = result.problems
    assert problem.code == "DUPLICATE_OBJECT"
    assert problem.obj == "Pod shop/a"
    assert f"{tmp_path / 'a.yaml'}#0" in problem.message
    assert f"{tmp_path / 'b.yaml'}#0" in problem.message
    assert result.objects[0].source == f"{tmp_path / 'a.yaml'}#0"


def test_folders_recursive_sorted_hidden_skipped(tmp_path: Path) -> None:
    def pod(name: str) -> str:
        return f"kind: Pod\nmetadata: {{name: {name}}}\n"

    write(tmp_path, {
        "b.yaml": pod("b"),
        "a/z.yml": pod("az"),
        "a/b/c.json": json.dumps({"kind": "Pod", "metadata": {"name": "abc"}}),
        "a-c.yaml": pod("a-c"),
        "c.YAML": pod("upper"),
        ".hidden.yaml": pod("hidden-file"),
        ".git/x.yaml": pod("hidden-dir"),
        "a/.cache/y.yaml": pod("hidden-subdir"),
        "notes.txt": pod("txt"),
        "README.md": "# not yaml",
    })
    result = read_manifests([tmp_path])
    assert [obj.name for obj in result.objects] == ["abc", "az", "a-c", "b", "upper"]
    assert result.problems == ()


def test_hidden_root_and_explicit_files_are_read(tmp_path: Path) -> None:
    write(tmp_path, {
        ".cluster/p.yaml": "kind: Pod\nmetadata: {name: p}\n",
        "odd.txt": "kind: Pod\nmetadata: {name: q}\n",
    })
    result = read_manifests([tmp_path / ".cluster", str(tmp_path / "odd.txt")])
    assert [obj.name for obj in result.objects] == ["p", "q"]


def test_file_reached_twice_is_read_once(tmp_path: Path) -> None:
    write(tmp_path, {"p.yaml": POD_A})
    result = read_manifests([tmp_path / "p.yaml", tmp_path])
    assert keys(result) == [("Pod", "shop", "a")]
    assert result.problems == ()


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        pytest.param("bad.yaml", "kind: Pod\nmetadata: {name: x}\n---\nkind: [unclosed\n",
                     "started at line 4", id="yaml-flow"),
        pytest.param("bad.yaml", "kind: Pod\nmetadata:\n  name: x\n bad: indent\n",
                     "line 4", id="yaml-indent"),
        pytest.param("bad.json", '{"kind": "Pod",\n "metadata": }\n', "line 2", id="json"),
    ],
)
def test_malformed_file_reported_others_read(
    tmp_path: Path, name: str, text: str, where: str
) -> None:
    write(tmp_path, {name: text, "good.yaml": POD_A})
    result = read_manifests([tmp_path])
    assert keys(result) == [("Pod", "shop", "a")]  # nothing from the bad file, not even doc 0
    (problem,) = result.problems
    assert problem.code == "MALFORMED_MANIFEST"
    assert problem.obj == str(tmp_path / name)
    assert str(tmp_path / name) in problem.message
    assert where in problem.message


def test_not_utf8_is_malformed(tmp_path: Path) -> None:
    (tmp_path / "bin.yaml").write_bytes(b"kind: Pod\nmetadata: {name: \xff\xfe}\n")
    result = read_manifests([tmp_path])
    assert codes(result) == ["MALFORMED_MANIFEST"]


def test_unknown_kinds_are_noted_not_problems(tmp_path: Path) -> None:
    write(tmp_path, {"c.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: foo}\n---\n"
                               "kind: ClusterRole\nmetadata: {name: admin}\n---\n" + POD_A})
    result = read_manifests([tmp_path])
    file = tmp_path / "c.yaml"
    assert keys(result) == [("Pod", "shop", "a")]
    assert result.problems == ()
    assert result.notes == (
        f"skipped ConfigMap default/foo ({file}#0): kind not used by ncp",
        f"skipped ClusterRole admin ({file}#1): kind not used by ncp",
    )


def test_missing_path(tmp_path: Path) -> None:
    write(tmp_path, {"p.yaml": POD_A})
    missing = tmp_path / "nope"
    result = read_manifests([missing, tmp_path / "p.yaml"])
    assert keys(result) == [("Pod", "shop", "a")]
    assert [(p.code, p.obj) for p in result.problems] == [("PATH_NOT_FOUND", str(missing))]


def test_empty_folder_is_noted(tmp_path: Path) -> None:
    result = read_manifests([tmp_path])
    assert result == ManifestSet((), (), (f"no .yaml, .yml or .json files under {tmp_path}",))


def test_single_path_not_in_a_list(tmp_path: Path) -> None:
    write(tmp_path, {"p.yaml": POD_A})
    assert keys(read_manifests(str(tmp_path))) == [("Pod", "shop", "a")]


def test_many_documents(tmp_path: Path) -> None:
    docs = [f"kind: Pod\nmetadata: {{name: p{i}, namespace: ns{i % 7}}}\n" for i in range(2000)]
    write(tmp_path, {"big.yaml": "---\n".join(docs)})
    result = read_manifests([tmp_path])
    assert len(result.objects) == 2000
    assert result.objects[-1].source.endswith("#1999")
