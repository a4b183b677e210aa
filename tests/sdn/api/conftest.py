"""Servers for the API's end-to-end tests: ``sdn serve`` as a subprocess over a state
synced from a sample, reached with a real HTTP client.

* ``guestbook_api`` / ``multi_api`` / ``lb_api`` / ``lb_source_ip_api``: one server per
  module over the guestbook, the multi-namespace sample (``multi-tenant``) and
  ``lb-heavy`` synced with the dedicated-t1 profile (cookie, or source-IP, Ingress
  persistence: the only samples with LB profiles), for tests that only read (or that
  put back what they change);
* ``serve``: a factory for a test's own server (its own state copy, extra options).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli_runs import TOPOLOGIES, sync_sample
from tests.support.served import Served, running_server

#: The samples synced for the servers: the sample's folder (before any ``+``), and the
#: Ingress persistence of the dedicated-t1 profile it is synced with (None: no profile).
#: lb-heavy with a profile is the only way a sample gets LB profiles (one of each kind).
SAMPLES: dict[str, str | None] = {
    "guestbook": None,
    "multi-tenant": None,
    "lb-heavy+cookie": "cookie",
    "lb-heavy+source-ip": "source_ip",
}
PROFILE = TOPOLOGIES / "profiles" / "dedicated-t1.json"


def _profile(folder: Path, persistence: str) -> Path:
    """The dedicated-t1 profile with this Ingress persistence, as a file."""
    doc = json.loads(PROFILE.read_text())
    settings = doc["parameters"]["cni_configurations"]["parameters"]
    settings["ingress_persistence_settings"]["persistence_type"] = persistence
    target = folder / f"profile-{persistence}.json"
    target.write_text(json.dumps(doc))
    return target

#: The shared servers do not rate-limit (tests send bursts; the limit has its own tests).
NO_LIMIT = ("--rate-limit", "0")


@pytest.fixture(scope="session")
def synced_states(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The samples synced once per test session (copied before a server uses them)."""
    folder = tmp_path_factory.mktemp("api-states")
    states = {}
    for sample, persistence in SAMPLES.items():
        states[sample] = folder / f"{sample}.db"
        extra = ("--profile", _profile(folder, persistence)) if persistence else ()
        sync_sample(states[sample], sample.split("+")[0], *extra)
    return states


def _copy(states: dict[str, Path], sample: str, folder: Path, name: str = "") -> Path:
    target = folder / f"{name or sample}.db"
    shutil.copyfile(states[sample], target)
    return target


def _module_server(sample: str, states: dict[str, Path],
                   factory: pytest.TempPathFactory) -> Iterator[Served]:
    state = _copy(states, sample, factory.mktemp("api"))
    with running_server(state, *NO_LIMIT) as served:
        yield served


def _server_fixture(name: str, sample: str) -> Any:
    """A module-scoped fixture ``name``: a server over a copy of ``sample``'s state."""

    @pytest.fixture(scope="module", name=name)
    def fixture(synced_states: dict[str, Path],
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
        yield from _module_server(sample, synced_states, tmp_path_factory)

    return fixture


guestbook_api = _server_fixture("guestbook_api", "guestbook")
multi_api = _server_fixture("multi_api", "multi-tenant")
lb_api = _server_fixture("lb_api", "lb-heavy+cookie")
lb_source_ip_api = _server_fixture("lb_source_ip_api", "lb-heavy+source-ip")


@pytest.fixture
def serve(synced_states: dict[str, Path], tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """``serve(sample="guestbook", *options, env=None)``: a server of this test only,
    over a fresh copy of the sample's state; stopped when the test ends."""
    with ExitStack() as stack:
        started: list[Served] = []

        def start(sample: str = "guestbook", *options: str,
                  env: dict[str, str] | None = None) -> Served:
            state = _copy(synced_states, sample, tmp_path, f"{sample}-{len(started)}")
            started.append(stack.enter_context(running_server(state, *options, env=env)))
            return started[-1]

        yield start
