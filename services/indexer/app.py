"""The indexer service on Kafka: `objects.detected` (rows), `objects.captioned` (captions) and
`objects.embedded` (vectors) into pgvector; tombstones remove everywhere. Beside its routes it
keeps the FAISS view of the live index generation (`LiveIndex`) and writes its shard snapshots,
each with the offset it reflects, to the MinIO index bucket every `index.snapshot_every_s`.

Run: `catalens run indexer` or `python -m services.indexer`. Postgres: `CATALENS_POSTGRES__DSN`
(the real stack's), else the embedded server in the data dir."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from catalens.settings import Settings
from catalens.streaming.metrics import ServiceMetrics
from catalens.streaming.route import Route
from catalens.streaming.service import Service, service_app
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
    handle_captioned,
    handle_detected,
    handle_embedded,
)
from services.indexer.index_metrics import register_index_metrics
from services.indexer.live_index import open_live_index
from services.indexer.pg_open import open_pg
from services.indexer.pg_store import PgStore

NAME = "indexer"


@asynccontextmanager
async def open_routes(
    settings: Settings, metrics: ServiceMetrics | None = None
) -> AsyncIterator[list[Route]]:
    async with open_pg(settings) as (pg, _server), _routes(settings, pg, metrics) as routes:
        yield routes


@asynccontextmanager
async def _routes(
    settings: Settings, pg: PgStore, metrics: ServiceMetrics | None
) -> AsyncIterator[list[Route]]:
    live = await open_live_index(settings, write_snapshots=True)
    await live.start()
    if metrics is not None:  # generation, vectors, records behind, snapshot age on /metrics
        register_index_metrics(live, metrics.registry, f"catalens_{metrics.service}")
    try:
        ports = IndexerPorts(pg, None)
        batch = settings.streaming.max_batch
        yield [
            Route("detected", OBJECTS_DETECTED, handle_detected, ports,
                  accepts=(ObjectsDetected, ObjectsDeleted), max_records=batch),
            Route("captioned", OBJECTS_CAPTIONED, handle_captioned, ports,
                  accepts=(ObjectsCaptioned,), max_records=batch),
            Route("embedded", settings.streaming.embedded_topic, handle_embedded, ports,
                  accepts=(ObjectsEmbedded, ObjectsDeleted), max_records=batch),
        ]  # fmt: skip
    finally:
        await live.stop()


def create_app(settings: Settings | None = None) -> Service:
    def routes(s: Settings):  # type: ignore[no-untyped-def]
        return open_routes(s, service.metrics)

    service = service_app(NAME, settings or Settings(), routes)
    return service
