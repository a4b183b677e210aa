"""What ``sdn`` does before answering a question itself: hand it to the state's daemon
when one is running (:mod:`sdn.daemon.server`), and exit with the status it returns.

Handing over is all or nothing: the question is the daemon's only once it said
``started``; before that (no socket, nobody listening, no hello within
:data:`HELLO_TIMEOUT`, a refusal, another code base) :func:`forward` returns None and the
caller answers in-process, exactly as without a daemon. After it, the daemon's child
writes the answer straight to this process's stdout and stderr, and this process only
waits: Ctrl-C is passed on (the child stops as an interrupted command does, in one line,
exit 130), and a second Ctrl-C stops waiting.

Standard library only (and :mod:`sdn.daemon.wire`): trying costs a stat, or a connect
and a round trip, never an import of the question modules.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from sdn.daemon import wire

#: How long a daemon may take to greet a client before the client answers itself (one
#: busy loading a new revision does not accept meanwhile).
HELLO_TIMEOUT = 1.0
#: What the client says when the daemon went away in the middle of a question.
LOST = ("error: DAEMON_LOST: the daemon stopped before it answered "
        "(SDN_NO_DAEMON=1 answers in this process)")
#: Exit codes: as an interrupted command, and a lost answer (``EX_SOFTWARE``, as a bug).
EXIT_INTERRUPTED, EXIT_LOST = 130, 70


def disabled() -> bool:
    """``SDN_NO_DAEMON`` set (to anything but ``0``): every question is answered in this
    process."""
    return os.environ.get("SDN_NO_DAEMON", "0") not in ("", "0")


def forward(argv: Sequence[str], state: str | Path,
            fds: Sequence[int] = (0, 1, 2)) -> int | None:
    """Have the daemon of ``state`` answer ``sdn ARGV`` on ``fds`` (stdin, stdout,
    stderr); its exit status, or None when no daemon took the question."""
    path = wire.socket_path(state)
    if disabled() or not path.exists():
        return None
    try:
        sock = wire.connect(path, HELLO_TIMEOUT)
    except OSError:  # a crashed daemon's socket, or none listening
        return None
    with sock:
        if not _handed_over(sock, argv, state, fds):
            return None
        sock.settimeout(None)  # the question is the daemon's: wait as long as it takes
        return _outcome(sock)


def _handed_over(sock: socket.socket, argv: Sequence[str], state: str | Path,
                 fds: Sequence[int]) -> bool:
    """Ask; whether the daemon started answering."""
    try:
        hello, _ = wire.receive(sock)
        if hello is None or hello.get("code") != wire.code_identity():
            return False
        umask = os.umask(0o22)
        os.umask(umask)
        wire.send(sock, {"op": "ask", "argv": list(argv), "cwd": os.getcwd(),
                         "env": dict(os.environ), "umask": umask,
                         "state": os.path.abspath(state)}, fds)
        sock.settimeout(None)  # it may load a new revision first
        reply, _ = wire.receive(sock)
    except (OSError, ValueError):
        return False
    return reply is not None and reply.get("started") is True


def _outcome(sock: socket.socket) -> int:
    """The answer's exit status, Ctrl-C passed on meanwhile."""
    interrupted = False
    while True:
        try:
            reply, _ = wire.receive(sock)
        except KeyboardInterrupt:
            if interrupted:  # a second Ctrl-C: stop waiting (the daemon ends the child)
                return EXIT_INTERRUPTED
            interrupted = True
            _send_quietly(sock, {"interrupt": True})
            continue
        except (OSError, ValueError):
            reply = None
        if reply is not None and isinstance(reply.get("exit"), int):
            return int(reply["exit"])
        print(LOST, file=sys.stderr)
        return EXIT_LOST


def _send_quietly(sock: socket.socket, message: dict[str, object]) -> None:
    with contextlib.suppress(OSError):
        wire.send(sock, message)
