"""`up`, `down`, `status` and `install` for the real stack: Kafka, MinIO, Postgres, MLflow.

`up` is safe to repeat: a server it started earlier (pid file in the run dir) is reused, and
so is a healthy server of someone else's on the same port (reported as not ours, never
stopped by `down`). One `up` at a time per run dir (a file lock).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from core.file_lock import folder_lock
from core.settings import Settings
from infra import procs
from infra.kafka_server import KafkaServer
from infra.minio_events import configure_bucket, ensure_topic
from infra.minio_server import MinioServer
from infra.mlflow_server import MlflowServer
from infra.postgres_server import PostgresServer
from infra.server import Server, ServerStatus

log = logging.getLogger(__name__)

SERVICES = ("kafka", "minio", "postgres", "mlflow")  # start order: MinIO notifies Kafka


@dataclass(frozen=True)
class Endpoints:
    """Where the running stack answers, for clients and tests."""

    kafka_bootstrap: str
    minio_endpoint: str  # host:port, as the minio client takes it
    minio_access_key: str
    minio_secret_key: str
    bucket: str
    images_topic: str
    postgres_dsn: str
    mlflow_uri: str


def servers(settings: Settings, only: Iterable[str] | None = None) -> list[Server]:
    wanted = set(only or SERVICES)
    unknown = wanted - set(SERVICES)
    if unknown:
        raise procs.InfraError(f"unknown service(s) {sorted(unknown)}; known: {SERVICES}")
    made: dict[str, Server] = {
        "kafka": KafkaServer(settings),
        "minio": MinioServer(settings),
        "postgres": PostgresServer(settings),
        "mlflow": MlflowServer(settings),
    }
    return [made[name] for name in SERVICES if name in wanted]


def install(settings: Settings, only: Iterable[str] | None = None) -> None:
    for server in servers(settings, only):
        server.install()


def up(
    settings: Settings, only: Iterable[str] | None = None, started: list[str] | None = None
) -> list[str]:
    """Start what is not running yet; returns the names of the servers started now. Each name
    is appended to `started` as soon as its server runs, so a caller still knows what to stop
    when a later server fails to start."""
    started = [] if started is None else started
    chosen = servers(settings, only)
    with folder_lock(settings.infra.run_dir):
        for server in chosen:
            if server.healthy():
                whose = "ours" if server.pid() is not None else "not ours"
                log.info(
                    "%s: already running on %s (%s): reused", server.name, server.endpoint, whose
                )
                continue
            if server.pid() is not None:
                log.info("%s: pid %s is starting; waiting", server.name, server.pid())
                procs.wait_ready(
                    server.name, server.healthy, timeout_s=settings.infra.start_timeout_s
                )
                continue
            server.start()
            started.append(server.name)
        names = {server.name for server in chosen}
        if {"kafka", "minio"} <= names:
            wire_bucket_events(settings)
    return started


def wire_bucket_events(settings: Settings) -> None:
    """The images topic (if missing) and the bucket with its put/delete notifications."""
    asyncio.run(
        ensure_topic(
            settings.kafka.bootstrap_servers, settings.minio.topic, settings.index.n_shards
        )
    )
    configure_bucket(settings.minio)


def down(settings: Settings, only: Iterable[str] | None = None) -> list[str]:
    """Stop the servers `up` started (in reverse order); returns the names stopped."""
    stopped = []
    with folder_lock(settings.infra.run_dir):
        for server in reversed(servers(settings, only)):
            if server.stop():
                log.info("%s: stopped", server.name)
                stopped.append(server.name)
            elif server.healthy():
                log.info("%s: running but not started by infra up: left alone", server.name)
    return stopped


def status(settings: Settings, only: Iterable[str] | None = None) -> list[ServerStatus]:
    rows = []
    for server in servers(settings, only):
        pid = server.pid()
        rows.append(
            ServerStatus(server.name, pid, server.endpoint, server.healthy(), pid is not None)
        )
    return rows


def endpoints(settings: Settings) -> Endpoints:
    pg = PostgresServer(settings)
    return Endpoints(
        kafka_bootstrap=settings.kafka.bootstrap_servers,
        minio_endpoint=settings.minio.endpoint,
        minio_access_key=settings.minio.access_key,
        minio_secret_key=settings.minio.secret_key.get_secret_value(),
        bucket=settings.minio.bucket,
        images_topic=settings.minio.topic,
        postgres_dsn=pg.dsn() if pg.healthy() else "",
        mlflow_uri=settings.mlflow.tracking_uri,
    )
