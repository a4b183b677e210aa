"""How ``ncp run`` behaves: one value every part of the runtime reads.

A module of its own so that the parts (:mod:`ncp.live.worker`, :mod:`ncp.live.feeds`, ...)
can read the options without importing the :class:`~ncp.live.runner.Runner` that
composes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ncp.config import NcpConfig
from ncp.live.leader import LeaseSettings
from sdn.profiles import NetworkProfile


@dataclass
class RunOptions:
    """How ``ncp run`` behaves."""

    state: Path
    config: NcpConfig
    profile: NetworkProfile | None = None
    debounce: float = 0.3
    resync_period: float = 300.0
    watch_timeout: int = 300
    leader_election: bool = True
    lease: LeaseSettings = field(default_factory=LeaseSettings)
    metrics_port: int | None = None
    poll_interval: float = 1.0
    clock: Callable[[], float] = time.time
    #: With manifests: an input without objects may empty the cluster (``--allow-empty``).
    allow_empty: bool = False
    #: Keep this host's Linux data plane in step with the state (``--realize``; root).
    realize: bool = False
