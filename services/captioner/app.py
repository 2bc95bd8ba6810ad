"""The captioner service on Kafka: `objects.detected` → one `objects.captioned` per object.

Run: `catalens run captioner` or `python -m services.captioner`. GPT-4o when an API key is
set, else the offline captioner (see `build_captioner`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from catalens.adapters.minio_store import open_minio_store
from catalens.inference import close_quietly
from catalens.ports import Captioner
from catalens.settings import Settings
from catalens.streaming.route import Route
from catalens.streaming.service import Service, service_app
from schemas import OBJECTS_DETECTED, ObjectsDeleted, ObjectsDetected
from services.captioner.handler import CaptionerPorts, handle_detected

NAME = "captioner"


@asynccontextmanager
async def open_routes(
    settings: Settings, captioner: Captioner | None = None
) -> AsyncIterator[list[Route]]:
    loaded: Captioner | None = None
    try:
        if captioner is None:
            from services.captioner.factory import build_captioner

            captioner = loaded = build_captioner(settings.captioner)
        crops = await open_minio_store(settings.minio, settings.minio.crops_bucket)
        ports = CaptionerPorts(crops, captioner)
        yield [
            Route("detected", OBJECTS_DETECTED, handle_detected, ports,
                  accepts=(ObjectsDetected, ObjectsDeleted),
                  max_records=settings.streaming.max_batch),
        ]  # fmt: skip
    finally:
        if loaded is not None:
            await close_quietly(loaded)


def create_app(settings: Settings | None = None, captioner: Captioner | None = None) -> Service:
    def routes(s: Settings):  # type: ignore[no-untyped-def]
        return open_routes(s, captioner)

    return service_app(NAME, settings or Settings(), routes)
