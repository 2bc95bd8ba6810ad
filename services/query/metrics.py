"""Prometheus metrics in a registry of the app's own (never the process-global default)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import cast

from litestar import Response, get
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest


@dataclass
class QueryMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        labels = ("method", "route", "status")
        self.requests = Counter(
            "catalens_query_requests", "HTTP requests served", labels, registry=self.registry
        )
        self.latency = Histogram(
            "catalens_query_request_seconds",
            "HTTP request latency (to the end of the response)",
            ("method", "route"),
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class MetricsMiddleware(ASGIMiddleware):
    """Counts each request by route template (not raw path) and times it."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        metrics: QueryMetrics = scope["app"].state["metrics"]
        route = scope.get("path_template") or scope["path"]
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await next_app(scope, receive, send_wrapper)
        finally:
            method = cast("HTTPScope", scope)["method"]
            metrics.observe(method, route, status, time.perf_counter() - started)


@get("/metrics", tags=["health"], summary="Prometheus metrics", include_in_schema=False)
async def metrics_endpoint(state: State) -> Response[bytes]:
    metrics: QueryMetrics = state["metrics"]
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
