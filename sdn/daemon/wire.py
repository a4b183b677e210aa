"""Where a state's daemon lives and what goes over its socket.

Where: in the state's index folder (``<state>.idx/``, the folder
:func:`sdn.query.sidecar.folder_of` names, which belongs to the state): ``daemon.sock``
(the Unix socket, mode 0600), ``daemon.pid`` (its pid, locked while it runs: a pid file
nobody holds the lock of is a crashed daemon's) and ``daemon.log``.

Messages: a 4-byte big-endian length, then that many bytes of a JSON object. A question
carries the client's three standard file descriptors with it (``SCM_RIGHTS``). One
conversation:

1. on accept, the daemon sends ``{"hello": PID, "state": ..., "code": ...}``;
2. the client sends ``{"op": "ask", ...}`` with its descriptors (or ``status``, ``stop``);
3. the daemon answers ``{"refused": WHY}`` (nothing ran: the client answers itself),
   or ``{"started": true}`` then, when the question is answered, ``{"exit": CODE}``;
4. meanwhile the client may send ``{"interrupt": true}`` (Ctrl-C), and closing its end
   ends the question.

Standard library only: the client imports this before anything else.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SOCKET_NAME, PID_NAME, LOG_NAME = "daemon.sock", "daemon.pid", "daemon.log"
#: A message longer than this is not one of ours (an environment is a few KiB).
MAX_MESSAGE = 1 << 22
#: What a Unix socket address holds (108 bytes on Linux, with room for the NUL).
_MAX_ADDRESS = 100
_LENGTH = struct.Struct("!I")


def index_folder(state: str | Path) -> Path:
    """The state's index folder, absolute (as :func:`sdn.query.sidecar.folder_of` names
    it; that module is not imported here, as it brings the whole query index)."""
    path = Path(os.path.abspath(state))
    return path.with_name(path.name + ".idx")


def socket_path(state: str | Path) -> Path:
    """The daemon's socket for ``state``."""
    return index_folder(state) / SOCKET_NAME


def pid_path(state: str | Path) -> Path:
    """The daemon's pid file for ``state``."""
    return index_folder(state) / PID_NAME


def log_path(state: str | Path) -> Path:
    """The daemon's log for ``state``."""
    return index_folder(state) / LOG_NAME


def code_identity() -> str:
    """This interpreter and the ``sdn`` package it runs: a daemon answers only clients
    that would run the same code (another checkout, another virtualenv: they answer
    themselves)."""
    return f"{sys.executable}:{Path(__file__).resolve().parents[1]}"


@contextmanager
def addressable(path: Path) -> Iterator[str]:
    """A name for ``path`` that fits in a socket address: the path itself, or for a longer
    one the same file through ``/proc/self/fd`` of its folder, open meanwhile."""
    if len(os.fsencode(path)) < _MAX_ADDRESS:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def connect(path: Path, timeout: float) -> socket.socket:
    """A connection to the daemon socket at ``path`` (OSError when none answers)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        with addressable(path) as address:
            sock.connect(address)
    except BaseException:
        sock.close()
        raise
    return sock


def send(sock: socket.socket, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
    """One message, with ``fds`` if any."""
    body = json.dumps(message).encode()
    frame = _LENGTH.pack(len(body)) + body
    sent = socket.send_fds(sock, [frame], list(fds)) if fds else 0
    if sent < len(frame):
        sock.sendall(frame[sent:])


def receive(sock: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    """One message and the descriptors that came with it (the caller owns them); None
    when the other end closed first. ValueError: not one of our messages."""
    fds: list[int] = []
    try:
        head = _exactly(sock, _LENGTH.size, fds)
        if head is None:
            return None, fds
        (length,) = _LENGTH.unpack(head)
        if length > MAX_MESSAGE:
            raise ValueError(f"a message of {length} bytes")
        body = _exactly(sock, length, fds)
        if body is None:
            return None, fds
        message = json.loads(body)
        if not isinstance(message, dict):
            raise ValueError("a message that is not an object")
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return message, fds


def _exactly(sock: socket.socket, size: int, fds: list[int]) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk, more, _flags, _addr = socket.recv_fds(sock, size - len(data), 3)
        fds.extend(more)
        if not chunk:
            return None
        data += chunk
    return data
