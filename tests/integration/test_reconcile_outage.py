"""A Kafka outage during uploads loses no image (the real stack: Kafka, MinIO, Postgres).

MinIO runs without a notification queue dir (`minio.notify_queue` off), so it sends each bucket
event at once and drops the ones it cannot send while Kafka is down. The reconciler lists the
bucket and emits the events the catalog lacks: after the outage every uploaded image is in the
catalog once, and a second pass finds nothing to emit."""

from __future__ import annotations

import asyncio
import contextlib
import io
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from core.errors import VersionChanged
from core.settings import Settings
from core.storage.minio_store import open_minio_store
from core.streaming.reconcile import reconcile_once
from core.streaming.reconcile_io import open_reconciler
from infra.kafka_server import KafkaServer
from infra.minio_events import configure_bucket, minio_client
from infra.stack import Endpoints
from schemas import image_id_from_object
from tests.integration.stream_kit import _all_running, _until, stack_settings

pytest_plugins = ["tests.integration.infra_fixtures"]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
__all__ = ["stack_settings"]  # the fixture: a database of this test's own, fresh groups

IMAGES_IN = "SELECT count(*) FROM images WHERE image_id = ANY($1::text[])"
PER_URI = "SELECT uri, count(*) AS n FROM images GROUP BY uri"


def _jpeg(seed: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (seed * 40 % 256, 90, 200 - seed * 30 % 200)).save(buffer, "JPEG")
    return buffer.getvalue()


async def test_images_uploaded_while_kafka_is_down_reach_the_catalog_once_through_the_reconciler(
    real_stack: Endpoints, infra_settings: Settings, stack_settings: Settings, yolo_detector: Any
) -> None:
    from services.detector.app import create_app as detector_app
    from services.indexer.app import create_app as indexer_app

    kafka = KafkaServer(infra_settings)
    if kafka.pid() is None:
        pytest.skip("Kafka was not started by this stack's infra: this test may not stop it")
    assert not infra_settings.minio.notify_queue, "the reconciler covers MinIO without a queue"
    settings = stack_settings
    settings.minio.bucket = bucket = f"reconcile-{uuid.uuid4().hex[:8]}"  # only this test's
    await asyncio.to_thread(configure_bucket, settings.minio, bucket)
    s3 = minio_client(settings.minio)
    pg = await asyncpg.connect(settings.postgres.dsn.get_secret_value())  # type: ignore[union-attr]

    def services() -> list[Any]:
        return [detector_app(settings, yolo_detector), indexer_app(settings)]

    async def put(name: str, seed: int) -> str:
        data = _jpeg(seed)
        done = await asyncio.to_thread(
            s3.put_object, bucket, name, io.BytesIO(data), len(data), content_type="image/jpeg"
        )
        return image_id_from_object(bucket, name, done.etag)

    async def in_catalog(ids: list[str]) -> int:
        return int(await pg.fetchval(IMAGES_IN, ids))

    try:
        async with _all_running(services()):  # Kafka up: the bucket event is enough
            before = [await put("before.jpg", 1)]
            await _until(lambda: in_catalog(before), len(before), timeout_s=120)

        await asyncio.to_thread(kafka.stop)
        during = [await put(f"during-{i}.jpg", 2 + i) for i in range(5)]  # events dropped
        await asyncio.to_thread(kafka.start)

        async with _all_running(services()):
            after = await until_minio_sends_again(put, in_catalog)
            # MinIO may hold one event in flight and send it once the broker is back; the
            # others are gone, and only the reconciler can bring them in
            missing = len(during) - await in_catalog(during)
            assert missing >= 1, "MinIO kept every event of the outage: nothing to reconcile"

            async with open_reconciler(settings) as ports:
                first = await reconcile_once(ports, grace_s=0)
            everything = before + during + after
            assert first.listed == len(everything)
            assert first.emitted >= missing  # and the uploads MinIO dropped after the outage
            await _until(lambda: in_catalog(everything), len(everything), timeout_s=180)

            async with open_reconciler(settings) as ports:
                second = await reconcile_once(ports, grace_s=0)
            per_uri = {r["uri"]: r["n"] for r in await pg.fetch(PER_URI)}
    finally:
        await pg.close()
        if kafka.pid() is None:  # never leave the shared stack without its broker
            await asyncio.to_thread(kafka.start)
    assert (second.listed, second.known, second.emitted) == (len(everything),) * 2 + (0,)
    assert len(per_uri) == len(everything) and set(per_uri.values()) == {1}, per_uri


async def until_minio_sends_again(
    put: Callable[[str, int], Awaitable[str]], in_catalog: Callable[[list[str]], Awaitable[int]]
) -> list[str]:
    """Upload until an upload's own bucket event gets through again: for a while after the
    broker is back, MinIO's Kafka client keeps its circuit breaker open and drops events too."""
    sent: list[str] = []
    for k in range(12):
        sent.append(await put(f"after-{k}.jpg", 10 + k))
        with contextlib.suppress(AssertionError):
            await _until(lambda: in_catalog(sent[-1:]), 1, timeout_s=10)
            return sent
    raise AssertionError("MinIO sent no event to the restarted broker for 2 minutes")


async def test_a_read_of_an_overwritten_version_raises_version_changed(
    real_stack: Endpoints, infra_settings: Settings
) -> None:
    """The detector reads conditionally on the event's etag (If-Match): an event that names a
    version the key no longer holds is skipped, never indexed with the newer bytes."""
    store = await open_minio_store(infra_settings.minio, f"reconcile-{uuid.uuid4().hex[:8]}")
    old = await store.put_with_etag("k.jpg", _jpeg(1), "image/jpeg")
    assert await store.get("k.jpg", old) == _jpeg(1)
    new = await store.put_with_etag("k.jpg", _jpeg(2), "image/jpeg")
    with pytest.raises(VersionChanged):
        await store.get("k.jpg", old)
    assert await store.get("k.jpg", new) == await store.get("k.jpg") == _jpeg(2)
