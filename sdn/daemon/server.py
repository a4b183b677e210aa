"""The fork server behind ``sdn daemon``: one resident process per state that has the
question modules imported and the state's index parts in memory, and answers each
question in a child forked for it.

Why a fork server: most of what a question costs at 10,000 pods is fixed (the
interpreter, pydantic and networkx imports, unpickling the compiled firewall and the
lookups), not the answer. This process pays it once; a forked child starts with all of it
in memory (shared copy-on-write) and runs the very ``main(argv)`` a question runs
in-process, on the client's own stdin, stdout and stderr (received over the socket), in
its working folder, environment and umask. So answers, errors and exit statuses are the
in-process ones by construction, and nothing one question does (a part it parses, a cache
it fills, a module setting it changes) reaches another: each child is a copy of this
process, thrown away when it exits.

Never stale: before each question this process keys the state as every reader does
(:class:`~sdn.query.sidecar.Key`: identity, revision, file stamps) and loads the parts of
a new content if it moved; the child keys it again itself, and :mod:`sdn.query.memo`
hands it a part only for an equal key. A write between the two costs the child a load
from the files, never a stale answer.

Security: the socket is created 0600 in the state's index folder, and a peer whose uid
(``SO_PEERCRED``) is not this process's is closed on without a word. A child runs with
this process's uid, which is the client's.

Lifetime: :data:`~sdn.daemon.DEFAULT_IDLE_TIMEOUT` without a question (or ``stop``, SIGTERM, SIGINT)
ends it; it removes its socket and pid file. Its pid file is locked while it runs, so a
crashed daemon's files are recognised (nobody holds the lock) and replaced.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import gc
import importlib
import io
import os
import selectors
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from sdn.daemon import wire
from sdn.errors import DaemonError
from sdn.query import QueryIndex, memo
from sdn.query.sidecar import Key

#: How long a connected client has to say what it wants.
REQUEST_TIMEOUT = 5.0
#: How often an idle daemon looks whether its state file still exists (a daemon left on
#: a removed temporary state stops within this many seconds rather than its idle timeout).
STATE_WATCH_INTERVAL = 5.0
#: The parts every question of a revision starts from, for this default action.
PRELOAD_ACTION = "ALLOW"
#: Exit statuses of a child that failed outside ``main`` (``EX_SOFTWARE``), or was
#: interrupted after it (as Python exits on Ctrl-C).
EXIT_BUG, EXIT_INTERRUPTED = 70, 130
_PR_SET_PDEATHSIG = 1

#: What answers one command line (``sdn``'s ``main``), returning its exit status.
Answer = Callable[[list[str]], int]


@dataclass
class _Question:
    """A question being answered by a child."""

    conn: socket.socket
    argv: list[str]
    started: float


def peer_uid(conn: socket.socket) -> int:
    """The uid of the process at the other end of ``conn`` (``SO_PEERCRED``)."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


def exit_status(wait_status: int) -> int:
    """A child's exit status as a shell reports it (128 + N for a death by signal N)."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


def lock_pid_file(path: Path) -> int:
    """Take the daemon's pid file (an open descriptor holding its lock) and write this
    pid in it. DaemonError (``DAEMON_RUNNING``) when a live daemon holds it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DaemonError(f"a daemon already serves this state (pid file {path})",
                              code="DAEMON_RUNNING") from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:  # its last owner removed it as we opened it
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)


def preload(state: Path) -> Key:
    """Load (or build, as the first reader would) the parts questions start from into
    :mod:`sdn.query.memo`: the valid mark, the compiled firewall and the lookups."""
    with QueryIndex.open(state) as index:
        index.inventory()
        index.trace_context(PRELOAD_ACTION)
        return index.key


def current_key(state: Path) -> Key:
    """The state's key now, as a reader computes it."""
    with QueryIndex.open(state) as index:
        return index.key


class Server:
    """The daemon's loop: accept, check, fork, relay exit statuses, time out."""

    def __init__(self, state: Path, idle_timeout: float, answer: Answer, log: TextIO) -> None:
        self.state = Path(os.path.abspath(state))
        self.idle_timeout = idle_timeout
        self.answer = answer
        self.log = log
        self.key: Key | None = None
        self.served = 0
        self.born = time.monotonic()
        self.last_active = self.born
        self.stopping = False
        self.questions: dict[int, _Question] = {}
        self.selector = selectors.DefaultSelector()
        self.listener: socket.socket | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.pid_fd = -1

    # -- life ---------------------------------------------------------------------------

    def note(self, text: str) -> None:
        """One line in the log."""
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} [{os.getpid()}] {text}", file=self.log,
              flush=True)

    def refresh(self) -> None:
        """Hold the parts of the state's current content (a no-op when they are held)."""
        key = current_key(self.state)
        if key == self.key:
            return
        started = time.monotonic()
        gc.unfreeze()
        memo.forget()
        self.key = None
        self.key = preload(self.state)
        gc.collect()
        gc.freeze()  # a child's collections then leave the preloaded objects' pages shared
        self.note(f"loaded revision {self.key.revision} in {time.monotonic() - started:.3f} s")

    def start(self) -> None:
        """Lock the pid file, load, then listen (so a client never waits on a load)."""
        self.pid_fd = lock_pid_file(wire.pid_path(self.state))
        memo.enable()
        self.refresh()
        self.listener = self._listen(wire.socket_path(self.state))
        self.selector.register(self.listener, selectors.EVENT_READ, self._accept)
        self.selector.register(self._wake_r, selectors.EVENT_READ, self._woken)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._signalled)
        signal.set_wakeup_fd(self._wake_w)
        self.last_active = time.monotonic()  # idle from now on, not from before the load
        self.note(f"serving {self.state} (idle timeout {self.idle_timeout:g} s)")

    @staticmethod
    def _listen(path: Path) -> socket.socket:
        """Bind ``path`` 0600 (a socket left by a crashed daemon is replaced: the pid file's
        lock says none is alive)."""
        path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            with wire.addressable(path) as address:
                sock.bind(address)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        sock.listen(64)
        return sock

    def close(self) -> None:
        """Remove the socket and the pid file, then let the lock go."""
        signal.set_wakeup_fd(-1)
        self._stop_listening()
        if self.pid_fd >= 0:
            wire.pid_path(self.state).unlink(missing_ok=True)
            os.close(self.pid_fd)
            self.pid_fd = -1
            self.note(f"stopped after {self.served} question(s)")

    def _stop_listening(self) -> None:
        if self.listener is not None:
            self.selector.unregister(self.listener)
            wire.socket_path(self.state).unlink(missing_ok=True)
            self.listener.close()
            self.listener = None

    def serve(self) -> None:
        """Answer until stopped, idle for the timeout with no question running, or the
        state file gone (its folder removed: nobody can ask about it any more)."""
        while not (self.stopping and not self.questions):
            timeout = None
            if not self.questions:
                timeout = self.last_active + self.idle_timeout - time.monotonic()
                if timeout <= 0:
                    self.note("idle timeout")
                    return
                if not self.state.exists():
                    self.note("the state file is gone")
                    return
                timeout = min(timeout, STATE_WATCH_INTERVAL)
            for key, _events in self.selector.select(timeout):
                key.data(key.fileobj)

    def _signalled(self, signum: int, _frame: FrameType | None) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT):
            self.stopping = True

    def _woken(self, _fileobj: Any) -> None:
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass
        self._reap()
        if self.stopping:
            self._stop_listening()

    # -- questions ----------------------------------------------------------------------

    def _accept(self, _fileobj: Any) -> None:
        assert self.listener is not None
        try:
            conn, _addr = self.listener.accept()
        except OSError:
            return
        self.last_active = time.monotonic()
        try:
            self._converse(conn)
        except (OSError, ValueError) as err:
            self.note(f"dropped a client: {err}")
            conn.close()

    def _converse(self, conn: socket.socket) -> None:
        """Greet, read what the client wants and do it (``conn`` is closed, or kept while
        a child answers)."""
        conn.settimeout(REQUEST_TIMEOUT)
        uid = peer_uid(conn)
        if uid != os.getuid():
            self.note(f"refused a peer of uid {uid}")
            conn.close()
            return
        wire.send(conn, {"hello": os.getpid(), "state": str(self.state),
                         "code": wire.code_identity()})
        message, fds = wire.receive(conn)
        op = message.get("op") if message else None
        if op == "ask" and message is not None:
            self._ask(conn, message, fds)
            return
        _close_all(fds)
        if op == "status":
            wire.send(conn, self.status())
        elif op == "stop":
            self.stopping = True
            wire.send(conn, {"stopping": os.getpid()})
            self._stop_listening()
        conn.close()

    def status(self) -> dict[str, Any]:
        """What ``sdn daemon status`` shows."""
        return {"pid": os.getpid(), "state": str(self.state),
                "revision": self.key.revision if self.key else None,
                "uptime_s": round(time.monotonic() - self.born, 3), "requests": self.served,
                "answering": len(self.questions), "idle_timeout_s": self.idle_timeout,
                "socket": str(wire.socket_path(self.state)),
                "log": str(wire.log_path(self.state))}

    def _refusal(self, message: dict[str, Any], fds: list[int]) -> str | None:
        """Why this question is not ours to answer (None: it is)."""
        if message.get("state") != str(self.state):
            return f"this daemon serves {self.state}"
        if len(fds) != 3 or not _strings(message.get("argv")) \
                or not isinstance(message.get("cwd"), str) \
                or not isinstance(message.get("umask"), int) \
                or not isinstance(message.get("env"), dict) \
                or not _strings(message["env"]) or not _strings(message["env"].values()):
            return "a malformed question"
        try:
            self.refresh()
        except Exception as err:  # the client answers itself, with the right error
            return f"cannot load the state: {err}"
        return None

    def _ask(self, conn: socket.socket, message: dict[str, Any], fds: list[int]) -> None:
        try:
            why = self._refusal(message, fds)
            if why is None and _gone(conn):
                why = "the client went away"
            pid = -1 if why else self._fork()
        except OSError as err:
            why = f"cannot fork: {err}"
        if why:
            _close_all(fds)
            self.note(f"refused: {why}")
            _send_quietly(conn, {"refused": why})
            conn.close()
            return
        if pid == 0:
            self._child(conn, message, fds)
        _close_all(fds)  # the client's terminal is the child's business now
        with contextlib.suppress(OSError):  # it did so itself already, or is gone: fine
            os.setpgid(pid, pid)
        self.served += 1
        self.questions[pid] = _Question(conn, list(message["argv"]), time.monotonic())
        _send_quietly(conn, {"started": True})
        conn.settimeout(1.0)
        self.selector.register(conn, selectors.EVENT_READ, lambda _c, pid=pid: self._heard(pid))

    @staticmethod
    def _fork() -> int:
        """Fork with SIGINT held: a Ctrl-C passed on at once reaches the child after it
        has its own handler, not this process's."""
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        pid = os.fork()
        if pid:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        return pid

    def _heard(self, pid: int) -> None:
        """The client of a running question spoke: Ctrl-C (SIGINT to the child's group,
        which stops as an interrupted command), or it went away (SIGKILL)."""
        question = self.questions.get(pid)
        if question is None:
            return
        try:
            message, fds = wire.receive(question.conn)
            _close_all(fds)
        except (OSError, ValueError):
            message = None
        if message is None:
            self.selector.unregister(question.conn)
        interrupt = bool(message and message.get("interrupt"))
        _signal_group(pid, signal.SIGINT if interrupt else signal.SIGKILL)
        self.note(f"sdn {' '.join(question.argv)}: "
                  f"{'interrupted (Ctrl-C)' if interrupt else 'its client went away'}")

    def _reap(self) -> None:
        while self.questions:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            question = self.questions.pop(pid, None)
            if question is None:
                continue
            code = exit_status(wait_status)
            self.note(f"sdn {' '.join(question.argv)}: exit {code} in "
                      f"{time.monotonic() - question.started:.3f} s")
            if _registered(self.selector, question.conn):
                self.selector.unregister(question.conn)
            _send_quietly(question.conn, {"exit": code})
            question.conn.close()
            self.last_active = time.monotonic()

    # -- the child ------------------------------------------------------------------------

    def _child(self, conn: socket.socket, message: dict[str, Any], fds: list[int]) -> None:
        """Become the client's ``sdn`` and answer (never returns)."""
        code = EXIT_BUG
        try:
            self._leave_parent(conn)
            _become_client(message, fds)
            code = self.answer(list(message["argv"]))
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else EXIT_BUG
        except KeyboardInterrupt:  # after main's own handling (its final flush)
            code = EXIT_INTERRUPTED
        except BaseException as err:
            _say(f"error: INTERNAL_ERROR: {type(err).__name__}: {err} (a bug in the sdn "
                 f"daemon; SDN_NO_DAEMON=1 answers in this process)")
        finally:
            os._exit(code)

    def _leave_parent(self, conn: socket.socket) -> None:
        """Drop everything of the daemon's: its signals, sockets, pid lock and log."""
        os.setpgid(0, 0)
        _die_with(os.getppid())
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        for question in self.questions.values():
            question.conn.close()
        conn.close()
        if self.listener is not None:
            self.listener.close()
        self.selector.close()
        for fd in (self._wake_r, self._wake_w, self.pid_fd):
            os.close(fd)
        self.log.close()  # the preloaded objects stay frozen: this child never collects them


def _become_client(message: dict[str, Any], fds: list[int]) -> None:
    """Take the client's descriptors as 0, 1 and 2, its folder, umask and environment,
    and Python's standard streams over them as the interpreter makes them."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    _close_all(fd for fd in fds if fd > 2)
    os.chdir(message["cwd"])
    os.umask(message["umask"])
    os.environ.clear()
    os.environ.update(message["env"])
    sys.argv = ["sdn", *message["argv"]]
    sys.stdin = _stream(0, "r", sys.stdin)
    sys.stdout = _stream(1, "w", sys.stdout)
    sys.stderr = _stream(2, "w", sys.stderr)


def _stream(fd: int, mode: str, like: TextIO | None) -> TextIO:
    """A text stream over ``fd``, encoded as the daemon's own, line-buffered on a terminal
    (stderr always), as Python makes its standard streams."""
    encoding = like.encoding if like is not None else "utf-8"
    errors = like.errors if like is not None else "strict"
    raw = open(fd, mode + "b", closefd=False)  # noqa: SIM115 - the stream's lifetime is the child's
    return io.TextIOWrapper(raw, encoding=encoding, errors=errors,
                            line_buffering=fd == 2 or os.isatty(fd))


def _die_with(parent: int) -> None:
    """The kernel kills this child when the daemon dies (no orphan writing on a terminal
    whose client was told the answer is lost)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it died before the call
        os._exit(EXIT_BUG)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except OSError:
        with contextlib.suppress(OSError):
            os.kill(pid, sig)


def _gone(conn: socket.socket) -> bool:
    """Whether the client closed its end (it gave up while this process was loading)."""
    timeout = conn.gettimeout()
    conn.setblocking(False)  # a socket with a timeout would wait for data first
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        conn.settimeout(timeout)


def _registered(selector: selectors.BaseSelector, conn: socket.socket) -> bool:
    try:
        selector.get_key(conn)
    except (KeyError, ValueError):
        return False
    return True


def _strings(values: object) -> bool:
    return isinstance(values, Iterable) and not isinstance(values, (str, bytes)) \
        and all(isinstance(v, str) for v in values)


def _close_all(fds: Iterable[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def _send_quietly(conn: socket.socket, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        wire.send(conn, message)


def _say(line: str) -> None:
    with contextlib.suppress(OSError):
        os.write(2, (line + "\n").encode())


def import_modules(names: Iterable[str]) -> None:
    """Import what the questions import, once, here rather than in every child."""
    for name in names:
        importlib.import_module(name)


def serve(state: str | Path, *, idle_timeout: float, answer: Answer,
          modules: Iterable[str] = ()) -> None:
    """Be the daemon of ``state`` until it stops; DaemonError when it cannot start."""
    current_key(Path(state))  # a state that does not open fails here, with its own error
    wire.index_folder(state).mkdir(exist_ok=True)
    log_fd = os.open(wire.log_path(state), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with open(log_fd, "a", encoding="utf-8") as log:
        server = Server(Path(state), idle_timeout, answer, log)
        try:
            import_modules(modules)
            server.start()
            server.serve()
        finally:
            server.close()
