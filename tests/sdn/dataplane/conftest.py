"""The data-plane tests' root check, shared by every module here."""

from tests.support.dataplane import needs_root_dataplane

__all__ = ["needs_root_dataplane"]
