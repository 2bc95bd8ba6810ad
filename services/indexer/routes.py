"""The indexer's topology, declared once and subscribed by both runtimes.

Catalog rows (`routes`), batches of `streaming.max_batch`:
- `detected`: `objects.detected`; ObjectsDetected, ObjectsDeleted → image + object rows;
- `captioned`: `objects.captioned`; ObjectsCaptioned → caption + attributes merged;
- `embedded`: `streaming.embedded_topic`; ObjectsEmbedded, ObjectsDeleted → pgvector rows.

The FAISS view (`view_route`, embedded mode): `streaming.embedded_topic`; ObjectsEmbedded,
ObjectsDeleted → `LogIndex.apply_many`, the bus being a one-partition log. On Kafka, `app.py`
runs a `LiveIndex` (`core.index.live_index`) whose `LogFollower` (`core.index.log_follower`)
applies the topic of the generation the index alias names, by offset, to the same `LogIndex`
and writes its snapshots. One writer, one delete rule.

Ports (`handler.IndexerPorts`): the Postgres catalog store (`core.catalog.pg_store.PgStore`).

Kafka: `app.open_routes` opens the adapters → `core.streaming.service.service_app` runs each
route through a `core.streaming.route.RouteRunner` (consumer group `<prefix>-indexer.<route>`).
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
