"""The choices and shared options of ``sdn``'s command line, spelled out here so that
building the parser (and so ``sdn --help`` or a misused command line) imports none of the
modules they come from: those load pydantic, networkx, rich and yaml, most of a second.
``tests/sdn/cli/test_lazy_imports.py`` holds each value equal to the one its module uses.
"""

from __future__ import annotations

import argparse

from sdn.commandline import STRUCTURED

__all__ = ["CHILD_KIND_NAMES", "FLOW_FORMATS", "KIND_NAMES", "PROTOCOLS", "SEVERITIES",
           "STRUCTURED", "VERIFY_PROTOCOLS", "add_flow_options"]

#: ``sdn show``'s kinds, in ``sdn.model.KINDS``'s order (the keys of that mapping).
KIND_NAMES = (
    "tier-0s", "tier-1s", "segments", "segment-ports", "ip-blocks", "ip-pools", "nat-rules",
    "groups", "security-policies", "services", "lb-services", "lb-virtual-servers", "lb-pools",
    "lb-app-profiles", "lb-cookie-persistence-profiles", "lb-source-ip-persistence-profiles",
)
#: ``sdn show``'s kinds of IP pools' children (``sdn.model.apishape.POOL_CHILD_KINDS``).
CHILD_KIND_NAMES = ("ip-subnets", "ip-allocations")
#: ``sdn replay --format``'s formats (``sdn.policy.flows.FORMATS``).
FLOW_FORMATS = ("hubble", "csv")
#: ``sdn lint --fail-on``'s severities (``sdn.policy.lint.SEVERITIES``).
SEVERITIES = ("error", "warning", "info")
#: The protocols a flow question takes (``sdn.cli.policy_cmd.PROTOCOLS``).
PROTOCOLS = ("TCP", "UDP", "SCTP", "ICMP")
#: The protocols ``sdn verify`` probes with (``sdn.dataplane.probe.PROBE_PROTOCOLS``).
VERIFY_PROTOCOLS = ("TCP", "UDP", "ICMP")


def add_flow_options(p: argparse.ArgumentParser) -> None:
    """``--http-host`` and ``--http-path``: the request an Ingress VIP routes by."""
    p.add_argument("--http-host", metavar="HOST",
                   help="Host header of the request to an Ingress VIP (default: the VIP "
                        "itself, which only host-less Ingress rules match)")
    p.add_argument("--http-path", metavar="PATH", default="/",
                   help="request path to an Ingress VIP (default /)")


def add_at_option(p: argparse.ArgumentParser) -> None:
    """``--at REV|TIME``: ask of a kept revision (:mod:`sdn.cli.at_revision`)."""
    p.add_argument("--at", metavar="REV|TIME",
                   help="ask of the state as it was at this kept revision (a number, as "
                        "ncp sync -o json reports it) or time (ISO 8601, UTC unless a zone "
                        "is given)")
