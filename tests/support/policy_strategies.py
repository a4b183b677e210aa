"""Hypothesis strategies for random clusters and policies on the x/y/z fixture, shared by
the DFW and traceflow property tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.support.k8s_oracle import Cluster, ContainerPort, Namespace, Pod

NS = ["x", "y", "z"]
KEYS = ["app", "tier"]
VALUES = ["web", "db", "api"]
PROBES = [("TCP", 80), ("TCP", 81), ("UDP", 80), ("SCTP", 81)]
PORTS = tuple(ContainerPort(f"p{port}-{proto.lower()}", proto, port)
              for proto in ("TCP", "UDP", "SCTP") for port in (80, 81))

labels_st = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=2)


def selector_st() -> st.SearchStrategy[dict[str, Any]]:
    expr = st.one_of(
        st.builds(lambda k, vs: {"key": k, "operator": "In", "values": vs},
                  st.sampled_from(KEYS), st.lists(st.sampled_from(VALUES), min_size=1,
                                                  max_size=2, unique=True)),
        st.builds(lambda k, vs: {"key": k, "operator": "NotIn", "values": vs},
                  st.sampled_from(KEYS), st.lists(st.sampled_from(VALUES), min_size=1,
                                                  max_size=2, unique=True)),
        st.builds(lambda k: {"key": k, "operator": "Exists"}, st.sampled_from(KEYS)),
        st.builds(lambda k: {"key": k, "operator": "DoesNotExist"}, st.sampled_from(KEYS)),
    )
    return st.builds(
        lambda ml, me: {**({"matchLabels": ml} if ml else {}),
                        **({"matchExpressions": me} if me else {})},
        st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=1),
        st.lists(expr, max_size=1))


ns_selector_st = st.one_of(st.just({}), st.builds(
    lambda n: {"matchLabels": {"ns": n}}, st.sampled_from(NS)))

peer_st = st.one_of(
    st.builds(lambda s: {"podSelector": s}, selector_st()),
    st.builds(lambda s: {"namespaceSelector": s}, ns_selector_st),
    st.builds(lambda n, p: {"namespaceSelector": n, "podSelector": p},
              ns_selector_st, selector_st()),
    st.builds(lambda i, ex: {"ipBlock": {"cidr": f"10.0.{i}.0/24",
                                         **({"except": [f"10.0.{i}.{ex}/32"]} if ex else {})}},
              st.integers(0, 2), st.sampled_from([0, 2, 3])),
)

port_st = st.one_of(
    st.builds(lambda proto, port: {"protocol": proto, "port": port},
              st.sampled_from(["TCP", "UDP", "SCTP"]), st.sampled_from([80, 81])),
    st.builds(lambda proto: {"protocol": proto, "port": 80, "endPort": 81},
              st.sampled_from(["TCP", "UDP"])),
    st.builds(lambda name: {"protocol": name.split("-")[1].upper(), "port": name},
              st.sampled_from([p.name for p in PORTS])),
    st.builds(lambda: {"port": 80}),
)

rule_st = st.builds(
    lambda peers, ports: {**({"peers": peers} if peers is not None else {}),
                          **({"ports": ports} if ports else {})},
    st.one_of(st.none(), st.lists(peer_st, max_size=2)), st.lists(port_st, max_size=2))


def _np(name: str, ns: str, target: dict[str, Any], ingress: list[dict[str, Any]] | None,
        egress: list[dict[str, Any]] | None, types: list[str] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": target}
    if ingress is not None:
        spec["ingress"] = [{**({"from": r["peers"]} if "peers" in r else {}),
                            **({"ports": r["ports"]} if "ports" in r else {})} for r in ingress]
    if egress is not None:
        spec["egress"] = [{**({"to": r["peers"]} if "peers" in r else {}),
                           **({"ports": r["ports"]} if "ports" in r else {})} for r in egress]
    if types is not None:
        spec["policyTypes"] = types
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


policy_st = st.builds(
    _np, st.just(""), st.sampled_from(NS), selector_st(),
    st.one_of(st.none(), st.lists(rule_st, max_size=2)),
    st.one_of(st.none(), st.lists(rule_st, max_size=2)),
    st.one_of(st.none(), st.sampled_from([["Ingress"], ["Egress"], ["Ingress", "Egress"]])))

admin_peer_st = st.one_of(
    st.builds(lambda n: {"namespaces": n}, ns_selector_st),
    st.builds(lambda n, p: {"pods": {"namespaceSelector": n, "podSelector": p}},
              ns_selector_st, selector_st()),
)

anp_st = st.builds(
    lambda prio, subject, action, peers, port, direction: {
        "apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
        "metadata": {"name": ""},
        "spec": {"priority": prio, "subject": {"namespaces": subject},
                 direction: [{"name": "r", "action": action,
                              ("from" if direction == "ingress" else "to"): peers,
                              **({"ports": [{"portNumber": {"protocol": "TCP", "port": port}}]}
                                 if port else {})}]}},
    st.integers(0, 3), ns_selector_st, st.sampled_from(["Allow", "Deny", "Pass"]),
    st.lists(admin_peer_st, min_size=1, max_size=2), st.sampled_from([None, 80]),
    st.sampled_from(["ingress", "egress"]))

pod_labels_st = st.fixed_dictionaries({f"{ns}/{p}": labels_st for ns in NS for p in "abc"})


def random_cluster(labels: dict[str, dict[str, str]]) -> Cluster:
    namespaces = [Namespace(ns, {"ns": ns}) for ns in NS]
    pods = [Pod(ns, p, labels[f"{ns}/{p}"], f"10.0.{i}.{j + 10}", PORTS)
            for i, ns in enumerate(NS) for j, p in enumerate("abc")]
    return Cluster(namespaces=namespaces, pods=pods)


def named(policies: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """``policies`` named ``PREFIX0``, ``PREFIX1``, ... (in place), so that lists drawn
    apart do not clash."""
    for i, p in enumerate(policies):
        p["metadata"]["name"] = f"{prefix}{i}"
    return policies


Side = tuple[Cluster, list[dict[str, Any]]]


@st.composite
def change_st(draw: st.DrawFn) -> tuple[Side, Side]:
    """A cluster with its policies before and after a change (what-if tests): policies
    kept, removed and added, an AdminNetworkPolicy removed, up to two pods relabelled."""
    labels = draw(pod_labels_st)
    kept = named(draw(st.lists(policy_st, max_size=2)), "keep")
    gone = named(draw(st.lists(policy_st, max_size=2)), "gone")
    new = named(draw(st.lists(policy_st, max_size=2)), "new")
    anps = named(draw(st.lists(anp_st, max_size=1)), "anp")
    relabel = draw(st.dictionaries(st.sampled_from(["x/a", "y/b", "z/c"]), labels_st,
                                   max_size=2))
    return ((random_cluster(labels), [*kept, *gone, *anps]),
            (random_cluster({**labels, **relabel}), [*kept, *new]))
