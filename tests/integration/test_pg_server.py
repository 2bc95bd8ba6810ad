"""The embedded Postgres the session started: loopback only, password required, reusable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from core.catalog.pg_server import EmbeddedPostgres


@pytest.fixture
async def conn(pg_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(pg_dsn)
    yield conn
    await conn.close()


async def test_the_embedded_server_listens_on_loopback_with_pgvector(conn) -> None:
    assert await conn.fetchval("SHOW listen_addresses") == "127.0.0.1"
    version = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    assert tuple(int(x) for x in version.split(".")) >= (0, 8, 0)


async def test_the_embedded_server_refuses_a_connection_without_its_password(pg_dsn) -> None:
    url = urlsplit(pg_dsn)
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(f"postgresql://{url.username}:wrong@{url.hostname}:{url.port}/")


async def test_starting_an_already_running_server_reuses_it(conn, pg_dsn: str) -> None:
    root = Path(await conn.fetchval("SHOW data_directory")).parent
    again = EmbeddedPostgres(root)
    assert again.running_port() == urlsplit(pg_dsn).port
    assert again.start() == pg_dsn
