"""The lifespan every service shares: topics, `/metrics`, ports (models load once) and routes.

A service's `app.py` supplies `open_routes(settings, metrics)`: an async context manager that
builds its ports, yields the routes its `routes.py` declares for them, and closes the ports on
exit (after the broker has stopped). `run_service` runs one until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from faststream import FastStream
from faststream.kafka import KafkaBroker

from core.routes import Route
from core.settings import Settings
from core.streaming.broker import make_broker
from core.streaming.metrics import ServiceMetrics, metrics_port
from core.streaming.route import RouteRunner
from core.streaming.topics import ensure_topics

log = logging.getLogger(__name__)


class OpenRoutes(Protocol):
    """Builds a service's ports and yields its routes; closes the ports on exit."""

    def __call__(
        self, settings: Settings, metrics: ServiceMetrics
    ) -> AbstractAsyncContextManager[list[Route[Any]]]: ...


@dataclass
class Service:
    name: str
    settings: Settings
    broker: KafkaBroker
    metrics: ServiceMetrics
    app: FastStream = field(init=False)
    runners: list[RouteRunner] = field(default_factory=list)
    failure: BaseException | None = None

    def fail(self, error: BaseException) -> None:
        """A route gave up: stop the service (its batch stays uncommitted)."""
        self.failure = self.failure or error
        self.app.exit()

    @asynccontextmanager
    async def running(self, ready_timeout_s: float = 60.0) -> AsyncIterator[Service]:
        """Start in this event loop (tests, embedding), ready once every route's consumer owns
        its partitions; stop on exit (no signal handlers are installed)."""
        async with self.app.lifespan_context():
            await self.app.start()
            try:
                await asyncio.wait_for(
                    asyncio.gather(*(r.wait_assigned() for r in self.runners)), ready_timeout_s
                )
                yield self
            finally:
                await self.app.stop()

    async def run(self) -> int:
        """Run until SIGINT/SIGTERM (or a route gives up); 0 on a clean stop, else 1."""
        await self.app.run()
        if self.failure is not None:
            log.error("%s stopped after a failure: %s", self.name, self.failure)
            return 1
        return 0


def service_app(name: str, settings: Settings, open_routes: OpenRoutes) -> Service:
    """Build the broker and the app; nothing connects until the app runs."""
    service = Service(
        name, settings, make_broker(settings.kafka, settings.streaming, name), ServiceMetrics(name)
    )

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        streaming = settings.streaming
        await ensure_topics(settings.kafka.bootstrap_servers, streaming)
        port = metrics_port(name, streaming.metrics_port)
        async with open_routes(settings, service.metrics) as routes:
            for route in routes:
                runner = RouteRunner(
                    name, route, service.broker, streaming, service.metrics, service.fail
                )
                runner.subscribe()
                service.runners.append(runner)
            # served once the models are loaded: a scrape that answers means a started service
            server = service.metrics.serve(streaming.metrics_host, port) if port else None
            try:
                yield
            finally:
                if server is not None:
                    server.shutdown()

    service.app = FastStream(service.broker, lifespan=lifespan)
    return service


def run_service(name: str, create_app: Callable[[Settings], Service], settings: Settings) -> int:
    """Run one service until SIGINT/SIGTERM; the process exit code."""
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s [{name}] %(levelname)s %(name)s: %(message)s"
    )
    return asyncio.run(create_app(settings).run())
