"""Property: the label indexes of :class:`ClusterView` select exactly what testing every pod
and namespace against the selector selects (the straightforward reading they replace)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ncp.translate.dfwkit.selectors import (
    ClusterView,
    PodQuery,
    Requirement,
    Selector,
    selector_matches,
)
from ncp.translate.policyinputs import NamespaceInfo, PodInfo

KEYS = ("app", "tier", "env", "team")
VALUES = ("a", "b", "c")

labels_st = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=3)
requirement_st = st.one_of(
    st.builds(lambda k, v: Requirement(k, "Equals", (v,)), st.sampled_from(KEYS),
              st.sampled_from(VALUES)),
    st.builds(lambda k, op, vs: Requirement(k, op, tuple(dict.fromkeys(vs))),
              st.sampled_from(KEYS), st.sampled_from(("In", "NotIn")),
              st.lists(st.sampled_from(VALUES), min_size=1, max_size=3)),
    st.builds(lambda k, op: Requirement(k, op), st.sampled_from(KEYS),
              st.sampled_from(("Exists", "DoesNotExist"))),
)
selector_st = st.lists(requirement_st, max_size=3).map(tuple)
NAMESPACES = ("n1", "n2", "n3", "n4")


@st.composite
def clusters(draw: st.DrawFn) -> ClusterView:
    namespaces = [NamespaceInfo(n, draw(labels_st)) for n in NAMESPACES if draw(st.booleans())]
    pods = [PodInfo(draw(st.sampled_from(NAMESPACES)), f"p{i}",
                    draw(st.sampled_from(("", f"/ports/p{i}"))), "", draw(labels_st))
            for i in range(draw(st.integers(0, 25)))]
    return ClusterView(pods, namespaces)


query_st = st.one_of(
    st.builds(lambda s, ns: PodQuery(s, namespace=ns), selector_st, st.sampled_from(NAMESPACES)),
    st.builds(lambda s, spaces: PodQuery(s, spaces=spaces), selector_st, selector_st),
)


@settings(max_examples=300, deadline=None)
@given(view=clusters(), selector=selector_st)
def test_namespace_selection_equals_a_scan(view: ClusterView, selector: Selector) -> None:
    want = {i for i, n in enumerate(view.namespaces) if selector_matches(selector, n.labels)}
    assert view.namespace_positions(selector) == want
    assert view.matching_namespaces(selector) == {view.namespaces[i].name for i in want}


@settings(max_examples=300, deadline=None)
@given(view=clusters(), queries=st.lists(query_st, max_size=3))
def test_pod_queries_equal_a_scan(view: ClusterView, queries: list[PodQuery]) -> None:
    for q in queries:
        want = {i for i, p in enumerate(view.pods) if q.matches(p, view.namespace_labels)}
        assert view.query(q) == want
        assert view.query(q) == want  # remembered, unchanged
    union = [p for p in view.pods
             if any(q.matches(p, view.namespace_labels) for q in queries)]
    assert view.select_any(queries) == union
    odd = [lambda p: p.name.endswith(("1", "3"))]
    assert view.select_any(queries, odd) == [
        p for p in view.pods
        if any(q.matches(p, view.namespace_labels) for q in queries) or odd[0](p)]


def test_a_same_namespace_query_reads_no_namespaces() -> None:
    from ncp.translate.policyinputs import Tracked

    namespaces = Tracked([NamespaceInfo("n1", {"env": "prod"})])
    view = ClusterView([PodInfo("n1", "p", "/ports/p", "", {"app": "a"})], namespaces)
    query = PodQuery((Requirement("app", "Equals", ("a",)),), namespace="n1")
    assert query.matches(view.pods[0], view.namespace_labels)
    assert [p.name for p in view.select_any([query])] == ["p"]
    assert not namespaces.read


def _collapsed(block: str, holes: list[str]) -> tuple[object, ...]:
    """The ipaddress module's answer: exclude each hole, collapse."""
    import ipaddress

    parts = [ipaddress.IPv4Network(block)]
    for hole in map(ipaddress.IPv4Network, holes):
        kept = []
        for part in parts:
            if part.subnet_of(hole):
                continue
            kept.extend(part.address_exclude(hole) if hole.subnet_of(part) else [part])
        parts = kept
    return tuple(sorted(ipaddress.collapse_addresses(parts)))


@settings(max_examples=300, deadline=None)
@given(prefix=st.integers(8, 28), data=st.data())
def test_ip_block_difference_equals_exclude_and_collapse(prefix: int, data: st.DataObject) -> None:
    import ipaddress

    from ncp.translate.dfwkit.addresses import ip_block_cidrs

    block = ipaddress.IPv4Network((0x0A000000 + (data.draw(st.integers(0, 3)) << (32 - prefix)),
                                   prefix))
    holes = []
    for _ in range(data.draw(st.integers(0, 4))):
        p = data.draw(st.integers(prefix + 1, 32))
        offset = data.draw(st.integers(0, (1 << (p - prefix)) - 1))
        holes.append(str(ipaddress.IPv4Network(
            (int(block.network_address) + (offset << (32 - p)), p))))
    assert ip_block_cidrs(str(block), holes, "x") == _collapsed(str(block), holes)
