"""Selecting objects by cluster, namespace and tags, shared by the subcommands."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from sdn.errors import SdnError
from sdn.model import PolicyResource


def object_filter(args: argparse.Namespace) -> Callable[[PolicyResource], bool] | None:
    """A predicate from ``--cluster``, ``--namespace`` and ``--tag``; None selects all."""
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
    if not wanted:
        return None

    def match(obj: PolicyResource) -> bool:
        tags = {(t.scope, t.tag) for t in obj.tags}
        return all(w in tags for w in wanted)

    return match
