"""One request's writes, landed in one transaction or not at all, and NSX's answers when
they are refused.

Why plan-then-write with an expected revision: another process (``ncp sync``, ``ncp
run``, ``sdn apply``) may write the state between this request's read and its write.
The plan (revisions, protection, references) is made on what was read; the write lands
only if the state is still at that revision (:meth:`sdn.store.Store.apply`'s
``expect_revision``, checked inside the transaction). Otherwise the request reads again
and plans again, so it never overwrites a change it did not see and never half-writes.
After :data:`ATTEMPTS` tries the answer is 503 (clients retry it).

NSX error codes used here (NSX documents the statuses, not every code; where no public
source shows the code NSX uses, the choice is named):

* 400 + 255 with ``related_errors``: every validation problem of the request, one
  related error each (``error_message`` starts with the problem's stable code, then the
  object and the field, as ``sdn apply`` prints it). A related error's own code is 287
  for a field NSX does not have (NSX's "Json de-serialization error: property ... is
  unrecognized"), 500030 for an object still in use (NSX's code, that NSX's client
  library reads as "resource in use"), 255 otherwise.
* 412 + 500087: a stale (or, for a PUT, missing) ``_revision`` (500087 is the code NSX's
  client library reads as a stale revision).
* 403 + 520: a protected object without ``X-Allow-Overwrite: true`` (our choice: not
  403, which clients read as "log in again", nor 98, "new XSRF token").
* 404 + 600: a rule of a security policy that does not exist.
* 503 + 503: the state kept changing under the request (our choice).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sdn.api.errors import MALFORMED_REQUEST, POLICY, ApiError, error_body
from sdn.api.stateview import api_documents
from sdn.api.write_ops import Outcome, Refused, Write, resolve
from sdn.errors import ConflictError, Problem
from sdn.model.apishape import child_paths
from sdn.store import ChangeSet, Store
from sdn.store.codec import to_stored

#: How often a request plans again when the state moved under it.
ATTEMPTS = 10

UNRECOGNIZED_PROPERTY = 287
OBJECT_IN_USE = 500030
STALE_REVISION = 500087
PROTECTED_OBJECT = 520
MISSING_PARENT = 600
STATE_BUSY = 503

_RELATED_CODES = {"UNKNOWN_FIELD": UNRECOGNIZED_PROPERTY, "GROUP_IN_USE": OBJECT_IN_USE,
                  "OBJECT_IN_USE": OBJECT_IN_USE}


def problems_error(problems: Sequence[Problem]) -> ApiError:
    """400 naming every problem, as NSX's ``related_errors``."""
    related: list[dict[str, Any]] = [
        error_body(400, _RELATED_CODES.get(p.code, MALFORMED_REQUEST), str(p), POLICY)
        for p in problems]
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return ApiError(400, MALFORMED_REQUEST,
                    f"Field level validation errors: {first}{more}", POLICY, related=related)


def refused_error(err: Refused) -> ApiError:
    """The answer to a request refused as a whole."""
    if err.reason == "stale":
        return ApiError(412, STALE_REVISION, err.message, POLICY)
    if err.reason == "protected":
        return ApiError(403, PROTECTED_OBJECT, err.message, POLICY)
    return ApiError(404, MISSING_PARENT, err.message, POLICY)


def _revisions(store: Store, writes: Sequence[Write]) -> dict[str, int]:
    """The current ``_revision`` of every object (or rule) the writes name."""
    return {w.path: store.revision_of(w.path) or 0 for w in writes}


class StateWriter:
    """The server's one writing connection to its state, opened on the first write.

    One connection for the server's life: the store keeps its parsed inventory between
    writes and, after its own writes, parses only what they changed (a fresh connection
    per request would parse the whole state every time). Used from the server's one
    event loop thread only (see :mod:`sdn.api.app`).
    """

    def __init__(self, state: Path) -> None:
        self.state = state
        self._store: Store | None = None

    def document(self, path: str) -> dict[str, Any] | None:
        """The object (or rule) at ``path`` as a ``GET`` answers it, read through this
        connection (a ``PUT``'s answer: the state view would reread every row)."""
        if self._store is None:
            self._store = Store.open(self.state)
        inventory = self._store.inventory()
        owner = inventory.get(path) or inventory.get(path.rsplit("/rules/", 1)[0])
        if owner is None:
            return None
        metas = self._store.object_meta([owner.path, *child_paths(owner)])
        return next((d for d in api_documents(owner, metas) if d["path"] == path), None)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def commit(self, writes: Sequence[Write], *, allow_overwrite: bool, user: str,
               command: str | None = None) -> Outcome:
        """Plan ``writes`` on the state and land them in one transaction, made by
        ``user`` (the objects' ``_last_modified_user``) through ``command`` (the request,
        ``METHOD /path``, as the state's history records it).

        Raises:
            ApiError: a refusal (400 with every problem, 403, 404, 412) or 503.
        """
        if self._store is None:
            self._store = Store.open(self.state)
        store = self._store
        for _ in range(ATTEMPTS):
            inventory = store.inventory()
            try:
                outcome = resolve(inventory, writes, _revisions(store, writes),
                                  allow_overwrite=allow_overwrite)
            except Refused as err:
                raise refused_error(err) from None
            if outcome.plan.problems:
                raise problems_error(outcome.plan.problems)
            changes = outcome.plan.writes
            if not changes:
                return outcome
            upserts = [to_stored(c.obj) for c in changes if c.action != "delete"]
            deletes = [c.obj.path for c in changes if c.action == "delete"]
            try:
                store.apply(ChangeSet(upserts=upserts, deletes=deletes, user=user,
                                      command=command),
                            expect_revision=inventory.revision)
            except ConflictError as err:
                if err.code != "STATE_CHANGED":
                    raise
                continue
            return outcome
        raise ApiError(503, STATE_BUSY, "The state kept changing under this request; "
                       "retry it.", POLICY)
