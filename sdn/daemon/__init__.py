"""The question daemon: one resident process per state that answers ``sdn`` questions
without a new interpreter's imports and index loads each time.

* :mod:`sdn.daemon.wire`: where a state's daemon lives (its socket, pid file and log in
  the state's index folder) and the messages on its socket;
* :mod:`sdn.daemon.client`: what ``sdn`` does before answering a question itself (hand it
  to a live daemon; standard library only, so that it costs nothing to try);
* :mod:`sdn.daemon.server`: the fork server (preloads, then one child per question);
* :mod:`sdn.daemon.control`: ``sdn daemon start``, ``stop`` and ``status``.

This package imports nothing at all, so that importing the client is cheap.
"""

#: How long a daemon waits for a question before it stops (``--idle-timeout``). Why 15
#: minutes: long enough for the pauses of one troubleshooting session (reading an answer,
#: editing a manifest, syncing), short enough that the memory it holds (a few hundred MiB
#: at 10,000 pods) goes back soon after the session ends.
DEFAULT_IDLE_TIMEOUT = 900.0
