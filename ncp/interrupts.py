"""Ctrl-C during ``ncp sync``: noticed even when something on the way swallows it.

Python turns SIGINT into :class:`KeyboardInterrupt` wherever the main thread happens
to be, and not every library lets it through: pydantic's serializers wrap it in a
``PydanticSerializationError`` (a ``ValueError``), which a ``except ValueError`` on the
way may then take for bad input. So the sync does not rely on the exception arriving
intact: :class:`InterruptWatch` counts every SIGINT while still raising as usual, the
sync checks the count at each of its steps (:meth:`InterruptWatch.check`, so a
swallowed interrupt still stops it before it writes), and the command treats any
failure that follows an interrupt as the interrupt it is.

The write itself is :meth:`sdn.store.Store.apply`'s business: it holds SIGINT for the
transaction and rolls back (or lands whole), raising :class:`~sdn.errors.Interrupted`.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class InterruptWatch:
    """Counts SIGINTs on the main thread while it is installed (a context manager)."""

    def __init__(self) -> None:
        self.count = 0
        self._raising = True
        self._previous: object = None
        self._installed = False

    def _on_sigint(self, _signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        if self._raising:
            raise KeyboardInterrupt

    def __enter__(self) -> InterruptWatch:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]
            self._installed = False

    def check(self) -> None:
        """Raise :class:`KeyboardInterrupt` if an interrupt came (and was swallowed)."""
        if self.count:
            raise KeyboardInterrupt

    @contextmanager
    def quietly(self) -> Iterator[None]:
        """Further interrupts are counted, not raised (while the command cleans up)."""
        self._raising = False
        try:
            yield
        finally:
            self._raising = True
