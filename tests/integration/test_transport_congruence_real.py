"""The congruence of `tests/unit/test_transport_congruence.py` on the real broker: the services'
own routes run by `RouteRunner`s on Apache Kafka from `catalens infra` give the same downstream
messages, dead letters and FAISS view as the in-process bus, for the same inputs.

Isolation on a shared broker: consumer groups of this run's own that start at the log end, a
bucket name of its own (other tests' bucket events are not ours to take), its own embeddings
topic, and images with ids of their own (a salted pixel), by which its dead letters are told
apart from older ones."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from typing import Any

import pytest
from faststream.kafka.annotations import KafkaMessage

from core.index.log_index import LogIndex
from core.settings import StreamingSettings
from core.streaming.broker import make_broker
from core.streaming.metrics import ServiceMetrics
from core.streaming.route import RouteRunner
from core.streaming.topics import ensure_topics
from infra.stack import Endpoints
from schemas import IMAGES, OBJECTS_EMBEDDED, SchemaError, decode, dlq, encode
from services.indexer.handler import LogView
from tests.fakes.ports import DictStore
from tests.integration.stream_kit import _until, _value
from tests.unit.test_transport_congruence import (
    RECORDED,
    Run,
    congruence_settings,
    fatal,
    image_of,
    inputs,
    recorder,
    run_in_process,
    service_routes,
)

pytest_plugins = ["tests.integration.infra_fixtures"]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


async def run_on_real_kafka(real_stack: Endpoints, salt: int, expect: Run) -> Run:
    settings, store, run = congruence_settings(), DictStore(), Run()
    run_id = uuid.uuid4().hex[:8]
    settings.minio.bucket = f"congruence-{run_id}"
    settings.kafka.bootstrap_servers = real_stack.kafka_bootstrap
    settings.streaming = StreamingSettings(
        group_prefix=f"c{run_id}",
        auto_offset_reset="latest",
        max_wait_ms=50,
        embedded_topic=f"test-embedded-{run_id}",
        retry_backoff_s=0.05,
    )
    streaming = settings.streaming
    await ensure_topics(real_stack.kafka_bootstrap, streaming)
    view = LogView(LogIndex(streaming.embedded_topic, partitions=1))
    broker = make_broker(settings.kafka, streaming, "congruence")
    routes = service_routes(settings, store, view)
    routes += [("test", recorder(t, run)) for t in RECORDED]
    routes.append(("test", recorder(streaming.embedded_topic, run, OBJECTS_EMBEDDED)))
    metrics, runners = ServiceMetrics("congruence-real"), []
    for service, route in routes:
        runner = RouteRunner(service, route, broker, streaming, metrics, fatal)
        runner.subscribe()
        runners.append(runner)
    waves = inputs(settings, store, salt)
    ours = {image_of(m) for wave in waves for m in wave}
    for topic in {dlq(route.topic) for _, route in routes}:
        broker.subscriber(topic, group_id=f"c{run_id}-dlq", auto_offset_reset="earliest")(
            _dead_letter_sink(run, topic, ours)
        )
    await broker.start()
    try:
        await asyncio.wait_for(asyncio.gather(*(r.wait_assigned() for r in runners)), 60)
        expected_published, expected_dead, _ = expect.summary()
        for i, wave in enumerate(waves):
            for message in wave:
                await broker.publish(encode(message), IMAGES, key=message.image_id.encode())
            want = len(expected_published) if i == len(waves) - 1 else None
            await _settle(run, want, len(expected_dead))
    finally:
        await broker.stop()
    run.view = view.index
    return run


async def _settle(run: Run, published: int | None, dead: int) -> None:
    """Until nothing new arrives for a second (and, when given, the expected counts are in)."""
    await _until(lambda: _value(len(run.dead)), at_least=dead, timeout_s=120)
    last, quiet_since = -1, time.monotonic()
    while time.monotonic() - quiet_since < 1.5 or (published and len(run.published) < published):
        if len(run.published) != last:
            last, quiet_since = len(run.published), time.monotonic()
        await asyncio.sleep(0.1)


def _dead_letter_sink(run: Run, topic: str, ours: set[str]) -> Any:
    async def sink(msg: KafkaMessage) -> None:
        record = msg.raw_message
        headers = {k: v.decode() for k, v in record.headers}
        try:
            image = image_of(decode(record.value))
        except SchemaError:  # an older run's garbage: not ours
            return
        if image in ours:
            run.dead.append((topic, headers["x-reason"], image))

    return sink


async def test_on_the_real_broker_the_pipeline_does_what_the_in_process_bus_does(
    real_stack: Endpoints,
) -> None:
    salt = random.randrange(1, 65536)
    in_process = await run_in_process(salt)
    on_kafka = await run_on_real_kafka(real_stack, salt, in_process)
    (k_published, k_dead, k_view), (b_published, b_dead, b_view) = (
        on_kafka.summary(),
        in_process.summary(),
    )
    assert k_dead == b_dead
    assert sorted(set(k_published) ^ set(b_published)) == [] and k_published == b_published
    assert k_view == b_view
