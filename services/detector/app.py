"""The detector service on Kafka: `images` (MinIO bucket events) → `objects.detected`.

Run: `catalens run detector` or `python -m services.detector`."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from catalens.adapters.minio_store import open_minio_store
from catalens.inference import ModelRunner
from catalens.ports import Detector
from catalens.settings import Settings
from catalens.streaming.route import Route
from catalens.streaming.s3_events import ImageEvent, decode_images_record
from catalens.streaming.service import Service, service_app
from schemas import IMAGES, ImageDeleted, ImageUploaded
from services.detector.handler import DetectorPorts, handle_images

NAME = "detector"


def events_of_bucket(data: bytes, bucket: str) -> list[ImageEvent]:
    """The record's image events for our bucket; other buckets' events are not ours to take."""
    return [m for m in decode_images_record(data) if m.bucket in (None, bucket)]


@asynccontextmanager
async def open_routes(
    settings: Settings, detector: Detector | None = None
) -> AsyncIterator[list[Route]]:
    """`detector` may be passed in (tests share one loaded model); otherwise it loads here."""
    runner = ModelRunner(NAME)
    watch: asyncio.Task[None] | None = None
    try:
        if detector is None:
            from services.detector.yolo import YoloDetector

            detector = await runner.run(YoloDetector.from_settings, settings.detector)
        images = await open_minio_store(settings.minio, settings.minio.bucket)
        crops = await open_minio_store(settings.minio, settings.minio.crops_bucket)
        ports = DetectorPorts(images, crops, detector, runner, settings.detector.crop)
        watch = _follow_alias(ports, settings)
        yield [
            Route(
                "images",
                IMAGES,
                handle_images,
                ports,
                accepts=(ImageUploaded, ImageDeleted),
                max_records=settings.detector.batch_size,
                decoder=functools.partial(events_of_bucket, bucket=settings.minio.bucket),
            )
        ]
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
    from catalens.mlops.registry import current_stamp
    from services.detector.model_watch import follow_alias
    from services.detector.yolo import YoloDetector

    return asyncio.create_task(
        follow_alias(ports, config, current_stamp, YoloDetector.from_settings)
    )


def create_app(settings: Settings | None = None, detector: Detector | None = None) -> Service:
    def routes(s: Settings):  # type: ignore[no-untyped-def]
        return open_routes(s, detector)

    return service_app(NAME, settings or Settings(), routes)
