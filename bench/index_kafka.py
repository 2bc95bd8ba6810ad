"""bench/index.py's Kafka steps: produce, replay from offset 0, restore + tail."""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from bench.index_data import Data, check, progress, stopwatch
from bench.index_report import (
    PARTITIONS,
)
from core.index.generations import Generation, GenerationStore
from core.index.log_follower import LogFollower, collections_paused, decode_record
from core.index.log_index import Record
from schemas import encode
from schemas.embedded_reader import decode_embedded
from schemas.frames import encode_frame

log = logging.getLogger("bench.index")


# --- Kafka: produce, replay, restore + tail ---------------------------------------------------


async def create_topic(bootstrap: str, topic: str) -> None:
    from infra.minio_events import ensure_topic

    if not await ensure_topic(bootstrap, topic, PARTITIONS):
        raise RuntimeError(f"topic {topic} already exists")


async def delete_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()


async def produce(
    data: Data, bootstrap: str, topic: str, frames: bool = False
) -> tuple[float, float, float]:
    """Seconds to produce every message (encode included), seconds of encode alone, MB sent;
    as JSON records (`encode`) or vector frames (`encode_frame`)."""
    to_bytes = encode_frame if frames else encode
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20, acks=1
    )
    await producer.start()
    spent: dict[str, float] = {}
    sent = 0
    try:
        with progress() as bar:
            task = bar.add_task("produce", total=len(data.messages))
            start = time.perf_counter()
            pending = []
            for i, message in enumerate(data.messages):
                with stopwatch(spent, "encode"):
                    body = to_bytes(message)
                sent += len(body)
                pending.append(
                    await producer.send(topic, body, key=data.keys[i], partition=data.partitions[i])
                )
                if len(pending) >= 2000:
                    await asyncio.gather(*pending)
                    bar.advance(task, len(pending))
                    pending = []
            await producer.flush()
            await asyncio.gather(*pending)
            bar.advance(task, len(pending))
            total = time.perf_counter() - start
    finally:
        await producer.stop()
    return total, spent["encode"], sent / 1e6


async def wait_caught_up(follower: LogFollower, label: str, total: int) -> None:
    with progress() as bar:
        task = bar.add_task(label, total=total)
        base = sum(follower.index.positions)

        def advance(f: LogFollower) -> None:
            bar.update(task, completed=sum(f.index.positions) - base)

        follower.on_progress = advance
        await follower.caught_up.wait()
        advance(follower)


class TodayFollower(LogFollower):
    """The follower reading records as it did before `read_embedded` and vector frames: each
    poll through `decode_embedded` (a pydantic model per record and per vector), the rest
    through `decode`, then the same apply. The baseline row of the replay."""

    def _apply(self, raw: list[tuple[int, int, bytes | None]]) -> None:
        with collections_paused():
            self.index.apply_many(decode_models(raw), on_error=self._skipped)


def decode_models(raw: list[tuple[int, int, bytes | None]]) -> list[Record]:
    """`core.index.log_follower.decode_records` before vector frames."""
    fast = decode_embedded([value for _, _, value in raw])
    return [
        (p, o, message if message is not None else decode_record(value, p, o))
        for (p, o, value), message in zip(raw, fast, strict=True)
    ]


async def replay(
    data: Data, bootstrap: str, generation: Generation, today: bool = False
) -> tuple[float, float]:
    """`start()` → `caught_up` of a follower without snapshots, from offset 0: (seconds, CPU
    seconds of this process, every thread: what the follower itself spent, whatever else
    the machine runs; the broker is another process)."""
    kind = TodayFollower if today else LogFollower
    follower = kind(generation, bootstrap, None, PARTITIONS)
    try:
        start, cpu = time.perf_counter(), time.process_time()
        await follower.start()
        label = f"replay {generation.topic}" + (", today's reader" if today else "")
        await wait_caught_up(follower, label, len(data.messages))
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        check(follower.index, data, "replay from 0")
        return seconds, cpu
    finally:
        await follower.stop()
        follower.index.close()


async def restore_and_tail(
    data: Data, bootstrap: str, generation: Generation, store: GenerationStore
) -> tuple[float, int, int]:
    """What `open_follower` does (restore, then start), over the 99 % snapshots, until
    `caught_up`; (seconds, records the snapshots cover, records replayed)."""
    start = time.perf_counter()
    follower = LogFollower(generation, bootstrap, store, PARTITIONS)
    try:
        await follower.restore()
        await follower.start()  # sets the end offsets
        restored = sum(follower.restored_positions)
        tail = follower.lag()
        await wait_caught_up(follower, "restore + tail", tail)
        seconds = time.perf_counter() - start
        check(follower.index, data, "restore + tail")
        return seconds, restored, tail
    finally:
        await follower.stop()
        follower.index.close()
