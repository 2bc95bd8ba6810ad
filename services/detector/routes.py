"""The detector's topology, declared once and subscribed by both runtimes (Kafka in `app.py`,
the in-process bus in `catalens.embedded.bootstrap`).

- `images`: topic `images` (on Kafka: MinIO's bucket events); accepts ImageUploaded and
  ImageDeleted; batches of `detector.batch_size`; `handler.handle_images` (decode, detect,
  crop, store crops) → `objects.detected`.
"""

from __future__ import annotations

import functools
from typing import Any

from core.routes import Route
from core.settings import Settings
from core.streaming.s3_events import ImageEvent, decode_images_record
from schemas import IMAGES, ImageDeleted, ImageUploaded
from services.detector.handler import DetectorPorts, handle_images

NAME = "detector"


def events_of_bucket(data: bytes, bucket: str) -> list[ImageEvent]:
    """The record's image events for our bucket; other buckets' events are not ours to take."""
    return [m for m in decode_images_record(data) if m.bucket in (None, bucket)]


def routes(settings: Settings, ports: DetectorPorts) -> list[Route[Any]]:
    return [
        Route(
            "images",
            IMAGES,
            handle_images,
            ports,
            (ImageUploaded, ImageDeleted),
            settings.detector.batch_size,
            decoder=functools.partial(events_of_bucket, bucket=settings.minio.bucket),
        )
    ]
