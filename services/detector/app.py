"""The detector service on Kafka: `images` (MinIO bucket events) → `objects.detected`.

Run: `catalens run detector` or `python -m services.detector`."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from core.inference import ModelRunner
from core.ports import Detector
from core.routes import Route
from core.settings import Settings
from core.storage.minio_store import open_minio_store
from core.streaming.metrics import ServiceMetrics
from core.streaming.service import Service, service_app
from services.detector.handler import DetectorPorts
from services.detector.routes import NAME, routes


@asynccontextmanager
async def open_routes(
    settings: Settings, metrics: ServiceMetrics, detector: Detector | None = None
) -> AsyncIterator[list[Route[Any]]]:
    """`detector` may be passed in (tests share one loaded model); otherwise it loads here."""
    runner = ModelRunner(NAME)
    watch: asyncio.Task[None] | None = None
    try:
        if detector is None:
            from core.detection.yolo import YoloDetector

            detector = await runner.run(YoloDetector.from_settings, settings.detector)
        images = await open_minio_store(settings.minio, settings.minio.bucket)
        crops = await open_minio_store(settings.minio, settings.minio.crops_bucket)
        ports = DetectorPorts(
            images,
            crops,
            detector,
            runner,
            settings.detector.crop,
            max_side=settings.detector.max_side,
        )
        watch = _follow_alias(ports, settings)
        yield routes(settings, ports)
    finally:
        if watch is not None:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
        runner.close()


def _follow_alias(ports: DetectorPorts, settings: Settings) -> asyncio.Task[None] | None:
    """For `models:/name@alias`: swap in the version the alias names when it moves."""
    config = settings.detector
    if not config.model.startswith("models:/") or "@" not in config.model:
        return None
    if config.reload_every_s <= 0:
        return None
    from core.detection.yolo import YoloDetector
    from core.models.registry import current_stamp
    from services.detector.model_watch import follow_alias

    return asyncio.create_task(
        follow_alias(ports, config, current_stamp, YoloDetector.from_settings)
    )


def create_app(settings: Settings | None = None, detector: Detector | None = None) -> Service:
    opened = functools.partial(open_routes, detector=detector)
    return service_app(NAME, settings or Settings(), opened)
