"""Pydantic validation errors as :class:`~sdn.errors.Problem` values.

One problem per field error, each with a stable code, the object's name and the field's
dotted path, so that every way into the state (``sdn apply``, a stored row that no longer
parses) reports the same way:

* ``UNKNOWN_FIELD``: a field NSX does not have;
* ``MISSING_FIELD``: a required field (or a union's ``resource_type``) is absent;
* ``UNSUPPORTED_KIND``: a ``resource_type`` that is not one of the union's kinds;
* ``MALFORMED_OBJECT``: a stored body that is not JSON;
* ``INVALID_VALUE``: anything else (the message quotes the value and says why).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from sdn.errors import Problem
from sdn.model.base import ID_PATTERN, OPTIONAL_ID_PATTERN
from sdn.model.values import PATTERN_MESSAGES


def field_location(loc: Sequence[int | str]) -> str:
    """A pydantic error location as a dotted field path: ``expression[0].ip_addresses[1]``.

    Pydantic puts the discriminator tag of a union member (``IPAddressExpression``,
    ``Rule``...) in the location; NSX field names are snake_case, tags are not, so every
    item that starts with a capital letter is a tag and is left out.
    """
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif not item[:1].isupper():
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "(object)"


#: Pydantic error types with a code of their own; every other one is INVALID_VALUE.
_CODES = {"extra_forbidden": "UNKNOWN_FIELD", "missing": "MISSING_FIELD",
          "union_tag_invalid": "UNSUPPORTED_KIND", "union_tag_not_found": "MISSING_FIELD",
          "json_invalid": "MALFORMED_OBJECT", "json_type": "MALFORMED_OBJECT"}

#: Error types whose message quotes the value already (this module's own validators).
_QUOTING = ("invalid_address", "invalid_port", "invalid_condition")

_ID_RULE = "is not an NSX id (letters, digits, '-', '_' and '.', starting with a letter or " \
    "digit, at most 255)"
#: Patterns checked in pydantic-core, and what a value that does not match is not.
_PATTERN_MESSAGES = {**PATTERN_MESSAGES, ID_PATTERN: _ID_RULE, OPTIONAL_ID_PATTERN: _ID_RULE}


def validation_problems(err: ValidationError, name: str) -> list[Problem]:
    """One problem per field error of ``err``, each naming ``name`` and the field."""
    problems = []
    for e in err.errors(include_url=False):
        code = _CODES.get(e["type"], "INVALID_VALUE")
        message = e["msg"]
        pattern = (e.get("ctx") or {}).get("pattern")
        if e["type"] == "string_pattern_mismatch" and pattern in _PATTERN_MESSAGES:
            message = f"{e.get('input')!r} {_PATTERN_MESSAGES[pattern]}"
        elif code == "INVALID_VALUE" and e["type"] not in _QUOTING and not isinstance(
                e.get("input"), (dict, list, tuple)):
            message = f"{e.get('input')!r}: {message}"
        problems.append(Problem(code, name, f"{field_location(e['loc'])}: {message}"))
    return problems
