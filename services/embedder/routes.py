"""The embedder's topology, declared once and subscribed by both runtimes.

- `detected`: topic `objects.detected`; accepts ObjectsDetected and ObjectsDeleted; batches of
  `streaming.max_batch`; `handler.handle_detected` embeds each crop (and the whole image) →
  `ports.topic` (`objects.embedded`, or a new model's own topic); tombstones pass through.
- `captioned`: topic `objects.captioned`; accepts ObjectsCaptioned; batches of
  `streaming.max_batch`; `handler.handle_captioned` embeds each caption → `ports.topic`.

Ports (`handler.EmbedderPorts`): the crop store, the `Embedder` (`core.embedding`), its
`ModelRunner` and the output topic (`streaming.embedded_topic`).

Kafka: `app.open_routes` opens the adapters → `core.streaming.service.service_app` runs each
route through a `core.streaming.route.RouteRunner` (consumer group `<prefix>-embedder.<route>`).
Embedded: `catalens.embedded.bootstrap` subscribes the same list on `core.bus.InProcessBus`.
"""

from __future__ import annotations

from typing import Any

from core.routes import Route
from core.settings import Settings
from schemas import (
    OBJECTS_CAPTIONED,
    OBJECTS_DETECTED,
    ObjectsCaptioned,
    ObjectsDeleted,
    ObjectsDetected,
)
from services.embedder.handler import EmbedderPorts, handle_captioned, handle_detected

NAME = "embedder"


def routes(settings: Settings, ports: EmbedderPorts) -> list[Route[Any]]:
    batch = settings.streaming.max_batch
    return [
        Route(
            "detected",
            OBJECTS_DETECTED,
            handle_detected,
            ports,
            (ObjectsDetected, ObjectsDeleted),
            batch,
        ),
        Route("captioned", OBJECTS_CAPTIONED, handle_captioned, ports, (ObjectsCaptioned,), batch),
    ]
