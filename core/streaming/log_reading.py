"""Reading a bounded stretch of the log with a consumer that has no subscription: which
partitions a topic has, and a partition's records from where the consumer stands up to an end
offset (the cut a job fixed when it started; records past it are never yielded)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    """Sorted partition numbers of `topic`; [] when it does not exist. A consumer without a
    subscription knows no topics (and `consumer.topics()` does not teach it): its metadata is
    refreshed for every topic first."""
    await consumer._client.force_metadata_update()
    return sorted(consumer.partitions_for_topic(topic) or ())


async def read_to(
    consumer: AIOKafkaConsumer, tp: TopicPartition, end: int, max_records: int = 500
) -> AsyncIterator[list[Any]]:
    """Batches of records of `tp` (assigned to `consumer`) from its position up to `end`."""
    while await consumer.position(tp) < end:
        fetched = await consumer.getmany(tp, timeout_ms=1000, max_records=max_records)
        wanted = [r for r in fetched.get(tp, []) if r.offset < end]
        if wanted:
            yield wanted
