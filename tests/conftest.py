"""Shared fixtures. Real servers for integration tests: one embedded Postgres per session.

`pg_dsn` is the session's server (database `catalens`); `fresh_pg_dsn` is an empty database of
its own for one test, dropped afterwards. `CATALENS_TEST_PG_DSN` points both at an external
server instead (its user must be allowed to create databases).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from core.catalog.pg_server import EmbeddedPostgres


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    external = os.environ.get("CATALENS_TEST_PG_DSN")
    if external:
        yield external
        return
    root = Path(tempfile.mkdtemp(prefix="catalens-pg-"))
    server = EmbeddedPostgres(root / "postgres", durable=False)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _with_database(dsn: str, database: str) -> str:
    base, _, query = dsn.partition("?")
    return base.rsplit("/", 1)[0] + f"/{database}" + (f"?{query}" if query else "")


@contextlib.asynccontextmanager
async def _temporary_database(pg_dsn: str) -> AsyncIterator[str]:
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_dsn)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        yield _with_database(pg_dsn, name)
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture
async def fresh_pg_dsn(pg_dsn: str) -> AsyncIterator[str]:
    """An empty database of its own for one test, dropped afterwards."""
    async with _temporary_database(pg_dsn) as dsn:
        yield dsn


@pytest.fixture(scope="module")
async def module_pg_dsn(pg_dsn: str) -> AsyncIterator[str]:
    """An empty database of its own for one test module, dropped afterwards."""
    async with _temporary_database(pg_dsn) as dsn:
        yield dsn


# -- real models, loaded once per session ---------------------------------------------------------
@pytest.fixture(scope="session")
def yolo_detector():  # type: ignore[no-untyped-def]
    from core.detection.yolo import YoloDetector
    from core.paths import shared_path
    from core.settings import DetectorSettings

    if shared_path("models", "yolov8n-coco", "yolov8n_int8.tflite") is None:
        pytest.skip("needs ../shared/models/yolov8n-coco")
    return YoloDetector.from_settings(DetectorSettings())


@pytest.fixture(scope="session")
def aligned_model_dir() -> Path:
    """The committed aligned embedder (models/aligned/, what an empty `embedder.model` loads);
    the tests train nothing."""
    from core.embedding.factory import SHIPPED_ALIGNED

    if not (SHIPPED_ALIGNED / "manifest.json").is_file():
        pytest.fail(f"the committed aligned embedder is missing: {SHIPPED_ALIGNED}")
    return SHIPPED_ALIGNED
