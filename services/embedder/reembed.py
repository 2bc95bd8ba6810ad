"""Re-embed the log with another model into that model's own topic (a blue/green re-index).

Reads `objects.detected` and `objects.captioned` from offset 0 up to their end as the job
starts (a fixed cut), runs the embedder's own handlers with the new model over the stored crops
and captions, and publishes to `target_topic`, keyed like every event (`partition_key`), so
tombstones stay behind the vectors they remove. Nothing is committed to a consumer group: a
re-run starts over and produces the same vectors (upserts downstream make repeats harmless).
Events after the cut come from an embedder service run with the same model and
`CATALENS_STREAMING__EMBEDDED_TOPIC=<target>`; start it first, then this job, and the two
overlap rather than leave a gap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from core.errors import CatalensError
from core.inference import ModelRunner
from core.ports import Embedder, ObjectStore
from core.routes import Outcome
from core.streaming.log_reading import partitions_of, read_to
from schemas import (
    OBJECTS_CAPTIONED,
    OBJECTS_DETECTED,
    ObjectsCaptioned,
    ObjectsDeleted,
    ObjectsDetected,
    decode,
    encode_wire,
    partition_key,
)
from services.embedder.handler import EmbedderPorts, handle_captioned, handle_detected

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass
class ReembedStats:
    read: int = 0
    produced: int = 0
    skipped: int = 0  # undecodable, or rejected by a handler (e.g. a crop no longer stored)


async def reembed(
    bootstrap_servers: str,
    embedder: Embedder,
    crops: ObjectStore,
    target_topic: str,
    sources: Sequence[str] = (OBJECTS_CAPTIONED, OBJECTS_DETECTED),
    progress: Progress | None = None,
    vector_frames: bool = True,
) -> ReembedStats:
    """`sources` are read one after the other, captions first: a caption vector then always
    comes before its image's tombstone on the target topic (both are on `objects.detected`'s
    side), so a deleted image cannot come back through its caption. `vector_frames`: vectors
    go out as `schemas.encode_wire` writes them (`StreamingSettings.vector_frames`)."""
    ports = EmbedderPorts(crops, embedder, ModelRunner("reembed"), target_topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 << 20,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True, linger_ms=20
    )
    stats = ReembedStats()
    await consumer.start()
    await producer.start()
    try:
        plan = {t: await partitions_of(consumer, t) for t in sources}
        if not any(plan.values()):
            raise CatalensError(f"none of {', '.join(sources)} exists on {bootstrap_servers}")
        tps = [TopicPartition(t, p) for t, ps in plan.items() for p in ps]
        ends = await consumer.end_offsets(tps)
        total = sum(ends.values())
        for tp in tps:  # one topic after the other (see `sources`), partition by partition
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            async for records in read_to(consumer, tp, ends[tp], max_records=64):
                stats.read += len(records)
                values = [r.value for r in records]
                await _embed(tp.topic, values, ports, producer, stats, vector_frames)
                if progress is not None:
                    progress(stats.read, total)
        await producer.flush()
        return stats
    finally:
        await producer.stop()
        await consumer.stop()
        ports.runner.close()


async def _embed(
    topic: str,
    values: list[bytes | None],
    ports: EmbedderPorts,
    producer: AIOKafkaProducer,
    stats: ReembedStats,
    vector_frames: bool,
) -> None:
    messages = []
    for value in values:
        try:
            messages.append(
                decode(value or b"", (ObjectsCaptioned, ObjectsDetected, ObjectsDeleted))
            )
        except CatalensError as exc:
            log.warning("re-embed skips a record of %s: %s", topic, exc)
            stats.skipped += 1  # dead-lettered on its first pass already
    captions = [m for m in messages if isinstance(m, ObjectsCaptioned)]
    crops = [m for m in messages if isinstance(m, (ObjectsDetected, ObjectsDeleted))]
    outcome = Outcome()
    if captions:
        outcome = await handle_captioned(captions, ports)
    if crops:
        more = await handle_detected(crops, ports)
        outcome.publish += more.publish
        outcome.dead += more.dead
    stats.skipped += len(outcome.dead)
    for dead in outcome.dead:
        log.warning("re-embed skips %s: %s (%s)", dead.message.image_id, dead.reason, dead.detail)
    for out_topic, message in outcome.publish:
        assert out_topic == ports.topic
        value = encode_wire(message, frames=vector_frames)
        await producer.send(out_topic, value, key=partition_key(message))
        stats.produced += 1
