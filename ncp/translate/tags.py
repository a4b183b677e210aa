"""Kubernetes labels to NSX tags, within NSX's limits.

NCP copies pod labels to tags on the pod's port and namespace labels to tags on the
namespace's segment (scope = label key, tag = value). NSX allows at most 30 tags per
object, scopes of 128 and values of 256 characters; NCP's own tags take 5 places on a pod
port and 3 on a segment, hence its documented limits of 25 pod labels and 27 namespace
labels. A label beyond a limit would be truncated or dropped by NSX, silently breaking
group membership, so here it rejects the object with a clear code instead.
``label_filtering_regex_list`` names labels that are not converted at all (a key that
fully matches any of the regexes is skipped; ``.*`` disables conversion).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ncp.translate import naming
from sdn.errors import Problem
from sdn.model import MAX_TAG_SCOPE, MAX_TAG_VALUE, MAX_TAGS, Tag


def compile_filters(patterns: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    """Compile the label filters once per run."""
    return tuple(re.compile(p) for p in patterns)


def label_tags(
    labels: Mapping[str, object] | None,
    *,
    reserved: Sequence[Tag],
    filters: Sequence[re.Pattern[str]],
    obj: str,
) -> tuple[tuple[Tag, ...], list[Problem]]:
    """NCP's tags followed by one tag per label; problems when a limit is exceeded."""
    problems: list[Problem] = []
    tags = list(reserved)
    for key, value in sorted((labels or {}).items()):
        if any(f.fullmatch(key) for f in filters):
            continue
        text = "" if value is None else str(value)
        if len(key) > MAX_TAG_SCOPE:
            problems.append(Problem(
                "TAG_SCOPE_TOO_LONG", obj,
                f"label key {key[:40]!r}... is {len(key)} characters; NSX tag scopes hold "
                f"{MAX_TAG_SCOPE}"))
            continue
        if len(text) > MAX_TAG_VALUE:
            problems.append(Problem(
                "TAG_VALUE_TOO_LONG", obj,
                f"label {key!r} value is {len(text)} characters; NSX tag values hold "
                f"{MAX_TAG_VALUE}"))
            continue
        # Lengths are checked just above, so the model's own validation would only repeat
        # them; a shared tag also saves memory (see naming.tag).
        tags.append(naming.tag(key, text))
    if len(tags) > MAX_TAGS:
        allowed = MAX_TAGS - len(reserved)
        problems.append(Problem(
            "TAG_LIMIT_EXCEEDED", obj,
            f"{len(tags) - len(reserved)} labels become tags; NSX allows {MAX_TAGS} tags per "
            f"object and NCP uses {len(reserved)}, so at most {allowed} labels "
            "(or filter some with label_filtering_regex_list)"))
    return tuple(tags), problems
