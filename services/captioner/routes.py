"""The captioner's topology, declared once and subscribed by both runtimes (Kafka in `app.py`,
the in-process bus in `catalens.embedded.bootstrap`).

- `detected`: topic `objects.detected`; accepts ObjectsDetected and ObjectsDeleted; batches of
  `streaming.max_batch`; `handler.handle_detected` captions each object (GPT-4o or offline) →
  `objects.captioned`.
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
