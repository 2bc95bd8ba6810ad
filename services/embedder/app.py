"""The embedder service on Kafka: `objects.detected` → image vectors and `objects.captioned` →
caption vectors, both on `objects.embedded`; tombstones pass through.

Run: `catalens run embedder` or `python -m services.embedder`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from catalens.adapters.minio_store import open_minio_store
from catalens.inference import ModelRunner, close_quietly
from catalens.ports import Embedder
from catalens.settings import Settings
from catalens.streaming.route import Route
from catalens.streaming.service import Service, service_app
from schemas import (
    OBJECTS_CAPTIONED,
    OBJECTS_DETECTED,
    ObjectsCaptioned,
    ObjectsDeleted,
    ObjectsDetected,
)
from services.embedder.handler import EmbedderPorts, handle_captioned, handle_detected

NAME = "embedder"


@asynccontextmanager
async def open_routes(
    settings: Settings, embedder: Embedder | None = None
) -> AsyncIterator[list[Route]]:
    runner = ModelRunner(NAME)
    loaded: Embedder | None = None
    try:
        if embedder is None:
            from services.embedder.factory import build_embedder

            embedder = loaded = await runner.run(
                build_embedder, settings.embedder, settings.data_dir
            )
        crops = await open_minio_store(settings.minio, settings.minio.crops_bucket)
        ports = EmbedderPorts(crops, embedder, runner, settings.streaming.embedded_topic)
        batch = settings.streaming.max_batch
        yield [
            Route("detected", OBJECTS_DETECTED, handle_detected, ports,
                  accepts=(ObjectsDetected, ObjectsDeleted), max_records=batch),
            Route("captioned", OBJECTS_CAPTIONED, handle_captioned, ports,
                  accepts=(ObjectsCaptioned,), max_records=batch),
        ]  # fmt: skip
    finally:
        if loaded is not None:
            await close_quietly(loaded)
        runner.close()


def create_app(settings: Settings | None = None, embedder: Embedder | None = None) -> Service:
    def routes(s: Settings):  # type: ignore[no-untyped-def]
        return open_routes(s, embedder)

    return service_app(NAME, settings or Settings(), routes)
