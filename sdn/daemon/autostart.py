"""Starting a state's daemon by itself: a question answered in-process on a big state
starts a daemon as it begins, so that the next questions on that state are answered by it.

Why: on a big state every question pays a new interpreter's imports and index loads
(about 0.4 s at 10,000 pods, of which 0.25 s are imports alone), while the daemon answers
in 0.1 s; a troubleshooter asks many questions in a row and should not have to know about
``sdn daemon start`` to get that. Build servers do the same (Bazel's client starts its
server). Why as the question begins rather than after its answer: the daemon loads on
the machine's other core while this process answers, so it is ready for the very next
question (started after the answer, the question right after it was answered in-process
again while the daemon loaded). Why only on a big state: on a small one the answer
in-process is already quick, and a resident process would only hold memory (a test suite
making hundreds of small states would make hundreds of daemons).

The rules, all cheap (a few stats; nothing is imported that the answer did not import):

* ``SDN_DAEMON``: ``auto`` (the default: start one when the state file is at least
  :data:`AUTO_START_BYTES`), ``always`` (whatever its size), ``off`` (never by itself;
  ``sdn daemon start`` still does). ``SDN_NO_DAEMON=1`` also means off.
* Only for a question about to be answered in-process on an existing state, and only when
  no daemon holds the state's pid file (one starting or loading counts as running). A
  question that then fails (a misspelt pod, exit 2) leaves the daemon too: the next
  question, asked right, is on the same state.
* The daemon started this way stops after :data:`AUTO_IDLE_TIMEOUT` without a question,
  or soon after its state file is removed (:mod:`sdn.daemon.server`).
* Starting never fails the question: a folder that cannot be written, a fork refused,
  anything else: the answer stands and nothing is said.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sdn.daemon import client, control

#: A state file at least this big gets a daemon by itself (``SDN_DAEMON=auto``). 16 MiB is
#: about 2,000 pods; the bundled samples are a few hundred KiB.
AUTO_START_BYTES = 16 << 20
#: Idle seconds after which a daemon started by itself stops: shorter than an explicitly
#: started one's (:data:`sdn.daemon.DEFAULT_IDLE_TIMEOUT`), as nobody asked for it.
AUTO_IDLE_TIMEOUT = 300.0
MODES = ("auto", "always", "off")


def mode() -> str:
    """``SDN_DAEMON`` as one of :data:`MODES` (unknown values count as ``auto``, the
    default; ``SDN_NO_DAEMON`` set means ``off``)."""
    if client.disabled():
        return "off"
    value = os.environ.get("SDN_DAEMON", "auto").strip().lower()
    return value if value in MODES else "auto"


def wanted(state: str | Path) -> bool:
    """Whether a question just answered on ``state`` should leave a daemon behind."""
    chosen = mode()
    if chosen == "off":
        return False
    try:
        size = Path(state).stat().st_size
    except OSError:
        return False
    return (chosen == "always" or size >= AUTO_START_BYTES) and not control.alive(state)


def before_answer(state: str | Path) -> bool:
    """Start the daemon of ``state`` in the background when :func:`wanted`, before a
    question is answered in-process; whether one was started. Never raises."""
    with contextlib.suppress(Exception):
        if wanted(state):
            control.spawn(state, AUTO_IDLE_TIMEOUT)
            return True
    return False
