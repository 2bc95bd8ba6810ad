"""The indexer service on Kafka: `objects.detected` (rows), `objects.captioned` (captions) and
`objects.embedded` (vectors) into pgvector and FAISS; tombstones remove everywhere.

Run: `catalens run indexer` or `python -m services.indexer`. Postgres: `CATALENS_POSTGRES__DSN`
(the real stack's), else the embedded server in the data dir."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from catalens.settings import Settings
from catalens.streaming.route import Route
from catalens.streaming.service import Service, service_app
from schemas import (
    OBJECTS_CAPTIONED,
    OBJECTS_DETECTED,
    OBJECTS_EMBEDDED,
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
from services.indexer.pg_open import open_pg
from services.indexer.pg_store import PgStore
from services.indexer.registry import IndexRegistry

NAME = "indexer"


@asynccontextmanager
async def open_routes(settings: Settings) -> AsyncIterator[list[Route]]:
    async with open_pg(settings) as (pg, _server), _routes(settings, pg) as routes:
        yield routes


@asynccontextmanager
async def _routes(settings: Settings, pg: PgStore) -> AsyncIterator[list[Route]]:
    indexes = IndexRegistry(settings.index.n_shards, settings.index.index_type)
    try:
        ports = IndexerPorts(pg, indexes)
        batch = settings.streaming.max_batch
        yield [
            Route("detected", OBJECTS_DETECTED, handle_detected, ports,
                  accepts=(ObjectsDetected, ObjectsDeleted), max_records=batch),
            Route("captioned", OBJECTS_CAPTIONED, handle_captioned, ports,
                  accepts=(ObjectsCaptioned,), max_records=batch),
            Route("embedded", OBJECTS_EMBEDDED, handle_embedded, ports,
                  accepts=(ObjectsEmbedded, ObjectsDeleted), max_records=batch),
        ]  # fmt: skip
    finally:
        indexes.close()


def create_app(settings: Settings | None = None) -> Service:
    return service_app(NAME, settings or Settings(), open_routes)
