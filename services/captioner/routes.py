"""The captioner's topology, declared once and subscribed by both runtimes.

- `detected`: topic `objects.detected`; accepts ObjectsDetected and ObjectsDeleted; batches of
  `streaming.max_batch`; `handler.handle_detected` captions each object (GPT-4o or offline) →
  `objects.captioned`.

Ports (`handler.CaptionerPorts`): the crop store and the `Captioner` (`factory.build_captioner`:
GPT-4o or a compatible server with a key, else offline with the embedder's zero-shot tags).

Kafka: `app.open_routes` opens the adapters → `core.streaming.service.service_app` runs each
route through a `core.streaming.route.RouteRunner` (consumer group `<prefix>-captioner.<route>`).
Embedded: `catalens.embedded.bootstrap` subscribes the same list on `core.bus.InProcessBus`.
"""

from __future__ import annotations

from typing import Any

from core.routes import Route
from core.settings import Settings
from schemas import OBJECTS_DETECTED, ObjectsDeleted, ObjectsDetected
from services.captioner.handler import CaptionerPorts, handle_detected

NAME = "captioner"


def routes(settings: Settings, ports: CaptionerPorts) -> list[Route[Any]]:
    return [
        Route(
            "detected",
            OBJECTS_DETECTED,
            handle_detected,
            ports,
            (ObjectsDetected, ObjectsDeleted),
            settings.streaming.max_batch,
        )
    ]
