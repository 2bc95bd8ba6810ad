"""The indexer's topology, declared once and subscribed by both runtimes (Kafka in `app.py`,
the in-process bus in `catalens.embedded.bootstrap`).

Catalog rows (`routes`), batches of `streaming.max_batch`:
- `detected`: `objects.detected`; ObjectsDetected, ObjectsDeleted → image + object rows;
- `captioned`: `objects.captioned`; ObjectsCaptioned → caption + attributes merged;
- `embedded`: `streaming.embedded_topic`; ObjectsEmbedded, ObjectsDeleted → pgvector rows.

The FAISS view (`view_route`): `streaming.embedded_topic`; ObjectsEmbedded, ObjectsDeleted →
`LogIndex.apply_many`. On Kafka a `LogFollower` (in `core.index.live_index`, started by
`app.py`) reads this topic by offset, with snapshots; in-process the bus feeds the same
`LogIndex` as a one-partition log. One writer, one delete rule.
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
    ObjectsEmbedded,
)
from services.indexer.handler import (
    IndexerPorts,
    LogView,
    handle_captioned,
    handle_detected,
    handle_embedded,
    handle_view,
)

NAME = "indexer"


def routes(settings: Settings, ports: IndexerPorts) -> list[Route[Any]]:
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
        Route(
            "embedded",
            settings.streaming.embedded_topic,
            handle_embedded,
            ports,
            (ObjectsEmbedded, ObjectsDeleted),
            batch,
        ),
    ]


def view_route(settings: Settings, view: LogView) -> Route[Any]:
    return Route(
        "faiss",
        settings.streaming.embedded_topic,
        handle_view,
        view,
        (ObjectsEmbedded, ObjectsDeleted),
        settings.streaming.max_batch,
    )
