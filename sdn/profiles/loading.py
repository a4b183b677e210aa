"""Turning user input into a :class:`~sdn.profiles.model.NetworkProfile`, or into problems.

A network admin writes a profile by hand, so a bad one must come back with *every* mistake
at once, each naming the field by its dotted JSON path, e.g.
``parameters.cni_configurations.parameters.foo: unknown field``. This module maps
pydantic's validation errors to :class:`~sdn.errors.Problem` values with stable codes:

* ``MALFORMED_PROFILE``: the text is not JSON, or its top level is not an object.
* ``UNKNOWN_FIELD``: a key the profile format does not have (typos included).
* ``INVALID_VALUE``: anything else (wrong type, out of range, not one of the choices,
  missing required field).

The module stays pure: it parses text or a ready-made mapping. Reading a file (JSON or YAML)
is the caller's edge, e.g. the CLI or a topology loader.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from sdn.errors import Problem, ProfileError
from sdn.profiles.model import NEW_PROFILE, NetworkProfile

MALFORMED_PROFILE = "MALFORMED_PROFILE"
UNKNOWN_FIELD = "UNKNOWN_FIELD"
INVALID_VALUE = "INVALID_VALUE"

#: The ``obj`` of problems when neither a profile name nor a source is known.
UNNAMED = "<profile>"

_VALUE_ERROR_PREFIXES = ("Value error, ", "Assertion failed, ")


def parse_profile(data: Mapping[str, Any] | str | bytes, *, source: str = "",
                  new: bool = False) -> NetworkProfile:
    """Validate a network profile given as JSON text or as an already-decoded mapping.

    Args:
        data: The profile: JSON text (``str`` or UTF-8 ``bytes``), or a mapping such as the
            result of ``json.load`` / ``yaml.safe_load``.
        source: Where the profile came from (a file name), used to name the profile in
            problems when it has no usable ``name``.
        new: Whether this is a new profile (one a user gives: ``sdn profile create``, a
            file to ``ncp sync --profile``), whose name must then be an NSX id (letters,
            digits, ``-``, ``_``, ``.``). Profiles read back from the state or built in
            code are not new: names stored by older versions still read.

    Returns:
        The validated, frozen profile.

    Raises:
        ProfileError: ``code`` ``MALFORMED_PROFILE`` when the text is not a JSON object,
            else ``INVALID_PROFILE``; ``problems`` holds one :class:`~sdn.errors.Problem`
            per validation error, whose ``obj`` is the profile name (or ``source``) and
            whose message starts with the field's dotted path.

    >>> parse_profile('{"name": "np", "parameters": {"lb_size": "medium"}}').parameters.lb_size
    'medium'
    >>> try:
    ...     parse_profile({"name": "np", "parameters": {"lb_sise": "medium"}})
    ... except ProfileError as exc:
    ...     print(exc.problems[0])
    UNKNOWN_FIELD np: parameters.lb_sise: unknown field
    """
    decoded = _decode_json(data, source) if isinstance(data, str | bytes) else data
    obj = _profile_obj(decoded, source)
    if not isinstance(decoded, Mapping):
        raise _malformed(f"a network profile must be a JSON object, not {_json_type(decoded)}", obj)
    try:
        return NetworkProfile.model_validate(dict(decoded), context={NEW_PROFILE: new})
    except ValidationError as exc:
        problems = [problem_from_error(err, obj) for err in exc.errors()]
        raise ProfileError(
            f"{len(problems)} problem(s) in network profile", obj=obj, problems=problems
        ) from None


def problem_from_error(error: ErrorDetails, obj: str) -> Problem:
    """One :class:`~sdn.errors.Problem` for one pydantic error.

    Args:
        error: An entry of ``ValidationError.errors()``.
        obj: The profile's name (or source) for ``Problem.obj``.

    Returns:
        The problem, its message prefixed with the dotted path of the field.
    """
    path = dotted_path(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        return Problem(UNKNOWN_FIELD, obj, f"{path}: unknown field")
    if kind == "missing":
        return Problem(INVALID_VALUE, obj, f"{path}: field required")
    message = error["msg"]
    for prefix in _VALUE_ERROR_PREFIXES:
        message = message.removeprefix(prefix)
    value = error.get("input")
    if kind != "value_error" and isinstance(value, str | int | float | bool):
        message = f"{message} (got {value!r})"
    return Problem(INVALID_VALUE, obj, f"{path}: {message}")


def dotted_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic location as a dotted JSON path; list indexes in brackets.

    Args:
        loc: The ``loc`` tuple of a pydantic error (JSON keys, as aliases).

    Returns:
        e.g. ``parameters.nodes_dns[1]``, or ``<root>`` for the profile itself.

    >>> dotted_path(("parameters", "nodes_dns", 1))
    'parameters.nodes_dns[1]'
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<root>"


def _decode_json(data: str | bytes, source: str) -> Any:
    obj = source or UNNAMED
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise _malformed(f"not UTF-8 text ({exc.reason} at byte {exc.start})", obj) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        raise _malformed(message, obj) from None


def _malformed(message: str, obj: str) -> ProfileError:
    return ProfileError(
        message,
        code=MALFORMED_PROFILE,
        obj=obj,
        problems=[Problem(MALFORMED_PROFILE, obj, message)],
    )


def _profile_obj(decoded: Any, source: str) -> str:
    if isinstance(decoded, Mapping):
        name = decoded.get("name")
        if isinstance(name, str) and name.strip():
            return name
    return source or UNNAMED


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__
