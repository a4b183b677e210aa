"""Files parsed before (``known`` of :func:`~ncp.sources.manifests.read_manifests`, by the
digest of their content) give exactly what parsing them gives, and only files of the same
content and parser are taken; the bytes read as text read them (every line end a ``\\n``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from ncp.sources import loading
from ncp.sources.manifests import read_manifests
from tests.support.cli_runs import TOPOLOGIES

_NS = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  annotations:\n" \
      "    note: |\n      one\n      two\n"


def _folder(root: Path) -> Path:
    root.mkdir()
    (root / "a.yaml").write_text(_NS.format(name="a"))
    (root / "crlf.yaml").write_bytes(_NS.format(name="crlf").replace("\n", "\r\n").encode())
    (root / "cr.yaml").write_bytes(_NS.format(name="cr").replace("\n", "\r").encode())
    (root / "bom.yaml").write_bytes(b"\xef\xbb\xbf" + _NS.format(name="bom").encode())
    (root / "ns.json").write_text('{"apiVersion": "v1", "kind": "Namespace", '
                                  '"metadata": {"name": "j"}}')
    (root / "broken.yaml").write_text("kind: Pod\nmetadata: {name: [\n")
    (root / "latin1.yaml").write_bytes("kind: Namespace\nmetadata: {name: é}\n".encode("latin-1"))
    return root


def _known(root: Path) -> dict[str, loading.Loaded]:
    return {f.digest: f for f in read_manifests([root]).parsed}


@pytest.mark.parametrize("sample", ["guestbook", "multi-tenant", "lb-heavy", "admin"])
def test_a_sample_read_with_its_files_known_is_the_same(tmp_path: Path, sample: str) -> None:
    """Read again from a copy under another name: objects name the new files."""
    copy = tmp_path / "copy"
    shutil.copytree(TOPOLOGIES / sample, copy)
    known = _known(TOPOLOGIES / sample)
    assert known
    assert read_manifests([copy], known) == read_manifests([copy])
    assert all(o.source.startswith(str(copy)) for o in read_manifests([copy], known).objects)


def test_line_ends_bom_json_and_bad_files(tmp_path: Path) -> None:
    root = _folder(tmp_path / "m")
    plain = read_manifests([root])
    notes = {o.name: o.body["metadata"]["annotations"]["note"] for o in plain.objects
             if o.kind == "Namespace" and o.name != "j"}
    assert notes == dict.fromkeys(["a", "crlf", "cr", "bom"], "one\ntwo\n")
    # what reading the file as text and parsing it gives
    for name in ("a", "crlf", "cr", "bom"):
        text = (root / f"{name}.yaml").read_text(encoding="utf-8-sig")
        assert yaml.safe_load(text)["metadata"]["annotations"]["note"] == notes[name]
    assert {p.code for p in plain.problems} == {"MALFORMED_MANIFEST"}
    assert len(plain.parsed) == 5  # the two broken files are not kept
    assert read_manifests([root], _known(root)) == plain


def test_only_the_same_content_and_parser_is_taken(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    root = _folder(tmp_path / "m")
    known = _known(root)
    (root / "a.yaml").write_text(_NS.format(name="changed"))
    shutil.copy(root / "ns.json", root / "ns-as-yaml.yaml")  # other parser, other digest
    parsed: list[str] = []
    real = loading._parse

    def spy(file: Path, data: bytes) -> loading.Loaded:
        parsed.append(file.name)
        return real(file, data)

    monkeypatch.setattr(loading, "_parse", spy)
    again = read_manifests([root], known)
    assert sorted(parsed) == ["a.yaml", "broken.yaml", "latin1.yaml", "ns-as-yaml.yaml"]
    monkeypatch.undo()
    assert again == read_manifests([root])
    assert "changed" in {o.name for o in again.objects}
