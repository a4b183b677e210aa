"""``ncp sync`` prints at most ``WARNINGS_PER_CODE`` warnings of one code and counts the
rest (every one stays in ``-o json`` and in the state, where ``sdn lint`` shows them)."""

from __future__ import annotations

import pytest

from ncp import cli
from sdn.errors import Problem


def test_warnings_are_capped_per_code_and_the_rest_counted(
        capsys: pytest.CaptureFixture[str]) -> None:
    cap = cli.WARNINGS_PER_CODE
    many = [Problem("TOO_MANY_NAMESPACES", f"NetworkPolicy/ns/np-{n}", "wide")
            for n in range(cap + 1234)]
    few = [Problem("NAMED_PORT", f"NetworkPolicy/ns/q-{n}", "named") for n in range(3)]
    cli._warnings([*few[:1], *many, *few[1:]])
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if "np-" in line] == [
        f"warning: {p}" for p in many[:cap]]
    assert [line for line in lines if "q-" in line] == [f"warning: {p}" for p in few]
    assert lines[-1] == ("warning: ... and 1,234 more TOO_MANY_NAMESPACES (every one: "
                         "`sdn lint` or `ncp sync -o json`)")
    assert len(lines) == cap + 3 + 1
