"""The embedder service on Kafka: `objects.detected` → image vectors and `objects.captioned` →
caption vectors, both on `objects.embedded`; tombstones pass through.

Run: `catalens run embedder` or `python -m services.embedder`."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from core.inference import ModelRunner, close_quietly
from core.ports import Embedder
from core.routes import Route
from core.settings import Settings
from core.storage.minio_store import open_minio_store
from core.streaming.metrics import ServiceMetrics
from core.streaming.service import Service, service_app
from services.embedder.handler import EmbedderPorts
from services.embedder.routes import NAME, routes


@asynccontextmanager
async def open_routes(
    settings: Settings, metrics: ServiceMetrics, embedder: Embedder | None = None
) -> AsyncIterator[list[Route[Any]]]:
    runner = ModelRunner(NAME)
    loaded: Embedder | None = None
    try:
        if embedder is None:
            from core.embedding.factory import build_embedder

            embedder = loaded = await runner.run(
                build_embedder, settings.embedder, settings.data_dir
            )
        crops = await open_minio_store(settings.minio, settings.minio.crops_bucket)
        ports = EmbedderPorts(crops, embedder, runner, settings.streaming.embedded_topic)
        yield routes(settings, ports)
    finally:
        if loaded is not None:
            await close_quietly(loaded)
        runner.close()


def create_app(settings: Settings | None = None, embedder: Embedder | None = None) -> Service:
    opened = functools.partial(open_routes, embedder=embedder)
    return service_app(NAME, settings or Settings(), opened)
