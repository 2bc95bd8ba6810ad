"""The Kafka runtime around the real detector handler, on FastStream's in-memory broker:
what reaches the next topic, what reaches `.dlq` and with which headers, and what is retried."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from PIL import Image

from core.inference import ModelRunner
from core.routes import Outcome, Route
from core.settings import CropSettings, StreamingSettings
from core.streaming.metrics import ServiceMetrics
from core.streaming.route import RouteRunner
from core.streaming.s3_events import decode_images_record
from schemas import (
    IMAGES,
    OBJECTS_DETECTED,
    ImageDeleted,
    ImageUploaded,
    decode,
    dlq,
    encode,
    image_id_from_bytes,
)
from services.detector.handler import DetectorPorts, handle_images
from tests.fakes.ports import DictStore, OneBoxDetector

FAST_RETRIES = StreamingSettings(retry_attempts=3, retry_backoff_s=0.01)


@dataclass
class Seen:
    value: bytes
    key: bytes
    headers: dict[str, str]


@dataclass
class Pipeline:
    broker: KafkaBroker
    store: DictStore
    runner: RouteRunner
    out: list[Seen] = field(default_factory=list)  # the detections
    tombstones: list[Seen] = field(default_factory=list)  # each bucket upload's, ahead of them
    dead: list[Seen] = field(default_factory=list)
    fatal: list[BaseException] = field(default_factory=list)


def _jpeg(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (200, 160), colour).save(buffer, "JPEG")
    return buffer.getvalue()


async def _upload(store: DictStore, colour: str) -> ImageUploaded:
    data = _jpeg(colour)
    key = f"uploads/{colour}.jpg"
    await store.put(key, data)
    return ImageUploaded(
        producer="test",
        image_id=image_id_from_bytes(data),
        bucket="b",
        key=key,
        etag="e" * 32,
        size=len(data),
    )


def _pipeline(handler: Any = handle_images, settings: StreamingSettings = FAST_RETRIES) -> Pipeline:
    broker, store = KafkaBroker(), DictStore()
    ports = DetectorPorts(
        store, store, OneBoxDetector(), ModelRunner("t"), CropSettings(min_size=10)
    )
    route = Route(
        "images",
        IMAGES,
        handler,
        ports,
        accepts=(ImageUploaded, ImageDeleted),
        decoder=decode_images_record,
    )
    fatal: list[BaseException] = []
    runner = RouteRunner("detector", route, broker, settings, ServiceMetrics("t"), fatal.append)
    runner.subscribe()
    pipeline = Pipeline(broker, store, runner, fatal=fatal)

    @broker.subscriber(OBJECTS_DETECTED)
    async def downstream(msg: KafkaMessage) -> None:
        seen = _seen(msg)
        detected = decode(seen.value).type == "objects.detected"
        (pipeline.out if detected else pipeline.tombstones).append(seen)

    @broker.subscriber(dlq(IMAGES))
    async def dead_letters(msg: KafkaMessage) -> None:
        pipeline.dead.append(_seen(msg))

    return pipeline


def _seen(msg: Any) -> Seen:
    record = msg.raw_message
    return Seen(record.value, record.key, {k: v.decode() for k, v in record.headers})


def _trace_id(traceparent: str) -> str:
    return traceparent.split("-")[1]


async def test_a_good_upload_reaches_objects_detected_keyed_by_its_uri_with_its_trace() -> None:
    p = _pipeline()
    async with TestKafkaBroker(p.broker) as br:
        upload = await _upload(p.store, "red")
        await br.publish(encode(upload), IMAGES)
    [seen] = p.out
    detected = decode(seen.value)
    assert detected.image_id == upload.image_id and seen.key == upload.uri.encode()
    assert _trace_id(seen.headers["traceparent"]) == _trace_id(upload.traceparent)
    assert seen.headers["traceparent"] == detected.traceparent
    [tombstone] = p.tombstones  # the upload replaces what its key held: same key, same partition
    assert decode(tombstone.value).superseded_by == upload.image_id
    assert tombstone.key == seen.key
    assert p.dead == [] and p.fatal == []


async def test_a_malformed_record_goes_to_the_dlq_with_reason_and_source_and_the_rest_go_on():
    p = _pipeline()
    async with TestKafkaBroker(p.broker) as br:
        good = await _upload(p.store, "blue")
        await br.publish_batch(b'{"not": "an event"}', encode(good), topic=IMAGES)
    assert [decode(s.value).image_id for s in p.out] == [good.image_id]
    [dead] = p.dead
    assert dead.value == b'{"not": "an event"}'
    assert dead.headers["x-reason"] == "schema_error"
    assert "Records" in dead.headers["x-detail"]
    assert dead.headers["x-source-topic"] == IMAGES
    assert {"x-source-partition", "x-source-offset"} <= dead.headers.keys()
    assert p.fatal == []


async def test_a_rejected_message_goes_to_the_dlq_with_its_reason_and_the_rest_go_on() -> None:
    p = _pipeline()
    async with TestKafkaBroker(p.broker) as br:
        good = await _upload(p.store, "green")
        missing = good.model_copy(update={"key": "uploads/gone.jpg", "image_id": "f" * 32})
        await br.publish_batch(encode(missing), encode(good), topic=IMAGES)
    assert [decode(s.value).image_id for s in p.out] == [good.image_id]
    [dead] = p.dead
    assert decode(dead.value) == missing
    assert dead.headers["x-reason"] == "image_missing"
    assert dead.headers["traceparent"] == missing.traceparent
    assert dead.headers["x-source-topic"] == IMAGES and dead.key == missing.uri.encode()


async def test_a_handler_that_crashes_on_one_message_dead_letters_only_that_one() -> None:
    async def crashes_on_grey(messages: Sequence[Any], ports: DetectorPorts) -> Outcome:
        if any(m.key.endswith("grey.jpg") for m in messages):
            raise ValueError("a bug the grey image triggers")
        return await handle_images(messages, ports)

    p = _pipeline(crashes_on_grey)
    async with TestKafkaBroker(p.broker) as br:
        grey, pink = await _upload(p.store, "grey"), await _upload(p.store, "pink")
        await br.publish_batch(encode(grey), encode(pink), topic=IMAGES)
    assert [decode(s.value).image_id for s in p.out] == [pink.image_id]
    [dead] = p.dead
    assert dead.headers["x-reason"] == "ValueError" and decode(dead.value) == grey


async def test_a_transient_failure_is_retried_and_the_effect_is_published_once() -> None:
    failures = [ConnectionError("broker away"), ConnectionError("still away")]

    async def flaky(messages: Sequence[Any], ports: DetectorPorts) -> Outcome:
        if failures:
            raise failures.pop(0)
        return await handle_images(messages, ports)

    p = _pipeline(flaky)
    async with TestKafkaBroker(p.broker) as br:
        await br.publish(encode(await _upload(p.store, "navy")), IMAGES)
    assert len(p.out) == 1 and p.dead == [] and p.fatal == []


async def test_a_failure_that_outlasts_the_retries_stops_the_service_without_publishing() -> None:
    async def down(messages: Sequence[Any], ports: DetectorPorts) -> Outcome:
        raise ConnectionError("postgres is down")

    p = _pipeline(down)
    async with TestKafkaBroker(p.broker) as br:
        await br.publish(encode(await _upload(p.store, "olive")), IMAGES)
        assert p.out == [] and p.dead == []
        assert len(p.fatal) == 1 and "3 tries" in str(p.fatal[0])
        await br.publish(encode(await _upload(p.store, "teal")), IMAGES)
    assert p.out == [] and p.dead == [], "a stopping service handles nothing more"


@pytest.mark.parametrize("attempts", [1, 4])
def test_backoff_doubles_up_to_its_cap(attempts: int) -> None:
    from core.retry import backoff_delays

    assert backoff_delays(attempts, 0.5, 1.5) == [0.5, 1.0, 1.5][: attempts - 1]


async def test_two_records_with_the_same_event_id_keep_their_own_source_offsets():
    """A redelivered duplicate shares its event id; its dead letter must name its own offset."""
    from types import SimpleNamespace

    message = await _upload(DictStore(), "red")
    route = Route("images", "t", handle_images, None, decoder=decode_images_record)
    runner = RouteRunner(
        "detector", route, KafkaBroker(), FAST_RETRIES, ServiceMetrics("dup"), lambda e: None
    )
    records = [
        SimpleNamespace(topic="t", partition=0, offset=offset, key=None, value=encode(message))
        for offset in (4, 9)
    ]
    batch = runner._decode(records)
    first, second = batch.messages
    assert first.event_id == second.event_id
    assert (batch.read_at[id(first)].offset, batch.read_at[id(second)].offset) == (4, 9)
