"""A small Prometheus registry and the ``/metrics`` and ``/healthz`` endpoints.

Counters, gauges and histograms, rendered in the text exposition format; no client
library is needed for this little. A histogram keeps bucket counts, a sum and a count
(constant memory however many observations). The HTTP server runs in a daemon thread on
the port asked for (0 picks a free one).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Labels = tuple[tuple[str, str], ...]

#: Default histogram buckets, seconds (reconcile times).
BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Buckets for per-event latencies, from a millisecond up.
FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0)


def _labels(labels: dict[str, str]) -> Labels:
    return tuple(sorted(labels.items()))


def _fmt(labels: Labels, extra: tuple[tuple[str, str], ...] = ()) -> str:
    items = (*labels, *extra)
    if not items:
        return ""
    return "{" + ",".join(f'{k}="{v}"' for k, v in items) + "}"


class Metrics:
    """Thread-safe counters, gauges and a histogram, with help texts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.help: dict[str, tuple[str, str]] = {}
        self.values: dict[str, dict[Labels, float]] = defaultdict(dict)
        # Per histogram and labels: a count per bucket, then the sum, then the count.
        self.hist: dict[str, dict[Labels, list[float]]] = defaultdict(dict)
        self.buckets: dict[str, tuple[float, ...]] = {}
        #: Called before each render, to refresh gauges that are costly to keep current.
        self.collectors: list[Callable[[Metrics], None]] = []

    def describe(self, name: str, kind: str, text: str,
                 buckets: tuple[float, ...] = BUCKETS) -> None:
        """Declare a metric's type (counter, gauge, histogram), help and buckets."""
        self.help[name] = (kind, text)
        self.buckets[name] = buckets

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Add to a counter."""
        key = _labels(labels)
        with self._lock:
            self.values[name][key] = self.values[name].get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        """Set a gauge."""
        with self._lock:
            self.values[name][_labels(labels)] = value

    def observe(self, name: str, value: float, **labels: str) -> None:
        """Record one histogram observation."""
        key = _labels(labels)
        buckets = self.buckets.get(name, BUCKETS)
        with self._lock:
            row = self.hist[name].setdefault(key, [0.0] * (len(buckets) + 2))
            for i, b in enumerate(buckets):
                if value <= b:
                    row[i] += 1
            row[-2] += value
            row[-1] += 1

    def render(self) -> str:
        """The text exposition format."""
        for collect in self.collectors:
            collect(self)
        lines: list[str] = []
        with self._lock:
            for name, (kind, text) in sorted(self.help.items()):
                lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
                if kind == "histogram":
                    buckets = self.buckets.get(name, BUCKETS)
                    for key, row in sorted(self.hist.get(name, {}).items()):
                        for b, count in zip(buckets, row, strict=False):
                            lines.append(
                                f"{name}_bucket{_fmt(key, (('le', str(b)),))} {count:g}")
                        total, n = row[-2], row[-1]
                        lines.append(f"{name}_bucket{_fmt(key, (('le', '+Inf'),))} {n:g}")
                        lines.append(f"{name}_sum{_fmt(key)} {total}")
                        lines.append(f"{name}_count{_fmt(key)} {n:g}")
                else:
                    for key, value in sorted(self.values.get(name, {}).items()):
                        lines.append(f"{name}{_fmt(key)} {value:g}")
        return "\n".join(lines) + "\n"


def serve(metrics: Metrics, healthy: Callable[[], bool], port: int,
          host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Start ``/metrics`` and ``/healthz`` in a daemon thread; returns the server."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, code = metrics.render().encode(), 200
                ctype = "text/plain; version=0.0.4"
            elif self.path == "/healthz":
                ok = healthy()
                body, code, ctype = (b"ok\n" if ok else b"unhealthy\n"), (200 if ok else 503), \
                    "text/plain"
            else:
                body, code, ctype = b"not found\n", 404, "text/plain"
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
