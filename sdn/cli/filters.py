"""Selecting objects by cluster, namespace and tags, shared by the subcommands."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable

from sdn.errors import NotFoundError, SdnError
from sdn.model import PolicyResource
from sdn.store import Store


def wanted_tags(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The ``(scope, tag)`` pairs ``--cluster``, ``--namespace`` and ``--tag`` ask for."""
    wanted: list[tuple[str, str]] = []
    if getattr(args, "cluster", None):
        wanted.append(("ncp/cluster", args.cluster))
    if getattr(args, "namespace", None):
        wanted.append(("ncp/project", args.namespace))
    for text in getattr(args, "tag", []) or []:
        scope, sep, value = text.partition("=")
        if not sep:
            raise SdnError(f"--tag wants SCOPE=VALUE, got {text!r}", code="BAD_ARGUMENT")
        wanted.append((scope, value))
    return wanted


def object_filter(args: argparse.Namespace) -> Callable[[PolicyResource], bool] | None:
    """A predicate from ``--cluster``, ``--namespace`` and ``--tag``; None selects all."""
    wanted = wanted_tags(args)
    if not wanted:
        return None

    def match(obj: PolicyResource) -> bool:
        tags = {(t.scope, t.tag) for t in obj.tags}
        return all(w in tags for w in wanted)

    return match


def check_scope(store: Store, cluster: str | None, namespaces: Iterable[str] = ()) -> None:
    """Refuse a ``--cluster`` or ``--namespace`` the state does not know, instead of
    answering with an empty result a user would take for "nothing there".

    Raises:
        NotFoundError: ``UNKNOWN_CLUSTER`` or ``UNKNOWN_NAMESPACE``, listing what exists.
    """
    if cluster is not None:
        clusters = [c.name for c in store.clusters()]
        if cluster not in clusters:
            raise NotFoundError(f"no cluster {cluster!r} in this state (synced: "
                                f"{', '.join(clusters) or 'none'})", code="UNKNOWN_CLUSTER",
                                obj=cluster)
    wanted = [n for n in namespaces if n]
    if not wanted:
        return
    known = {n for c, n in store.namespaces() if cluster is None or c == cluster}
    for ns in wanted:
        if ns not in known:
            where = f"cluster {cluster!r}" if cluster is not None else "any synced cluster"
            shown = ", ".join(sorted(known)[:10]) + (", ..." if len(known) > 10 else "")
            raise NotFoundError(f"no namespace {ns!r} in {where} (namespaces: "
                                f"{shown or 'none'})", code="UNKNOWN_NAMESPACE", obj=ns)
