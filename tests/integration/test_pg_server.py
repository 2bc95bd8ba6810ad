"""The embedded Postgres: loopback only, password required, reusable, and never left half-made
by a crash during initdb."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from core.catalog.pg_server import EmbeddedPostgres
from core.paths import REPO_ROOT


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


async def test_a_start_killed_half_way_through_initdb_is_followed_by_a_start_that_works() -> None:
    root = Path(tempfile.mkdtemp(prefix="catalens-initdb-")) / "postgres"
    start = f"from core.catalog.pg_server import EmbeddedPostgres as P; P({str(root)!r}).start()"
    first = subprocess.Popen(
        [sys.executable, "-c", start], cwd=REPO_ROOT, start_new_session=True
    )  # its initdb and initdb's bootstrap backend share its process group
    try:
        while not any(root.glob("*/PG_VERSION")):  # initdb writes it first, then bootstraps
            assert first.poll() is None, "initdb finished before it could be killed"
            time.sleep(0.01)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        server = EmbeddedPostgres(root, durable=False)
        conn = await asyncpg.connect(server.start())
        try:
            assert await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'vector'")
        finally:
            await conn.close()
            server.stop()
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)
