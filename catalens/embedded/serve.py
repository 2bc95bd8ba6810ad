"""Serve the query service over an already-open embedded catalog (uvicorn in this event loop)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager

import uvicorn
from litestar import Litestar

from core.settings import QuerySettings
from services.query.app import create_app
from services.query.ports import Catalog


def app_for(catalog: Catalog, settings: QuerySettings) -> Litestar:
    @asynccontextmanager
    async def given() -> AsyncIterator[Catalog]:
        yield catalog

    return create_app(given, settings)


async def serve(
    catalog: Catalog, settings: QuerySettings, background: Awaitable[object] | None = None
) -> None:
    """Serve until interrupted; `background` (e.g. the demo's ingest) runs beside the server.

    uvicorn re-raises SIGTERM after its shutdown; with the default handler that would kill the
    process before the stack's cleanup (the embedded Postgres would keep running), so SIGTERM
    becomes a SystemExit that unwinds through every `async with` instead."""
    import asyncio
    import signal

    signal.signal(signal.SIGTERM, _exit_cleanly)

    config = uvicorn.Config(
        app_for(catalog, settings), host=settings.host, port=settings.port, log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(background) if background is not None else None
    try:
        await server.serve()
    finally:
        if task is not None and not task.done():
            task.cancel()


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)
