"""``sdn verify`` exactly as the command line runs it, with the kernel's outcome of every
probe written down: ``python -m tests.support.verify_spy OUT.json verify --state ...``.

Why: ``sdn verify -o json`` lists only disagreements, so a test that wants to hold the
kernel itself to an expected table (not only to the simulator) needs the outcomes verify
saw. Spying on the one function that probes keeps it to one probing run (probing twice
could see two different kernels) and runs the real command in its own process, so many
verifies can run at once (their stdout is not this test process's).

OUT.json is a list of ``[netns, dst, protocol, port, outcome]``, one per probe.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def main(argv: Sequence[str]) -> int:
    """Run ``sdn ARGV[1:]`` with ``probe_all`` recorded into ``ARGV[0]``."""
    import sdn.cli
    from sdn.dataplane import probe

    out, rest = argv[0], list(argv[1:])
    real = probe.probe_all
    seen: list[list[Any]] = []

    def recorded(probes: Sequence[probe.Probe], **options: Any) -> list[probe.Outcome]:
        outcomes = real(probes, **options)
        seen.extend([p.netns, p.dst, p.protocol, p.port, o]
                    for p, o in zip(probes, outcomes, strict=True))
        return outcomes

    probe.probe_all = recorded  # type: ignore[assignment]
    try:
        code: int = sdn.cli.main(rest)
    finally:
        Path(out).write_text(json.dumps(seen))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
