"""The services on the real stack: Kafka, MinIO bucket events and Postgres from `catalens infra`.

The runtime cases run on a topic of their own; the full flow uploads to the configured bucket
and runs detector, captioner, embedder and indexer in this event loop, in consumer groups of
their own that start at the log end (so earlier runs' events are not replayed)."""

from __future__ import annotations

import asyncio
import io
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition

from core.inference import ModelRunner
from core.routes import Route
from core.settings import CropSettings, Settings, StreamingSettings
from core.streaming.broker import make_broker
from core.streaming.metrics import ServiceMetrics
from core.streaming.route import RouteRunner
from core.streaming.s3_events import decode_images_record
from core.streaming.topics import ensure_topics
from infra.minio_events import minio_client
from infra.stack import Endpoints
from schemas import (
    IMAGES,
    OBJECTS_DETECTED,
    ImageUploaded,
    decode,
    dlq,
    encode,
    image_id_from_bytes,
    image_id_from_object,
)
from services.detector.handler import DetectorPorts, handle_images
from tests.fakes.ports import DictStore, OneBoxDetector
from tests.integration.stream_kit import _all_running, _Tail, _until, stack_settings

pytest_plugins = ["tests.integration.infra_fixtures"]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

__all__ = ["stack_settings"]  # the fixture: a database of this test's own, fresh groups


# -- the runtime on a real broker ---------------------------------------------------------------
async def test_on_kafka_good_records_flow_on_bad_ones_are_dead_lettered_and_offsets_committed(
    real_stack: Endpoints,
) -> None:
    topic, group_prefix = f"test-images-{uuid.uuid4().hex[:8]}", f"t{uuid.uuid4().hex[:8]}"
    settings = StreamingSettings(group_prefix=group_prefix, max_wait_ms=100, retry_backoff_s=0.05)
    await ensure_topics(real_stack.kafka_bootstrap, settings)
    await _create_topics(real_stack, topic, dlq(topic))
    broker = make_broker(
        Settings().kafka.model_copy(update={"bootstrap_servers": real_stack.kafka_bootstrap}),
        settings,
        "test",
    )
    store = DictStore()
    ports = DetectorPorts(store, store, OneBoxDetector(), ModelRunner("t"), CropSettings())
    route = Route("images", topic, handle_images, ports, decoder=decode_images_record)
    fatal: list[BaseException] = []
    runner = RouteRunner("detector", route, broker, settings, ServiceMetrics("t"), fatal.append)
    runner.subscribe()
    good = await _upload(store, _jpeg(tuple(uuid.uuid4().bytes[:3])))  # an image of this run
    missing = good.model_copy(
        update={"key": "uploads/gone.jpg", "image_id": "f" * 32, "event_id": str(uuid.uuid4())}
    )

    async with _Tail(real_stack, OBJECTS_DETECTED, dlq(topic)) as tail:
        await broker.start()
        try:
            await _produce(real_stack, topic, [b"\x00 not json", encode(missing), encode(good)])
            detected = await tail.first(  # behind the tombstone every bucket upload leads with
                OBJECTS_DETECTED,
                lambda v, h: (
                    (m := decode(v)).type == "objects.detected" and m.image_id == good.image_id
                ),
            )
            dead = [await tail.first(dlq(topic), lambda v, h: True) for _ in range(2)]
            await _until(lambda: _committed(real_stack, runner.group, topic), 3)
        finally:
            await broker.stop()
    value, headers = detected
    assert decode(value).image_id == good.image_id
    assert headers["traceparent"].split("-")[1] == good.traceparent.split("-")[1]
    by_reason = {h["x-reason"]: (v, h) for v, h in dead}
    assert set(by_reason) == {"schema_error", "image_missing"}
    assert by_reason["schema_error"][0] == b"\x00 not json"
    assert decode(by_reason["image_missing"][0]) == missing
    for _value, h in dead:
        assert h["x-source-topic"] == topic and h["x-source-partition"] == "0"
    assert {h["x-source-offset"] for _v, h in dead} == {"0", "1"}
    assert fatal == []


# -- the whole pipeline ---------------------------------------------------------------------------
async def test_an_upload_is_searchable_a_delete_removes_it_and_a_corrupt_image_is_dead_lettered(
    real_stack: Endpoints, stack_settings: Settings, yolo_detector: Any, aligned_model_dir: Path
) -> None:
    from core.embedding.aligned import AlignedEmbedder
    from services.captioner.app import create_app as captioner_app
    from services.detector.app import create_app as detector_app
    from services.embedder.app import create_app as embedder_app
    from services.indexer.app import create_app as indexer_app

    embedder = AlignedEmbedder.load(aligned_model_dir)
    services = [
        detector_app(stack_settings, yolo_detector),
        captioner_app(stack_settings, embedder=embedder),
        embedder_app(stack_settings, embedder),
        indexer_app(stack_settings),
    ]
    client = minio_client(stack_settings.minio)
    bucket, prefix = real_stack.bucket, f"streaming-test/{uuid.uuid4().hex[:8]}"
    pg = await asyncpg.connect(stack_settings.postgres.dsn.get_secret_value())  # type: ignore[union-attr]
    try:
        async with _all_running(services), _Tail(real_stack, dlq(IMAGES)) as tail:
            put = await asyncio.to_thread(
                client.put_object,
                bucket,
                f"{prefix}/bus.jpg",
                io.BytesIO(BUS),
                len(BUS),
                content_type="image/jpeg",
            )
            image_id = image_id_from_object(bucket, f"{prefix}/bus.jpg", put.etag)
            key_of_model = embedder.identity.key
            await _until(lambda: _image_vectors(pg, key_of_model, image_id), at_least=2)
            labels = await pg.fetch("SELECT label FROM objects WHERE image_id = $1", image_id)
            assert {"person", "bus"} & {r["label"] for r in labels}
            await _until(lambda: _count(pg, CAPTIONS_OF_IMAGE, image_id), at_least=1)

            await asyncio.to_thread(client.remove_object, bucket, f"{prefix}/bus.jpg")
            await _until(lambda: _count(pg, IMAGE_ROWS, image_id), at_most=0)
            assert await _count(pg, OBJECT_ROWS, image_id) == 0

            broken = BUS[:5000]
            key = f"{prefix}/broken.jpg"
            await asyncio.to_thread(client.put_object, bucket, key, io.BytesIO(broken), len(broken))
            value, headers = await tail.first(dlq(IMAGES), lambda v, h: key in str(v))
    finally:
        await pg.close()
    assert headers["x-reason"] == "corrupt_image", headers
    assert headers["x-source-topic"] == IMAGES
    assert decode_images_record(encode(decode(value)))[0].key == key


# -- helpers --------------------------------------------------------------------------------------
def _bus_jpg() -> bytes:
    from ultralytics.utils import ASSETS

    return (Path(ASSETS) / "bus.jpg").read_bytes()


BUS = _bus_jpg()
IMAGE_ROWS = "SELECT count(*) FROM images WHERE image_id = $1"
OBJECT_ROWS = "SELECT count(*) FROM objects WHERE image_id = $1"
CAPTIONS_OF_IMAGE = """
    SELECT count(*) FROM captions c JOIN objects o USING (object_id) WHERE o.image_id = $1"""


def _jpeg(colour: tuple[int, ...]) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (200, 160), colour).save(buffer, "JPEG")
    return buffer.getvalue()


async def _upload(store: DictStore, data: bytes) -> ImageUploaded:
    key = f"uploads/{uuid.uuid4().hex}.jpg"
    await store.put(key, data)
    return ImageUploaded(
        producer="test",
        image_id=image_id_from_bytes(data),
        bucket="b",
        key=key,
        etag="e" * 32,
        size=len(data),
    )


async def _create_topics(stack: Endpoints, *names: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, 1, replication_factor=1) for n in names])
    finally:
        await admin.close()


async def _produce(stack: Endpoints, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, partition=0)
    finally:
        await producer.stop()


async def _committed(stack: Endpoints, group: str, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    meta = offsets.get(TopicPartition(topic, 0))
    return meta.offset if meta is not None else -1


async def _image_vectors(pg: asyncpg.Connection, model_key: str, image_id: str) -> int:
    sql = "SELECT table_name FROM vector_models WHERE model_key = $1"
    table = await pg.fetchval(sql, model_key)
    if table is None:
        return 0
    sql = f"SELECT count(*) FROM {table} v JOIN objects o USING (object_id)"
    return int(await pg.fetchval(sql + " WHERE o.image_id = $1 AND v.modality = 'image'", image_id))


async def _count(pg: asyncpg.Connection, sql: str, *args: Any) -> int:
    return int(await pg.fetchval(sql, *args))
