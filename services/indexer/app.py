"""The indexer service on Kafka: `objects.detected` (rows), `objects.captioned` (captions) and
`objects.embedded` (vectors) into pgvector; tombstones remove everywhere. Beside its routes it
keeps the FAISS view of the live index generation (`LiveIndex`) and writes its shard snapshots,
each with the offset it reflects, to the MinIO index bucket every `index.snapshot_every_s`.

Run: `catalens run indexer` or `python -m services.indexer`. Postgres: `CATALENS_POSTGRES__DSN`
(the real stack's), else the embedded server in the data dir."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from core.catalog.pg_open import open_pg
from core.catalog.pg_store import PgStore
from core.index.index_metrics import register_index_metrics
from core.index.live_index import open_live_index
from core.routes import Route
from core.settings import Settings
from core.streaming.metrics import ServiceMetrics
from core.streaming.service import Service, service_app
from services.indexer.handler import IndexerPorts
from services.indexer.routes import NAME, routes


@asynccontextmanager
async def open_routes(
    settings: Settings, metrics: ServiceMetrics
) -> AsyncIterator[list[Route[Any]]]:
    async with open_pg(settings) as (pg, _server), _routes(settings, pg, metrics) as opened:
        yield opened


@asynccontextmanager
async def _routes(
    settings: Settings, pg: PgStore, metrics: ServiceMetrics
) -> AsyncIterator[list[Route[Any]]]:
    live = await open_live_index(settings, write_snapshots=True)  # the FAISS view's writer
    await live.start()
    # generation, vectors, records behind, snapshot age on /metrics
    register_index_metrics(live, metrics.registry, f"catalens_{metrics.service}")
    try:
        yield routes(settings, IndexerPorts(pg))
    finally:
        await live.stop()


def create_app(settings: Settings | None = None) -> Service:
    return service_app(NAME, settings or Settings(), open_routes)
