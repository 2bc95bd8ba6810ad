"""The captioner service on Kafka: `objects.detected` → one `objects.captioned` per object.

Run: `catalens run captioner` or `python -m services.captioner`. GPT-4o when an API key is
set, else the offline captioner (see `build_captioner`)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from core.inference import ModelRunner, close_quietly
from core.ports import Captioner, Embedder
from core.routes import Route
from core.settings import Settings
from core.storage.minio_store import open_minio_store
from core.streaming.metrics import ServiceMetrics
from core.streaming.service import Service, service_app
from services.captioner.handler import CaptionerPorts
from services.captioner.routes import NAME, routes


@asynccontextmanager
async def open_routes(
    settings: Settings,
    metrics: ServiceMetrics,
    captioner: Captioner | None = None,
    embedder: Embedder | None = None,
) -> AsyncIterator[list[Route[Any]]]:
    """`captioner` or `embedder` may be passed in (tests share loaded models). The offline
    captioner gets the configured embedder for its zero-shot attributes, as in embedded mode."""
    loaded: Captioner | None = None
    runner = ModelRunner(NAME)
    try:
        if captioner is None:
            from services.captioner.factory import build_captioner, uses_offline

            if embedder is None and uses_offline(settings.captioner):
                from core.embedding.factory import build_embedder

                embedder = await runner.run(build_embedder, settings.embedder, settings.data_dir)
            captioner = loaded = build_captioner(settings.captioner, embedder)
        crops = await open_minio_store(settings.minio, settings.minio.crops_bucket)
        ports = CaptionerPorts(crops, captioner)
        yield routes(settings, ports)
    finally:
        if loaded is not None:
            await close_quietly(loaded)
        runner.close()


def create_app(
    settings: Settings | None = None,
    captioner: Captioner | None = None,
    embedder: Embedder | None = None,
) -> Service:
    opened = functools.partial(open_routes, captioner=captioner, embedder=embedder)
    return service_app(NAME, settings or Settings(), opened)
