"""sdn's error tree: every error the manager raises is defined in ``sdn.errors``, with a
code of its own, so a script (or a reader) finds them all in one place."""

from __future__ import annotations

import importlib
import pkgutil

import sdn
from sdn.errors import SdnError, TraceInputError


def sdn_errors() -> dict[type[SdnError], str]:
    """Every :class:`SdnError` class reachable from a module of ``sdn``, and that module."""
    found: dict[type[SdnError], str] = {}
    for info in pkgutil.walk_packages(sdn.__path__, "sdn."):
        if info.name.endswith(".__main__"):
            continue  # runs the command
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, SdnError):
                found[value] = info.name
    return found


def test_every_sdn_error_is_defined_in_sdn_errors() -> None:
    errors = sdn_errors()
    assert TraceInputError in errors
    assert {cls.__qualname__: cls.__module__ for cls in errors
            if cls.__module__ != "sdn.errors"} == {}


def test_every_sdn_error_has_its_own_code() -> None:
    codes = [cls.code for cls in sdn_errors()]
    assert len(codes) == len(set(codes)), sorted(codes)


def test_trace_input_error_keeps_its_code_and_message() -> None:
    err = TraceInputError("port /infra/p is on no segment", obj="/infra/p")
    assert err.code == "TRACE_INPUT"
    assert str(err) == "TRACE_INPUT /infra/p: port /infra/p is on no segment"
    assert isinstance(err, SdnError)
