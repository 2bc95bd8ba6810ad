"""Open the configured Postgres as a store: the external DSN, or the embedded server started in
the data dir. Every service that needs Postgres opens it here, with the same pool settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from core.catalog.pg_server import EmbeddedPostgres, resolve_dsn
from core.catalog.pg_store import PgStore
from core.settings import Settings


@asynccontextmanager
async def open_pg(settings: Settings) -> AsyncIterator[tuple[PgStore, EmbeddedPostgres | None]]:
    """Yields the store and the embedded server it started (None for an external DSN); closes
    the pool, and stops that server, on exit."""
    dsn, server = await asyncio.to_thread(resolve_dsn, settings)
    try:
        pg = await PgStore.connect(
            dsn,
            min_size=settings.postgres.pool_min_size,
            max_size=settings.postgres.pool_max_size,
            ef_search=settings.postgres.ef_search,
        )
        try:
            yield pg, server
        finally:
            await pg.close()
    finally:
        if server is not None:
            await asyncio.to_thread(server.stop)
