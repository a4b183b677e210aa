"""``sdn reach --dst``: who reaches one target, per backend, with the deciding rule.

The matrix answers pod pairs only; ``--dst`` takes every target ``traceflow`` and
``explain`` take (pod, address, cluster IP, VIP, ``svc:``), so a service is a reach
question too. Agreement with the other two commands is in ``test_questions_agree.py``.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def mt(cli: Any) -> Any:
    assert cli.sync(cli.MULTI_TENANT).code == 0
    return cli


def _reach(cli: Any, *argv: object) -> Any:
    return cli.sdn("reach", "--state", cli.state, *argv)


def test_every_chosen_pod_to_a_service(mt: Any) -> None:
    data = _reach(mt, "--dst", "svc:payments/api", "-n", "shop", "-n", "analytics",
                  "-o", "json").json()
    (result,) = data["results"]
    assert result["port"] is None  # the service's own port was used
    verdicts = {row["src"]: row["allowed"] for row in result["sources"]}
    assert verdicts["shop/frontend-0"] is True and verdicts["shop/cart-0"] is False
    assert not any(v for src, v in verdicts.items() if src.startswith("analytics/"))
    for row in result["sources"]:
        assert [b["port"] for b in row["backends"]] == [8443, 8443]
        assert row["service"]["name"] == "payments/api:8443"


def test_the_target_pod_is_not_its_own_source(mt: Any) -> None:
    data = _reach(mt, "--dst", "shop/cart-0", "-n", "shop", "--port", "8080",
                  "-o", "json").json()
    sources = [row["src"] for row in data["results"][0]["sources"]]
    assert "shop/cart-0" not in sources and "shop/cart-1" in sources


def test_table_names_backend_verdict_and_rule(mt: Any) -> None:
    res = _reach(mt, "--dst", "svc:payments/api", "--src", "analytics/worker-0")
    assert res.code == 0, res.err
    assert "TCP to svc:payments/api: 0 of 1 sources allowed" in res.out
    assert res.out.count("DROPPED") == 2 and "egress rule" in res.out


@pytest.mark.parametrize(("argv", "code"), [
    pytest.param(["--src", "shop/frontend-0"], "BAD_ARGUMENT", id="src-without-dst"),
    pytest.param(["--dst", "svc:shop/nope"], "UNKNOWN_SERVICE", id="unknown-service"),
    pytest.param(["--dst", "shop/nope"], "UNKNOWN_POD", id="unknown-pod"),
    pytest.param(["--dst", "not-a-target"], "BAD_ARGUMENT", id="bad-target"),
    pytest.param(["--dst", "svc:payments/api", "--port", "9999"], "UNKNOWN_SERVICE_PORT",
                 id="service-port"),
])
def test_bad_targets_are_coded_errors(mt: Any, argv: list[str], code: str) -> None:
    res = _reach(mt, *argv)
    assert res.code == 2
    assert res.err.startswith(f"error: {code}") and len(res.err.strip().splitlines()) == 1
