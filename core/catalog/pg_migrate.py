"""Versioned SQL migrations (`pg_migrations/NNNN_name.sql`), applied in order, once.

Each applied file is recorded in `schema_migrations` with its sha256; a session-level advisory
lock makes concurrent runs (several services starting together) wait for each other, so re-running
is always a no-op. Editing a file after it was applied is refused: add a new one instead.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

MIGRATIONS_DIR = Path(__file__).parent / "pg_migrations"
LOCK_KEY = int.from_bytes(b"catalens", "big")  # fits a signed bigint

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in `folder`, by version; MigrationError when there are none to read."""
    if not folder.is_dir():
        raise MigrationError(f"no migrations folder at {folder}")
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(f"migration file name must be NNNN_name.sql: {path.name}")
        found.append(Migration(int(match[1]), match[2], path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {folder}")
    return found


async def migrate(conn: asyncpg.Connection, folder: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply the pending migrations; returns the versions applied by this call."""
    migrations = load_migrations(folder)
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
        applied = {r["version"]: r["checksum"] for r in rows}
        done = []
        for m in migrations:
            if m.version in applied:
                if applied[m.version] != m.checksum:
                    raise MigrationError(f"migration {m.version}_{m.name} changed after it ran")
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    m.version,
                    m.name,
                    m.checksum,
                )
            done.append(m.version)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)


async def connect_when_ready(dsn: str, wait_s: float) -> asyncpg.Connection:
    """A connection once the server accepts them (it may still be starting), within `wait_s`."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type((OSError, asyncpg.CannotConnectNowError)),
        stop=stop_after_delay(wait_s),
        wait=wait_exponential(multiplier=0.1, max=2.0),
        reraise=True,
    ):
        with attempt:
            return await asyncpg.connect(dsn)
    raise AssertionError("unreachable")
