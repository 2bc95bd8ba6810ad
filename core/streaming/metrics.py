"""Prometheus metrics of one service, in a registry of its own, served on `/metrics`."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

DEFAULT_PORTS = {
    "detector": 9101,
    "captioner": 9102,
    "embedder": 9103,
    "indexer": 9104,
    "reconciler": 9105,
}
LABELS = ("route",)


@dataclass
class ServiceMetrics:
    service: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        prefix, reg = f"catalens_{self.service}", self.registry
        self.consumed = Counter(f"{prefix}_consumed", "records consumed", LABELS, registry=reg)
        self.produced = Counter(f"{prefix}_produced", "messages published", LABELS, registry=reg)
        self.failed = Counter(
            f"{prefix}_failed", "batches that failed (transient errors)", LABELS, registry=reg
        )
        self.dead_lettered = Counter(
            f"{prefix}_dead_lettered", "records sent to a .dlq", ("route", "reason"), registry=reg
        )
        self.batch_seconds = Histogram(
            f"{prefix}_batch_seconds",
            "time to handle, publish and commit a batch",
            LABELS,
            registry=reg,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.lag = Gauge(
            f"{prefix}_consumer_lag",
            "records behind the log end",
            ("route", "partition"),
            registry=reg,
        )

    def serve(self, host: str, port: int) -> Any:
        return serve_registry(self.registry, self.service, host, port)


def serve_registry(registry: CollectorRegistry, service: str, host: str, port: int) -> Any:
    """Start the `/metrics` HTTP server in a thread; returns it (call `.shutdown()`)."""
    server, _thread = start_http_server(port, addr=host, registry=registry)
    log.info("%s: metrics on http://%s:%d/metrics", service, host, port)
    return server


def metrics_port(service: str, configured: int | None) -> int:
    """The configured port, else the service's default; 0 turns the endpoint off."""
    return DEFAULT_PORTS.get(service, 9100) if configured is None else configured
