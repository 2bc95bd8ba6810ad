"""Exactly-once effects across a crash: the indexer runs as its own process (`python -m
services.indexer`), is killed with SIGKILL while images stream through, and is started again.
Offsets are committed only after the rows are durable and every write is an upsert keyed by id,
so afterwards Postgres holds exactly the objects and vectors that detector and embedder produced:
none lost, none twice."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from core.index.live_index import open_live_index
from core.settings import Settings
from core.streaming.topics import ensure_topics
from infra.minio_events import minio_client
from infra.stack import Endpoints
from schemas import (
    OBJECTS_DETECTED,
    OBJECTS_EMBEDDED,
    ObjectsDetected,
    ObjectsEmbedded,
    decode,
    image_id_from_object,
)
from tests.integration.stream_kit import _all_running, _until, stack_settings
from tests.integration.test_streaming_query import sample_images

pytest_plugins = ["tests.integration.infra_fixtures"]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
__all__ = ["stack_settings"]  # the fixture: a database of this test's own, fresh groups

ROOT = Path(__file__).resolve().parents[2]


async def test_an_indexer_killed_mid_stream_and_restarted_indexes_every_object_exactly_once(
    real_stack: Endpoints, stack_settings: Settings, yolo_detector: Any, aligned_model_dir: Path
) -> None:
    from core.embedding.aligned import AlignedEmbedder
    from services.detector.app import create_app as detector_app
    from services.embedder.app import create_app as embedder_app

    settings = stack_settings
    settings.streaming.max_batch = 2  # small batches: many commits, a kill lands between them
    embedder = AlignedEmbedder.load(aligned_model_dir)
    services = [detector_app(settings, yolo_detector), embedder_app(settings, embedder)]
    s3, bucket = minio_client(settings.minio), real_stack.bucket
    prefix = f"exactly-once/{uuid.uuid4().hex[:8]}"
    images = sample_images(8, 12)
    dsn = settings.postgres.dsn.get_secret_value()  # type: ignore[union-attr]
    pg = await asyncpg.connect(dsn)
    truth = _Truth()
    replica = await open_live_index(settings)  # a query replica's, never writing snapshots
    await ensure_topics(real_stack.kafka_bootstrap, settings.streaming)  # a fresh broker: none yet

    async def upload(paths: list[Path], start: int) -> None:
        for i, path in enumerate(paths, start):
            data = await asyncio.to_thread(path.read_bytes)
            key = f"{prefix}/{i:02d}-{path.name}"
            put = await asyncio.to_thread(s3.put_object, bucket, key, io.BytesIO(data), len(data))
            truth.image_ids.add(image_id_from_object(bucket, key, put.etag))

    async def indexed_images() -> int:
        return await _indexed_images(pg, truth.image_ids)

    await replica.start()  # a query replica's FAISS copy: the indexer's snapshots + the tail
    try:
        async with _all_running(services), truth.collecting(real_stack):
            with _indexer(settings) as first:
                await upload(images[:12], 0)
                await _until(indexed_images, at_least=1)
                first.send_signal(signal.SIGKILL)  # mid-stream: the rest of the wave is coming
                assert first.wait(30) == -signal.SIGKILL
            await upload(images[12:], 12)  # while no indexer runs
            await truth.complete(len(images))
            with _indexer(settings):
                await _until(lambda: _object_rows(pg, truth.image_ids), len(truth.objects))
                key = embedder.identity.key
                await _until(lambda: _vector_rows(pg, key, truth.image_ids), len(truth.vectors))
                await asyncio.sleep(2)  # a late duplicate would show up now
                objects = await pg.fetch(OBJECTS_OF, sorted(truth.image_ids))
                vectors = await pg.fetch(
                    VECTORS_OF.format(await _table(pg, key)), sorted(truth.image_ids)
                )
                image_rows = await pg.fetchval(IMAGES_OF, sorted(truth.image_ids))

            async def in_the_replica() -> int:
                assert replica.follower is not None
                index = replica.follower.index.indexes.get(key, "image")
                return 0 if index is None else len(index.ids() & truth.objects)

            await _until(in_the_replica, len(truth.objects), timeout_s=60)
    finally:
        await replica.stop()
        await pg.close()
    assert image_rows == len(images)
    assert [r["object_id"] for r in objects] == sorted(truth.objects)
    assert [(r["object_id"], r["modality"]) for r in vectors] == sorted(truth.vectors)


OBJECTS_OF = "SELECT object_id FROM objects WHERE image_id = ANY($1::text[]) ORDER BY 1"
IMAGES_OF = "SELECT count(*) FROM images WHERE image_id = ANY($1::text[])"
VECTORS_OF = """SELECT v.object_id, v.modality FROM {} v JOIN objects o USING (object_id)
    WHERE o.image_id = ANY($1::text[]) ORDER BY 1, 2"""


class _Truth:
    """What detector and embedder produced for this test's images, read from their topics."""

    def __init__(self) -> None:
        self.image_ids: set[str] = set()
        self.detected: set[str] = set()
        self.embedded: set[str] = set()
        self.objects: set[str] = set()
        self.vectors: set[tuple[str, str]] = set()

    @contextlib.asynccontextmanager
    async def collecting(self, stack: Endpoints) -> AsyncIterator[None]:
        consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap)
        await consumer.start()
        try:
            await consumer._client.force_metadata_update()
            assigned = [
                TopicPartition(t, p)
                for t in (OBJECTS_DETECTED, OBJECTS_EMBEDDED)
                for p in sorted(consumer.partitions_for_topic(t) or {0})
            ]
            consumer.assign(assigned)
            await consumer.seek_to_end(*assigned)
            for tp in assigned:
                await consumer.position(tp)
            task = asyncio.create_task(self._read(consumer))
            try:
                yield
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        finally:
            await consumer.stop()

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        async for record in consumer:
            message = decode(record.value)
            if isinstance(message, ObjectsDetected) and message.image_id in self.image_ids:
                self.detected.add(message.image_id)
                self.objects.update(o.object_id for o in message.objects)
            elif isinstance(message, ObjectsEmbedded) and message.image_id in self.image_ids:
                self.embedded.add(message.image_id)
                self.vectors.update((v.object_id, v.modality) for v in message.vectors)

    async def complete(self, n_images: int) -> None:
        async def done() -> int:
            return min(len(self.detected), len(self.embedded))

        assert len(self.image_ids) == n_images
        await _until(done, n_images)


@contextlib.contextmanager
def _indexer(
    settings: Settings, extra_env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "CATALENS_DATA_DIR": str(settings.data_dir),
        "CATALENS_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "CATALENS_POSTGRES__DSN": settings.postgres.dsn.get_secret_value(),  # type: ignore[union-attr]
        "CATALENS_STREAMING__GROUP_PREFIX": settings.streaming.group_prefix,
        "CATALENS_STREAMING__AUTO_OFFSET_RESET": "earliest",  # no race with the first upload
        "CATALENS_STREAMING__MAX_BATCH": "2",
        "CATALENS_STREAMING__MAX_WAIT_MS": "100",
        "CATALENS_STREAMING__METRICS_PORT": "0",
        "CATALENS_INDEX__ALIAS": settings.index.alias,
        **(extra_env or {}),
    }
    log = open(settings.data_dir / f"indexer-{uuid.uuid4().hex[:6]}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "services.indexer"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        log.close()


async def _indexed_images(pg: asyncpg.Connection, image_ids: set[str]) -> int:
    sql = "SELECT count(DISTINCT image_id) FROM objects WHERE image_id = ANY($1::text[])"
    try:
        return int(await pg.fetchval(sql, sorted(image_ids)))
    except asyncpg.UndefinedTableError:  # the indexer has not migrated the database yet
        return 0


async def _object_rows(pg: asyncpg.Connection, image_ids: set[str]) -> int:
    return int(await pg.fetchval(OBJECT_COUNT, sorted(image_ids)))


OBJECT_COUNT = "SELECT count(*) FROM objects WHERE image_id = ANY($1::text[])"


async def _table(pg: asyncpg.Connection, model_key: str) -> str | None:
    sql = "SELECT table_name FROM vector_models WHERE model_key = $1"
    return await pg.fetchval(sql, model_key)  # type: ignore[no-any-return]


async def _vector_rows(pg: asyncpg.Connection, model_key: str, image_ids: set[str]) -> int:
    table = await _table(pg, model_key)
    if table is None:
        return 0
    return len(await pg.fetch(VECTORS_OF.format(table), sorted(image_ids)))
