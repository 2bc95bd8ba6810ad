"""The detector's topology, declared once and subscribed by both runtimes.

- `images`: topic `minio.topic` (default `images`, where MinIO's bucket notifications go);
  accepts ImageUploaded and ImageDeleted; batches of `detector.batch_size`; records are decoded
  by `events_of_bucket` (S3 event records, or our own envelopes; other buckets' are skipped);
  `handler.handle_images` (decode, detect, crop, store crops) → `objects.detected`.

Ports (`handler.DetectorPorts`): the image store, the crop store (MinIO buckets, or the data
folder), the `Detector` (`yolo.YoloDetector`), its `ModelRunner`, the crop policy settings and,
in one process, the images the ingest call decoded (`core.handoff.DecodedImages`).

Kafka: `app.open_routes` opens the adapters → `core.streaming.service.service_app` runs each
route through a `core.streaming.route.RouteRunner` (consumer group `<prefix>-detector.<route>`).
Embedded: `catalens.embedded.bootstrap` subscribes the same list on `core.bus.InProcessBus`.
"""

from __future__ import annotations

import functools
from typing import Any

from core.routes import Route
from core.settings import Settings
from core.streaming.s3_events import ImageEvent, decode_images_record
from schemas import ImageDeleted, ImageUploaded
from services.detector.handler import DetectorPorts, handle_images

NAME = "detector"


def events_of_bucket(data: bytes, bucket: str) -> list[ImageEvent]:
    """The record's image events for our bucket; other buckets' events are not ours to take."""
    return [m for m in decode_images_record(data) if m.bucket in (None, bucket)]


def routes(settings: Settings, ports: DetectorPorts) -> list[Route[Any]]:
    return [
        Route(
            "images",
            settings.minio.topic,
            handle_images,
            ports,
            (ImageUploaded, ImageDeleted),
            settings.detector.batch_size,
            decoder=functools.partial(events_of_bucket, bucket=settings.minio.bucket),
        )
    ]
