"""Dead letters on the real Kafka: counted by reason, replayed once to their source topic with
their key and trace, a reason filter passes the others over, and a second replay sends nothing."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from core.streaming.dlq_replay import replay, summarize
from infra.stack import Endpoints
from schemas import dlq

pytest_plugins = ["tests.integration.infra_fixtures"]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


async def _read_all(bootstrap: str, topic: str) -> list[tuple[bytes, bytes, dict[str, bytes]]]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        out = []
        while await consumer.position(tp) < end:
            for r in (await consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                out.append((r.key, r.value, dict(r.headers)))
        return out
    finally:
        await consumer.stop()


async def test_dead_letters_are_counted_and_replayed_once_to_their_source_with_their_key(
    real_stack: Endpoints,
) -> None:
    bootstrap, tag = real_stack.kafka_bootstrap, uuid.uuid4().hex[:8]
    source = f"t{tag}.objects.detected"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(source, 1, 1), NewTopic(dlq(source), 1, 1)])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    letters = [
        (b"k1", b"body-1", "crop_missing"),
        (b"k2", b"body-2", "corrupt_image"),
        (b"k3", b"body-3", "crop_missing"),
    ]
    try:
        for key, body, reason in letters:
            headers = [
                ("x-reason", reason.encode()),
                ("x-source-topic", source.encode()),
                ("traceparent", b"00-" + b"a" * 32 + b"-" + b"b" * 16 + b"-01"),
            ]
            await producer.send_and_wait(dlq(source), body, key=key, headers=headers)
    finally:
        await producer.stop()
    try:
        counted = await summarize(bootstrap, source)
        assert counted.read == 3 and counted.by_reason == {"crop_missing": 2, "corrupt_image": 1}

        dry = await replay(bootstrap, source, f"t{tag}", dry_run=True)
        assert dry.replayed == 3 and await _read_all(bootstrap, source) == []

        first = await replay(bootstrap, source, f"t{tag}", reasons={"crop_missing"})
        assert (first.replayed, first.passed_over) == (2, 1)
        back = await _read_all(bootstrap, source)
        assert [(k, v) for k, v, _ in back] == [(b"k1", b"body-1"), (b"k3", b"body-3")]
        assert all(h["traceparent"].startswith(b"00-aaaa") for _, _, h in back)
        assert back[0][2]["x-replayed-from"] == f"{dlq(source)}/0/0".encode()

        again = await replay(bootstrap, source, f"t{tag}")
        assert (again.read, again.replayed) == (0, 0)  # the group remembers, passed over too
        assert len(await _read_all(bootstrap, source)) == 2
    finally:
        await admin.delete_topics([source, dlq(source)])
        await admin.close()
