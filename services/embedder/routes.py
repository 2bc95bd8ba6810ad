"""The embedder's topology, declared once and subscribed by both runtimes (Kafka in `app.py`,
the in-process bus in `catalens.embedded.bootstrap`).

- `detected`: topic `objects.detected`; accepts ObjectsDetected and ObjectsDeleted; batches of
  `streaming.max_batch`; `handler.handle_detected` embeds each crop (and the whole image) →
  `ports.topic` (`objects.embedded`, or a new model's own topic); tombstones pass through.
- `captioned`: topic `objects.captioned`; accepts ObjectsCaptioned; batches of
  `streaming.max_batch`; `handler.handle_captioned` embeds each caption → `ports.topic`.
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
