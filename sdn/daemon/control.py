"""``sdn daemon start``, ``stop`` and ``status``: talking to a state's daemon from outside,
and recognising a crashed one's leftovers.

A daemon is alive while it holds the lock of its pid file (:func:`alive`); a socket or
pid file nobody holds the lock of is a crashed daemon's, removed by whoever meets it
(:func:`clear_stale`), and replaced by the next daemon anyway.

Only :func:`start` imports the server (the query index, pydantic, the compiler): a
question answered in-process asks :func:`alive` and may :func:`spawn` through
:mod:`sdn.daemon.autostart` on every run, and must not pay those imports for it.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sdn.daemon import wire
from sdn.errors import DaemonError

#: How long a daemon has to answer ``status`` or ``stop``.
ASK_TIMEOUT = 2.0
#: How long ``stop`` waits for the questions still running and the daemon's exit.
STOP_WAIT = 30.0
_POLL = 0.02


def ask(state: str | Path, op: str) -> dict[str, Any] | None:
    """The daemon's reply to ``op`` (``status``, ``stop``); None when none answers."""
    path = wire.socket_path(state)
    if not path.exists():
        return None
    try:
        with wire.connect(path, ASK_TIMEOUT) as sock:
            hello, _ = wire.receive(sock)
            if hello is None:
                return None
            wire.send(sock, {"op": op})
            reply, _ = wire.receive(sock)
    except (OSError, ValueError):
        return None
    return reply


def alive(state: str | Path) -> bool:
    """Whether a daemon holds the pid file's lock (it runs, maybe still loading)."""
    try:
        fd = os.open(wire.pid_path(state), os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def clear_stale(state: str | Path) -> bool:
    """Remove a crashed daemon's socket and pid file; whether there were any (nothing is
    touched while a live daemon holds the lock)."""
    pid_file, sock = wire.pid_path(state), wire.socket_path(state)
    if alive(state) or not (pid_file.exists() or sock.exists()):
        return False
    sock.unlink(missing_ok=True)
    pid_file.unlink(missing_ok=True)
    return True


def status(state: str | Path) -> dict[str, Any] | None:
    """The running daemon's status, or None (a crashed one's files are cleared)."""
    reply = ask(state, "status")
    if reply is None:
        clear_stale(state)
    return reply


def stop(state: str | Path) -> int | None:
    """Stop the daemon once its running questions are answered; its pid, or None when
    none ran."""
    reply = ask(state, "stop")
    if reply is None:
        clear_stale(state)
        return None
    deadline = time.monotonic() + STOP_WAIT
    while alive(state):
        if time.monotonic() > deadline:
            raise DaemonError(f"the daemon (pid {reply.get('stopping')}) did not stop within "
                              f"{STOP_WAIT:g} s", obj=str(state))
        time.sleep(_POLL)
    return int(reply["stopping"])


def start(state: str | Path, idle_timeout: float) -> tuple[dict[str, Any], bool]:
    """Start the daemon of ``state`` detached and wait until it answers (it loads the
    state first). Returns its status and whether it was started now (False: one was
    running). DaemonError, with the daemon's last word, when it could not start."""
    from sdn.daemon.server import current_key  # the query index: only starting needs it

    running = status(state)
    if running is not None:
        return running, False
    current_key(Path(state))  # a state that does not open is refused here, with its code
    log = wire.log_path(state)
    proc, offset = spawn(state, idle_timeout)
    while True:
        reply = ask(state, "status")
        if reply is not None:
            return reply, True
        code = proc.poll()
        if code is not None:
            raise DaemonError(f"the daemon did not start (exit {code}): "
                              f"{_last_words(log, offset)}", obj=str(state))
        time.sleep(_POLL)


def spawn(state: str | Path, idle_timeout: float) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``sdn daemon run`` on ``state`` detached (its own session; its output to the
    daemon's log, so it holds none of this process's descriptors) without waiting for it;
    the process and the log's length before it (where its words begin)."""
    wire.index_folder(state).mkdir(exist_ok=True)
    log = wire.log_path(state)
    with open(os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab") as out:
        offset = out.seek(0, os.SEEK_END)
        proc = subprocess.Popen(_command(state, idle_timeout), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=out, cwd=wire.index_folder(state),
                                env=_environment(), start_new_session=True)
    return proc, offset


def _command(state: str | Path, idle_timeout: float) -> list[str]:
    return [sys.executable, "-m", "sdn", "daemon", "run", "--state", os.path.abspath(state),
            "--idle-timeout", repr(idle_timeout)]


def _environment() -> dict[str, str]:
    """This environment, with the ``sdn`` package this process runs first on the path (the
    daemon must run the code its clients run: :func:`~sdn.daemon.wire.code_identity`)."""
    root = str(Path(wire.__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}


def _last_words(log: Path, offset: int) -> str:
    """The last line the daemon wrote to its log since ``offset``."""
    try:
        with open(log, "rb") as f:
            f.seek(offset)
            lines = f.read().decode(errors="replace").strip().splitlines()
    except OSError:
        lines = []
    return lines[-1] if lines else f"nothing in {log}"
