"""What a test needing something this machine may lack does without it: skip locally
(saying what is missing), fail under ``CI=true`` (CI installs everything, so a missing
part there is a broken CI, never a pass)."""

from __future__ import annotations

import os

import pytest


def skip_or_fail(reason: str | None, what: str) -> None:
    """Return when ``reason`` is None (nothing missing); else skip, or fail in CI saying
    that ``what`` cannot run."""
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {what} cannot run: {reason}")
    pytest.skip(reason)
