"""The cyclic garbage collector paused around bulk work.

Why: a sync, a firewall compile, a lint or an index save allocates millions of small
objects and makes no reference cycles, while a large inventory is loaded; every full
collection then walks all of it again. At 100,000 pods pausing it for the whole of ``ncp
sync`` (the translation was paused before, the index save after it was not) took a fifth
off the command's CPU time with the same peak memory. Only bounded, one-shot
work is wrapped (never a long-running loop such as ``ncp run``'s), and the collector's
previous state is put back, also on errors.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic collector for the ``with`` block (nesting is fine).

    Examples:
        >>> with gc_paused():
        ...     gc.isenabled()
        False
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
