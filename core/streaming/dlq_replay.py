"""Look at and replay dead letters: `<topic>.dlq` back to the topic each record came from.

`summarize` reads a dead-letter topic from the start and counts records by reason. `replay`
consumes it in a consumer group of its own (`<prefix>-dlq-replay.<topic>`), so each dead letter is
replayed once however often it runs; records whose `x-reason` is not in `reasons` (when given)
are passed over and not replayed later either. Each replayed record goes to its `x-source-topic`
with its original key and trace context, plus `x-replayed-from` naming where it was dead;
offsets are committed only after every publish is acknowledged. Ids are deterministic and every
write downstream is an upsert, so replaying a message that had in fact succeeded changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from core.streaming.log_reading import partitions_of, read_to
from schemas import dlq

Progress = Callable[[int, int], None]


@dataclass
class ReplayStats:
    read: int = 0
    replayed: int = 0
    passed_over: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)


def _headers(record: object) -> dict[str, str]:
    return {k: v.decode("utf-8", "replace") for k, v in getattr(record, "headers", ()) or ()}


async def _assigned(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    partitions = await partitions_of(consumer, topic)
    if not partitions:
        raise ValueError(f"no topic {topic!r}: nothing was ever dead-lettered from it")
    tps = [TopicPartition(topic, p) for p in partitions]
    consumer.assign(tps)
    return tps


async def summarize(bootstrap_servers: str, topic: str) -> ReplayStats:
    """Count the dead letters of `topic` by reason (reads `<topic>.dlq` from the start)."""
    stats = ReplayStats()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        tps = await _assigned(consumer, dlq(topic))
        ends = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        for tp in tps:
            async for records in read_to(consumer, tp, ends[tp]):
                stats.read += len(records)
                stats.by_reason.update(_headers(r).get("x-reason", "?") for r in records)
        return stats
    finally:
        await consumer.stop()


async def replay(
    bootstrap_servers: str,
    topic: str,
    group_prefix: str,
    reasons: Collection[str] = (),
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ReplayStats:
    """Replay the dead letters of `topic` not replayed before (up to the end as of now)."""
    stats = ReplayStats()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=f"{group_prefix}-dlq-replay.{topic}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True
    )
    await consumer.start()
    await producer.start()
    try:
        tps = await _assigned(consumer, dlq(topic))
        ends = await consumer.end_offsets(tps)
        starts = {tp: await consumer.position(tp) for tp in tps}
        total = sum(max(0, ends[tp] - starts[tp]) for tp in tps)
        for tp in tps:
            async for records in read_to(consumer, tp, ends[tp]):
                sends = []
                for record in records:
                    headers = _headers(record)
                    reason = headers.get("x-reason", "?")
                    stats.read += 1
                    if reasons and reason not in reasons:
                        stats.passed_over += 1
                        continue
                    stats.by_reason[reason] += 1
                    stats.replayed += 1
                    if dry_run:
                        continue
                    out = [("x-replayed-from", f"{tp.topic}/{tp.partition}/{record.offset}")]
                    if "traceparent" in headers:
                        out.append(("traceparent", headers["traceparent"]))
                    sends.append(
                        await producer.send(
                            headers.get("x-source-topic", topic),
                            record.value,
                            key=record.key,
                            headers=[(k, v.encode()) for k, v in out],
                        )
                    )
                for sent in sends:
                    await sent  # acknowledged by the broker before the commit
                if not dry_run:  # up to the last record read: none past the cut
                    await consumer.commit({tp: records[-1].offset + 1})
                if progress is not None:
                    progress(stats.read, total)
        return stats
    finally:
        await producer.stop()
        await consumer.stop()
