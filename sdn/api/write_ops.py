"""What one request's writes make of the state: the objects to store and to delete, or
the reason the whole request is refused. Pure (the store's inventory and the objects'
revisions in), shared by the per-object API (:mod:`sdn.api.policy_writes`) and the
hierarchical one (:mod:`sdn.api.hierarchical`).

Writes are applied in order to a working copy of the objects, so a later write sees an
earlier one (a hierarchical body creates a group, then a policy naming it). Semantics,
as NSX's Policy API has them (choices named where NSX leaves room):

* ``PUT`` creates the object, or replaces it whole when the body's ``_revision`` is the
  object's current one; a stale or missing ``_revision`` over an existing object is 412
  (NSX: "If the _revision provided in a PUT request is missing or stale, the operation
  will be rejected").
* ``PATCH`` creates the object, or merges the body's top-level fields into it (a field
  left out keeps its value; null counts as left out, so PATCH cannot clear a field: PUT
  can). A security policy's ``rules`` merge by rule id: the rules given are patched or
  added, the others stay. A ``_revision``, when given, must be current (412 otherwise).
* ``DELETE`` removes the object; deleting what does not exist succeeds (NSX answers 200).
* A rule (``.../security-policies/{id}/rules/{rule-id}``) is written inside its policy,
  which must exist (404 otherwise); its ``_revision`` is the rule's own.
* Protection: an object ``ncp`` created (tagged ``ncp/cluster``; NSX shows
  ``_protection: REQUIRE_OVERRIDE``), or a rule of one (unless the rule has tags of its
  own, which then decide), is changed or deleted only with ``X-Allow-Overwrite: true``,
  else 403 and nothing changes.

Validation is ``sdn apply``'s (:func:`~sdn.model.documents.parse_admin_objects`,
:func:`~sdn.model.admin_plan.plan_changes`): every problem of every object of the
request is reported at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sdn.api.write_bodies import clean_body, clean_rule
from sdn.errors import Problem
from sdn.model import Inventory, PolicyResource, Rule, SecurityPolicy
from sdn.model.admin_plan import Plan, plan_changes
from sdn.model.apishape import CLUSTER_SCOPE
from sdn.model.documents import parse_admin_objects

Method = Literal["PUT", "PATCH", "DELETE"]


@dataclass(frozen=True)
class Write:
    """One object's write: ``kind`` is the URL's (``Group``, ``SecurityPolicy``,
    ``Service`` or ``Rule``), ``path`` the object's Policy path, ``body`` the JSON sent
    (None for a delete)."""

    method: Method
    kind: str
    path: str
    body: Any = None


class Refused(Exception):
    """The request is refused as a whole: ``reason`` is ``stale`` (412), ``protected``
    (403) or ``missing_parent`` (404)."""

    def __init__(self, reason: str, path: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.path = path
        self.message = message


@dataclass
class Outcome:
    """The request's result: its plan (changes and problems) and, for a ``PUT``'s answer,
    the paths written."""

    plan: Plan
    written: list[str] = field(default_factory=list)


def _id(path: str) -> str:
    return path.rsplit("/", 1)[1]


def _protected(obj: PolicyResource | None) -> bool:
    return obj is not None and bool(obj.tag(CLUSTER_SCOPE))


def _check_revision(method: Method, given: int | None, current: int, path: str) -> None:
    if method == "PUT" and given is None:
        raise Refused("stale", path, f"The object {path} exists: a PUT that replaces it "
                      f"must carry its _revision ({current}).")
    if given is not None and given != current:
        raise Refused("stale", path, f"The object {path} was modified by somebody else: "
                      f"_revision {given} is stale (current {current}). Read it again.")


class _Working:
    """The objects as the request's writes so far leave them."""

    def __init__(self, current: Inventory, revisions: Mapping[str, int],
                 allow_overwrite: bool) -> None:
        self.current = current
        self.objects: dict[str, PolicyResource | None] = {}
        self.revisions = revisions
        self.allow_overwrite = allow_overwrite
        self.problems: list[Problem] = []
        self.written: list[str] = []

    def get(self, path: str) -> PolicyResource | None:
        return self.objects[path] if path in self.objects else self.current.get(path)

    def guard(self, obj: PolicyResource | None, path: str) -> None:
        if _protected(obj) and not self.allow_overwrite:
            raise Refused("protected", path, f"The object {path} is owned by NCP (protected: "
                          "REQUIRE_OVERRIDE); changing or deleting it needs the header "
                          "X-Allow-Overwrite: true.")

    def store(self, document: dict[str, Any], problems: Sequence[Problem], path: str) -> None:
        """Validate ``document`` as ``sdn apply`` does; keep it when valid."""
        objects, bad = parse_admin_objects([document])
        self.problems += [*problems, *bad]
        if objects and not problems:
            self.objects[path] = objects[0]
        self.written.append(path)

    def write(self, w: Write) -> None:
        if w.kind == "Rule":
            self._rule(w)
            return
        old = self.get(w.path)
        self.guard(old, w.path)
        if w.method == "DELETE":
            self.objects[w.path] = None
            return
        clean = clean_body(w.body, w.kind, _id(w.path))
        if old is None:
            self.store(clean.document, clean.problems, w.path)
            return
        _check_revision(w.method, clean.revision, self.revisions.get(w.path, 0), w.path)
        document = clean.document
        if w.method == "PATCH":
            document = _merged(clean_body(old.to_api(), w.kind, old.id).document, document)
        self.store(document, clean.problems, w.path)

    def _rule(self, w: Write) -> None:
        policy_path, rule_id = w.path.rsplit("/rules/", 1)
        policy = self.get(policy_path)
        if not isinstance(policy, SecurityPolicy):
            if w.method == "DELETE":
                return
            raise Refused("missing_parent", w.path, f"The security policy {policy_path} "
                          "does not exist: create it before its rules.")
        old = next((r for r in policy.rules if r.id == rule_id), None)
        # A rule with tags of its own is protected by them, else as its policy (as its
        # ``_protection`` reads: :func:`sdn.model.apishape.api_object`).
        self.guard(old if old is not None and old.tags else policy, w.path)
        base = clean_body(policy.to_api(), "SecurityPolicy", policy.id)
        rules: list[Any] = [r for r in base.document.get("rules", []) if r.get("id") != rule_id]
        if w.method != "DELETE":
            clean = clean_body(w.body, "Rule", rule_id)
            rule = clean_rule(clean.document)
            if old is not None:
                _check_revision(w.method, clean.revision, self.revisions.get(w.path, 0), w.path)
                if w.method == "PATCH":
                    rule = _merged(clean_rule(old.to_api()), rule)
            position = next((i for i, r in enumerate(base.document.get("rules", []))
                             if r.get("id") == rule_id), len(rules))
            rules.insert(position, rule)
            self.problems += clean.problems
        self.store({**base.document, "rules": rules}, (), policy_path)


def _merged(old: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """A PATCH: the patch's top-level fields over the old document's; a security
    policy's rules by id (each patched rule's fields over its old ones)."""
    out = {**old, **patch}
    if isinstance(patch.get("rules"), list) and isinstance(old.get("rules"), list):
        rules = {r.get("id"): r for r in old["rules"] if isinstance(r, dict)}
        order = list(rules)
        for r in patch["rules"]:
            if isinstance(r, dict) and r.get("id") in rules:
                rules[r["id"]] = {**rules[r["id"]], **r}
            elif isinstance(r, dict):
                rules[r.get("id")] = r
                order.append(r.get("id"))
        out["rules"] = [rules[k] for k in order]
    return out


def resolve(current: Inventory, writes: Sequence[Write], revisions: Mapping[str, int], *,
            allow_overwrite: bool) -> Outcome:
    """Apply ``writes`` in order to ``current``; the plan of the result (its
    ``problems`` refuse it).

    Raises:
        Refused: a stale revision, a protected object without the override, a rule of a
            missing policy.
    """
    working = _Working(current, revisions, allow_overwrite)
    for w in writes:
        working.write(w)
    upserts = [o for o in working.objects.values() if o is not None]
    deletes = [p for p, o in working.objects.items() if o is None]
    plan = plan_changes(current, upserts, deletes, overwrite_ncp=True)
    plan.problems = sorted({*working.problems, *plan.problems})
    return Outcome(plan, list(dict.fromkeys(working.written)))


def rule_of(obj: PolicyResource | None, path: str) -> Rule | None:
    """The rule at ``path`` inside a security policy (None when there is none)."""
    if isinstance(obj, SecurityPolicy):
        return next((r for r in obj.rules if r.path == path), None)
    return None
