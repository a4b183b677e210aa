"""``sdn traceflow`` through the CLI: the DESIGN.md contract, pictures, and bad input."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def synced(cli: Any) -> Any:
    assert cli.sync(cli.MULTI_TENANT).code == 0
    return cli


def _tf(cli: Any, *argv: object) -> Any:
    return cli.sdn("traceflow", "--state", cli.state, *argv)


def test_json_is_shaped_like_nsx_traceflow(synced: Any) -> None:
    res = _tf(synced, "--src", "shop/frontend-0", "--dst", "payments/api-0", "--dport",
              "8443", "-o", "json")
    assert res.code == 0, res.err
    data = res.json()
    assert data["operation_state"] == "FINISHED"
    assert data["disposition"] == "DELIVERED"
    assert set(data["counters"]) == {"forwarded_count", "received_count", "delivered_count",
                                     "dropped_count"}
    obs = data["observations"]
    assert obs[-1]["resource_type"] == "TraceflowObservationDelivered"
    assert {o["component_type"] for o in obs if "component_type" in o} >= {"DFW", "LS", "LR"}
    assert all({"resource_type", "sequence_no", "transport_node_name"} <= set(o) for o in obs)
    assert data["packet"]["ip_header"]["ttl"] == 64
    assert data["packet"]["transport_header"]["tcp_header"]["tcp_flags"] == 2


def test_drop_verdict_names_the_rule_explain_names(synced: Any) -> None:
    res = _tf(synced, "--src", "shop/frontend-0", "--dst", "payments/db-0", "--dport", "5432")
    assert res.code == 0
    verdict = res.out.strip().splitlines()[-1]
    exp = synced.sdn("explain", "--state", synced.state, "--src", "shop/frontend-0", "--dst",
                     "payments/db-0", "--dport", "5432", "-o", "json").json()
    rule = exp["ingress"]["rule"]
    assert verdict.startswith("DROPPED at payments/db-0 ingress by rule")
    assert str(rule["rule_id"]) in verdict
    assert rule["security_policy"].rsplit("/", 1)[-1] in verdict


@pytest.mark.parametrize(("argv", "code_text"), [
    pytest.param(["--src", "shop/nope", "--dst", "1.2.3.4"], "UNKNOWN_POD", id="unknown-pod"),
    pytest.param(["--src", "shop/frontend-0", "--dst", "svc:shop/nope"], "UNKNOWN_SERVICE",
                 id="unknown-service"),
    pytest.param(["--src", "shop/frontend-0", "--dst", "1.2.3.4", "--dport", "70000"],
                 "BAD_ARGUMENT", id="port-out-of-range"),
    pytest.param(["--src", "shop/frontend-0", "--dst", "1.2.3.4", "--protocol", "ICMP",
                  "--dport", "80"], "INVALID_PACKET", id="icmp-with-port"),
    pytest.param(["--src", "shop/frontend-0", "--dst", "not-an-ip"], "BAD_ARGUMENT",
                 id="bad-destination"),
])
def test_bad_input_is_a_clear_error(synced: Any, argv: list[str], code_text: str) -> None:
    res = _tf(synced, *argv)
    assert res.code == 2
    assert code_text in res.err


def test_pictures(synced: Any) -> None:
    res = _tf(synced, "--src", "shop/frontend-0", "--dst", "203.0.113.9", "--dport", "443")
    assert "↗ outside" in res.out and "EXITS_NETWORK" in res.out
    dot = _tf(synced, "--src", "shop/frontend-0", "--dst", "payments/api-0", "--dport", "8443",
              "-o", "dot")
    assert dot.code == 0 and dot.out.startswith("digraph")
    assert "payments/api-0" in dot.out


def test_all_backends_and_bidirectional(synced: Any) -> None:
    res = _tf(synced, "--src", "shop/frontend-0", "--dst", "svc:shop/catalog", "--all-backends",
              "-o", "json")
    branches = res.json()["branches"]
    delivered = {b["observations"][-1].get("lport_name") for b in branches}
    assert delivered == {"shop/catalog-0", "shop/catalog-1"}
    res = _tf(synced, "--src", "shop/frontend-0", "--dst", "payments/api-0", "--dport", "8443",
              "--bidirectional", "-o", "json")
    reply = res.json()["reply"]
    assert reply["disposition"] == "DELIVERED"
    assert reply["observations"][-1]["lport_name"] == "shop/frontend-0"


# --- output conventions (issue 10, defect 9) ---

def _mixed_state(cli: Any) -> Any:
    """A service with two backends, one of which a policy isolates: branches disagree."""
    def pod(name: str, labels: dict[str, str]) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": "app", "labels": labels},
                "spec": {"containers": [{"name": "c", "image": "nginx",
                                         "ports": [{"containerPort": 8080}]}]}}
    docs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}},
            pod("client", {"role": "client"}), pod("api-0", {"app": "api"}),
            pod("api-1", {"app": "api", "locked": "true"}),
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api",
                                                                 "namespace": "app"},
             "spec": {"selector": {"app": "api"}, "ports": [{"port": 80, "targetPort": 8080}]}},
            {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
             "metadata": {"name": "lock", "namespace": "app"},
             "spec": {"podSelector": {"matchLabels": {"locked": "true"}},
                      "policyTypes": ["Ingress"]}}]
    cli.write_yaml("mixed/app.yaml", *docs)
    assert cli.sync(cli.tmp / "mixed").code == 0
    return cli


def test_all_backends_json_has_a_list_level_disposition(cli: Any) -> None:
    _mixed_state(cli)
    data = _tf(cli, "--src", "app/client", "--dst", "svc:app/api", "--all-backends",
               "-o", "json").json()
    assert data["disposition"] == "MIXED"
    assert data["counts"] == {"DELIVERED": 1, "DROPPED": 1}
    assert sorted(b["disposition"] for b in data["branches"]) == ["DELIVERED", "DROPPED"]
    exp = cli.sdn("explain", "--state", cli.state, "--src", "app/client", "--dst",
                  "svc:app/api", "-o", "json").json()
    assert exp["disposition"] == "MIXED" and exp["allowed"] is False
    text = _tf(cli, "--src", "app/client", "--dst", "svc:app/api", "--all-backends")
    assert text.out.strip().splitlines()[-1] == "MIXED: 2 branch(es), 1 DELIVERED, 1 DROPPED"


def test_all_backends_json_agreeing_branches(synced: Any) -> None:
    data = _tf(synced, "--src", "shop/frontend-0", "--dst", "svc:shop/catalog",
               "--all-backends", "-o", "json").json()
    assert (data["disposition"], data["counts"]) == ("DELIVERED", {"DELIVERED": 2})


def test_all_backends_dot_draws_every_branch(synced: Any) -> None:
    res = _tf(synced, "--src", "shop/frontend-0", "--dst", "svc:shop/catalog",
              "--all-backends", "-o", "dot")
    assert res.code == 0 and res.out.startswith("digraph")
    assert "shop/catalog-0" in res.out and "shop/catalog-1" in res.out
    assert "OBSERVATION" not in res.out  # not the text table


def test_explain_without_any_rule_prints_a_sentence_not_an_empty_table(cli: Any) -> None:
    assert cli.sync(cli.GUESTBOOK).code == 0
    res = cli.sdn("explain", "--state", cli.state, "--src", "default/frontend-0", "--dst",
                  "default/frontend-1", "--dport", "8080")
    assert res.code == 0, res.err
    assert "CATEGORY" not in res.out
    assert "egress at default/frontend-0: ALLOW by the default rule; no rule of the DFW " \
           "applies here" in res.out


def test_dport_help_says_what_is_used(cli: Any, synced: Any) -> None:
    for command in ("traceflow", "explain"):
        res = cli.sdn(command, "--help")
        assert res.code == 0
        out = " ".join(res.out.split())
        assert "(default 80)" not in out
        assert "svc:" in out.split("--dport")[-1].split("--")[0]
    # ... and the help is true: a svc: target uses its port, an address 80.
    svc = _tf(synced, "--src", "shop/frontend-0", "--dst", "svc:payments/api", "-o", "json")
    assert svc.json()["packet"]["transport_header"]["tcp_header"]["dst_port"] == 8443
    ip = _tf(synced, "--src", "shop/frontend-0", "--dst", "203.0.113.9", "-o", "json")
    assert ip.json()["packet"]["transport_header"]["tcp_header"]["dst_port"] == 80


@pytest.mark.parametrize("argv", [
    pytest.param(["-n", "nosuchns"], id="unknown"),
    pytest.param(["-n", "shop", "-n", "nosuchns"], id="one-of-two"),
    pytest.param(["-n", "shop", "--cluster", "k8s-cluster", "-n", "nosuchns"], id="in-cluster"),
])
def test_reach_unknown_namespace_is_a_coded_error(synced: Any, argv: list[str]) -> None:
    res = synced.sdn("reach", "--state", synced.state, *argv)
    assert res.code == 2
    where = "cluster 'k8s-cluster'" if "--cluster" in argv else "any synced cluster"
    [line] = res.err.strip().splitlines()
    assert line.startswith(f"error: UNKNOWN_NAMESPACE nosuchns: no namespace 'nosuchns' in "
                           f"{where} (namespaces: analytics, default, ")


@pytest.mark.parametrize("command", ["traceflow", "explain", "path"])
def test_a_pod_in_an_unknown_namespace_names_the_namespaces(synced: Any, command: str) -> None:
    """A misspelt namespace is told apart from a misspelt pod in the message; the code stays
    UNKNOWN_POD, the code of any pod the state does not hold."""
    args = ["--src", "nosuchns/frontend-0", "--dst", "default/redis-master-0"]
    if command == "explain":
        args += ["--dport", "80"]
    res = synced.sdn(command, "--state", synced.state, *args)
    assert res.code == 2
    [line] = res.err.strip().splitlines()
    assert line.startswith(
        "error: UNKNOWN_POD nosuchns/frontend-0: no pod 'nosuchns/frontend-0' "
        "(no namespace 'nosuchns' in any synced cluster; namespaces: analytics, ")
