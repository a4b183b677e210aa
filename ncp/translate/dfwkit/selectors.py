"""Kubernetes label selectors, as NSX tag conditions and as selections of pods.

A selector has two readings and both must agree. NSX evaluates the **tag conditions** a
group is built from (semantics fixed in :mod:`sdn.model.dfw`): ``matchLabels`` and ``In`` /
``NotIn`` / ``Exists`` / ``DoesNotExist`` map one to one, in listed order, with
``matchLabels`` sorted by key; pod labels are tags on a pod's ``SegmentPort``, namespace
labels tags on the namespace's ``Segment``. The translators evaluate the same selector in
Python (:meth:`Requirement.matches`, :class:`ClusterView`) only where NSX cannot: to resolve
named ports against the pods that receive the traffic, and for NCP's namespace-count limit.

An empty label value (``app: ""``) cannot be written as a condition (``scope|`` means "any
value"), so it is rejected with ``UNSUPPORTED_SELECTOR`` rather than silently widened.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from ncp.translate import naming
from ncp.translate.dfwkit.errors import PolicyInputError
from ncp.translate.policyinputs import NamespaceInfo, PodInfo
from sdn.model import Condition, ConjunctionOperator
from sdn.model.dfw import Expression

__all__ = [
    "ClusterView",
    "PodPredicate",
    "PodQuery",
    "Requirement",
    "Selector",
    "cluster_condition",
    "conjunction",
    "parse_selector",
    "project_condition",
    "selector_conditions",
    "selector_matches",
]

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_PREFIX = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_LABEL_KEY = re.compile(rf"(?:(?P<prefix>{_PREFIX})/)?(?P<name>{_NAME})")
_LABEL_VALUE = re.compile(_NAME)

PodPredicate = Callable[[PodInfo], bool]


@dataclass(frozen=True)
class Requirement:
    """One requirement of a label selector.

    Attributes:
        key: The label key (the tag scope).
        operator: ``Equals`` (from ``matchLabels``), ``In``, ``NotIn``, ``Exists`` or
            ``DoesNotExist``.
        values: The values (one for ``Equals``, none for ``Exists`` / ``DoesNotExist``).
    """

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a pod or namespace with these labels satisfies the requirement."""
        present = self.key in labels
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        value = _text(labels[self.key]) if present else None
        if self.operator == "NotIn":
            return value not in self.values
        return value in self.values

    def condition(self, member_type: str) -> Condition:
        """The NSX tag condition with the same meaning (see :mod:`sdn.model.dfw`)."""
        if self.operator == "Equals":
            return tag_condition(member_type, "EQUALS", "EQUALS", f"{self.key}|{self.values[0]}")
        if self.operator in ("In", "NotIn"):
            return tag_condition(member_type, self.operator.upper(), "EQUALS",
                                 f"{self.key}|{','.join(self.values)}")
        if self.operator == "Exists":
            return tag_condition(member_type, "EQUALS", "EQUALS", f"{self.key}|")
        return tag_condition(member_type, "EQUALS", "NOTEQUALS", f"{self.key}|")


@lru_cache(maxsize=1 << 16)
def tag_condition(member_type: str, operator: str, scope_operator: str,
                  value: str) -> Condition:
    """One shared, validated tag condition per distinct meaning.

    Conditions are frozen values and a large cluster's groups repeat a few thousand of
    them (the cluster's, each namespace's, each tier's) tens of thousands of times: built
    once, each is validated once and stored once. A condition that fails validation
    raises here every time it is asked for (``lru_cache`` keeps no exceptions).
    """
    kind: Any = member_type
    op: Any = operator
    scope_op: Any = scope_operator
    return Condition(member_type=kind, operator=op, scope_operator=scope_op, value=value)


Selector = tuple[Requirement, ...]


def _text(value: object) -> str:
    """A label value as the tags carry it (see :func:`ncp.translate.tags.label_tags`)."""
    return "" if value is None else str(value)


def _label_key(key: object, where: str) -> str:
    if not isinstance(key, str) or not key:
        raise PolicyInputError("INVALID_SELECTOR", f"{where}: label key {key!r} is not a string")
    found = _LABEL_KEY.fullmatch(key)
    if (found is None or len(found["name"]) > 63
            or (found["prefix"] is not None and len(found["prefix"]) > 253)):
        raise PolicyInputError("INVALID_SELECTOR", f"{where}: {key!r} is not a valid label key")
    return key


def _label_value(value: object, where: str, key: str) -> str:
    if isinstance(value, Mapping | list):
        raise PolicyInputError("INVALID_SELECTOR", f"{where}: value of {key!r} is not a string")
    text = _text(value)
    if not text:
        raise PolicyInputError(
            "UNSUPPORTED_SELECTOR",
            f"{where}: an empty value for {key!r} cannot be matched by an NSX tag condition "
            f"('{key}|' means any value); use Exists or a non-empty value")
    if len(text) > 63 or _LABEL_VALUE.fullmatch(text) is None:
        raise PolicyInputError("INVALID_SELECTOR",
                               f"{where}: {text!r} is not a valid value for {key!r}")
    return text


def parse_selector(value: object, where: str) -> Selector:
    """Parse a Kubernetes label selector; ``None`` and ``{}`` select everything.

    Args:
        value: The selector as parsed from YAML.
        where: Its location in the object, for messages (``spec.podSelector``).

    Returns:
        The requirements: ``matchLabels`` sorted by key, then ``matchExpressions`` in order.

    Raises:
        PolicyInputError: ``INVALID_SELECTOR`` for an unknown operator, ``In``/``NotIn``
            without values, ``Exists``/``DoesNotExist`` with values, or malformed keys and
            values; ``UNSUPPORTED_SELECTOR`` for an empty label value.
    """
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise PolicyInputError("INVALID_SELECTOR", f"{where} is not a label selector")
    return (*_match_labels(value.get("matchLabels"), where),
            *_match_expressions(value.get("matchExpressions"), where))


def _match_labels(match_labels: object, where: str) -> list[Requirement]:
    """``matchLabels`` as ``Equals`` requirements, sorted by key so that the conditions
    (and so the group) do not depend on the order the manifest lists them in."""
    if match_labels is None:
        return []
    if not isinstance(match_labels, Mapping):
        raise PolicyInputError("INVALID_SELECTOR", f"{where}.matchLabels is not a mapping")
    requirements: list[Requirement] = []
    for key in sorted(match_labels, key=str):
        label = _label_key(key, f"{where}.matchLabels")
        requirements.append(Requirement(
            label, "Equals", (_label_value(match_labels[key], f"{where}.matchLabels", label),)))
    return requirements


def _match_expressions(expressions: object, where: str) -> list[Requirement]:
    """``matchExpressions`` in the listed order (NSX evaluates the conditions as listed)."""
    if expressions is None:
        return []
    if not isinstance(expressions, list):
        raise PolicyInputError("INVALID_SELECTOR", f"{where}.matchExpressions is not a list")
    return [_match_expression(expr, f"{where}.matchExpressions[{n}]")
            for n, expr in enumerate(expressions)]


def _match_expression(expr: object, at: str) -> Requirement:
    """One ``{key, operator, values}``, checked as Kubernetes checks it: ``In`` and
    ``NotIn`` need values, ``Exists`` and ``DoesNotExist`` take none; repeated values
    are kept once."""
    if not isinstance(expr, Mapping):
        raise PolicyInputError("INVALID_SELECTOR", f"{at} is not a mapping")
    key = _label_key(expr.get("key"), at)
    operator = expr.get("operator")
    values = expr.get("values")
    if values is None:
        values = []
    if not isinstance(values, list):
        raise PolicyInputError("INVALID_SELECTOR", f"{at}.values is not a list")
    if operator in ("In", "NotIn"):
        if not values:
            raise PolicyInputError("INVALID_SELECTOR", f"{at}: operator {operator} needs values")
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            raise PolicyInputError("INVALID_SELECTOR",
                                   f"{at}: operator {operator} takes no values")
    else:
        raise PolicyInputError("INVALID_SELECTOR", f"{at}: unknown operator {operator!r}")
    texts = tuple(dict.fromkeys(_label_value(v, at, key) for v in values))
    return Requirement(key, str(operator), texts)


def selector_matches(selector: Selector, labels: Mapping[str, str]) -> bool:
    """Whether labels satisfy every requirement (an empty selector matches everything)."""
    return all(r.matches(labels) for r in selector)


def selector_conditions(selector: Selector, member_type: str) -> list[Condition]:
    """The selector's requirements as tag conditions on ``member_type``."""
    return [r.condition(member_type) for r in selector]


def cluster_condition(cluster: str) -> Condition:
    """``ncp/cluster`` EQUALS the cluster, on ``SegmentPort``: every pod port of the cluster."""
    return tag_condition("SegmentPort", "EQUALS", "EQUALS", f"{naming.SCOPE_CLUSTER}|{cluster}")


def project_condition(namespace: str) -> Condition:
    """``ncp/project`` EQUALS the namespace, on ``SegmentPort``."""
    return tag_condition("SegmentPort", "EQUALS", "EQUALS",
                         f"{naming.SCOPE_PROJECT}|{namespace}")


#: The one ``AND`` operator every AND-term shares (a frozen value).
_AND = ConjunctionOperator(conjunction_operator="AND")


def conjunction(criteria: Sequence[Expression]) -> tuple[Expression, ...]:
    """The criteria joined by ``AND`` operators (one AND-term of a group expression)."""
    out: list[Expression] = []
    for n, criterion in enumerate(criteria):
        if n:
            out.append(_AND)
        out.append(criterion)
    return tuple(out)


@dataclass(frozen=True)
class PodQuery:
    """A selection of pods by selectors: ``pods`` in one ``namespace``, or in the
    namespaces ``spaces`` matches (exactly one of the two is set). Hashable, so that
    :class:`ClusterView` answers each distinct query once."""

    pods: Selector
    namespace: str | None = None
    spaces: Selector | None = None

    def matches(self, pod: PodInfo, labels_of: Callable[[str], Mapping[str, str]]) -> bool:
        """The straightforward reading (what :meth:`ClusterView.query` must equal);
        ``labels_of`` gives a namespace's labels (read only with ``spaces``)."""
        if self.spaces is None:
            in_scope = pod.namespace == self.namespace
        else:
            in_scope = selector_matches(self.spaces, labels_of(pod.namespace))
        return in_scope and selector_matches(self.pods, pod.labels)


class _LabelIndex:
    """Which items (by position) carry each label and each label key; answers a selector
    with set operations instead of testing every item."""

    def __init__(self, labels: Iterable[Mapping[str, str]]) -> None:
        self.by_value: dict[tuple[str, str], set[int]] = defaultdict(set)
        self.by_key: dict[str, set[int]] = defaultdict(set)
        count = 0
        for i, item in enumerate(labels):
            count += 1
            for key, value in item.items():
                self.by_value[(key, _text(value))].add(i)
                self.by_key[key].add(i)
        self.all = frozenset(range(count))

    def requirement(self, r: Requirement) -> frozenset[int] | set[int]:
        """The positions satisfying one requirement (as :meth:`Requirement.matches`); an
        index entry itself when one answers it (never to be changed by the caller)."""
        if r.operator == "Exists":
            return self.by_key.get(r.key, set())
        if r.operator == "DoesNotExist":
            return self.all - self.by_key.get(r.key, set())
        if len(r.values) == 1 and r.operator != "NotIn":
            return self.by_value.get((r.key, r.values[0]), set())
        hit: set[int] = set()
        for v in r.values:
            hit |= self.by_value.get((r.key, v), set())
        return self.all - hit if r.operator == "NotIn" else hit

    def select(self, selector: Selector, within: frozenset[int] | None = None) -> frozenset[int]:
        """The positions satisfying every requirement (all of ``within`` for none)."""
        out = self.all if within is None else within
        for r in sorted(selector, key=lambda r: r.operator in ("NotIn", "DoesNotExist")):
            out = out & self.requirement(r)
            if not out:
                break
        return frozenset(out)


class ClusterView:
    """The cluster's pods and namespace labels, for selections made in Python.

    Only pods with a segment port take part (a pod without one is in no group). Pods are
    kept in (namespace, name) order so that everything derived from them is deterministic.
    Selections by selector (:meth:`query`, :meth:`matching_namespaces`) go through label
    indexes built on first use and are remembered per distinct selector: many policies
    select the same pods, and testing every pod against every peer made translating a
    large cluster quadratic.
    """

    def __init__(self, pods: Sequence[PodInfo], namespaces: Sequence[NamespaceInfo]) -> None:
        self._all_pods = pods
        self._all_namespaces = namespaces

    @cached_property
    def pods(self) -> list[PodInfo]:
        """The pods with a port, sorted; read only when a selection needs them (named
        ports), so that a firewall without named ports does not depend on pods (see
        :class:`~ncp.translate.policyinputs.Tracked`)."""
        return sorted((p for p in self._all_pods if p.port_path),
                      key=lambda p: (p.namespace, p.name))

    @cached_property
    def namespaces(self) -> list[NamespaceInfo]:
        """The namespaces, sorted; read only when a selection needs them."""
        return sorted(self._all_namespaces, key=lambda n: n.name)

    @cached_property
    def _ns_labels(self) -> dict[str, Mapping[str, str]]:
        return {n.name: n.labels for n in self._all_namespaces}

    def namespace_labels(self, name: str) -> Mapping[str, str]:
        """The labels of a namespace (none for an unknown one)."""
        return self._ns_labels.get(name, {})

    def select(self, predicate: PodPredicate) -> list[PodInfo]:
        """The pods satisfying the predicate, in (namespace, name) order."""
        return [p for p in self.pods if predicate(p)]

    @cached_property
    def _namespace_index(self) -> tuple[list[str], _LabelIndex]:
        names = [n.name for n in self.namespaces]
        return names, _LabelIndex(n.labels for n in self.namespaces)

    @cached_property
    def _pod_index(self) -> tuple[_LabelIndex, dict[str, frozenset[int]]]:
        by_namespace: dict[str, set[int]] = defaultdict(set)
        for i, p in enumerate(self.pods):
            by_namespace[p.namespace].add(i)
        return (_LabelIndex(p.labels for p in self.pods),
                {ns: frozenset(found) for ns, found in by_namespace.items()})

    def namespace_positions(self, selector: Selector) -> frozenset[int]:
        """Positions in :attr:`namespaces` of those whose labels the selector matches."""
        found = self._namespaces_memo.get(selector)
        if found is None:
            found = self._namespace_index[1].select(selector)
            self._namespaces_memo[selector] = found
        return found

    def matching_namespaces(self, selector: Selector) -> frozenset[str]:
        """The names of the namespaces whose labels the selector matches."""
        names = self._namespace_index[0]
        return frozenset(names[i] for i in self.namespace_positions(selector))

    @cached_property
    def _labels_index(self) -> tuple[list[str], _LabelIndex]:
        """The index of :meth:`namespace_labels` (each name once, as that method reads)."""
        return list(self._ns_labels), _LabelIndex(self._ns_labels.values())

    def _spaces(self, selector: Selector) -> set[str]:
        """The namespaces whose pods a namespace selector admits, as
        :meth:`namespace_labels` reads them: a namespace the view does not know has no
        labels, so a selector that matches no labels admits its pods too."""
        names, index = self._labels_index
        spaces = {names[i] for i in index.select(selector)}
        if selector_matches(selector, {}):
            spaces |= {p.namespace for p in self.pods if p.namespace not in self._ns_labels}
        return spaces

    @cached_property
    def _namespaces_memo(self) -> dict[Selector, frozenset[int]]:
        return {}

    @cached_property
    def _query_memo(self) -> dict[PodQuery, frozenset[int]]:
        return {}

    def query(self, q: PodQuery) -> frozenset[int]:
        """Positions in :attr:`pods` of the pods the query selects (as
        :meth:`PodQuery.matches` says, computed through the indexes)."""
        found = self._query_memo.get(q)
        if found is None:
            index, by_namespace = self._pod_index
            if q.spaces is None:
                spaces: Iterable[str] = (q.namespace,) if q.namespace is not None else ()
            else:
                spaces = self._spaces(q.spaces)
            scope: set[int] = set()
            for ns in spaces:
                scope |= by_namespace.get(ns, frozenset())
            found = index.select(q.pods, frozenset(scope))
            self._query_memo[q] = found
        return found

    def select_any(self, queries: Sequence[PodQuery],
                   predicates: Sequence[PodPredicate] = ()) -> list[PodInfo]:
        """The pods any query or predicate selects, in (namespace, name) order."""
        hit: set[int] = set()
        for q in queries:
            hit |= self.query(q)
        pods = self.pods
        if predicates:
            hit.update(i for i, p in enumerate(pods)
                       if i not in hit and any(s(p) for s in predicates))
        return [pods[i] for i in sorted(hit)]
