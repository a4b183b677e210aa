"""An object's ``_revision`` as the API's writes check it (interim).

NSX gives every object a revision that each change raises by one; a ``PUT`` carrying
another is refused (412). The store keeps the revisions (the object shapes work); until
that lands, this module is the one place writes ask, and it answers 0 for every object
(so a ``PUT`` over an object must carry ``_revision: 0``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sdn.store import Store


def revisions(store: Store, paths: Iterable[str]) -> dict[str, int]:
    """The current ``_revision`` of each object (or rule) at ``paths``."""
    return dict.fromkeys(paths, 0)
