"""A process that runs ``sdn`` commands one after another, exactly as the command line
does (``sdn.cli.main(argv)``), and hands back each one's exit code, stdout, stderr and
the kernel's outcome of every probe it sent: ``python -m tests.support.sdn_worker``
reads one JSON list of arguments per line on stdin and writes one JSON object per line
(``code``, ``out``, ``err``, ``outcomes``) on stdout; it ends when stdin closes.

Why: ``sdn verify -o json`` lists only disagreements, so a test that wants to hold the
kernel itself to an expected table (not only to the simulator) needs the outcomes verify
saw. Spying on the one function that probes keeps it to one probing run (probing twice
could see two different kernels). A process of its own lets several realizations be
probed at once (a dropped probe costs a whole timeout; the in-process runner swaps this
process's stdout, which one command at a time can do), and a long-lived one pays the
imports once. ``outcomes`` lists ``[netns, dst, protocol, port, outcome]`` per probe.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from typing import Any, TextIO


def serve(requests: TextIO, answers: TextIO) -> None:
    """Answer every request line of ``requests`` on ``answers``."""
    import sdn.cli
    from sdn.dataplane import probe

    real = probe.probe_all
    seen: list[list[Any]] = []

    def recorded(probes: Sequence[probe.Probe], **options: Any) -> list[probe.Outcome]:
        outcomes = real(probes, **options)
        seen.extend([p.netns, p.dst, p.protocol, p.port, o]
                    for p, o in zip(probes, outcomes, strict=True))
        return outcomes

    probe.probe_all = recorded
    for line in requests:
        seen.clear()
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = sdn.cli.main([str(a) for a in json.loads(line)])
            except SystemExit as exc:  # argparse's refusals
                code = exc.code if isinstance(exc.code, int) else 2
        answers.write(json.dumps({"code": code, "out": out.getvalue(),
                                  "err": err.getvalue(), "outcomes": seen}) + "\n")
        answers.flush()


if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)
