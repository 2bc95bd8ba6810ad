"""Keep a `LogIndex` current from Kafka: restore each shard's latest snapshot, replay only the
tail of its partition, then follow; optionally write snapshots of changed shards as it goes.

The consumer is assigned every partition of the generation's topic by hand (no consumer group):
each follower holds a whole copy, so a query replica answers on its own and a new vector is
searchable as soon as its event is read (one `getmany` poll, ≤ `poll_ms`). Offsets live in the
snapshots, not in Kafka, so a follower killed at any point restarts from its last snapshot and
replays the rest: at-least-once reading, and `LogIndex.apply` makes a repeat a no-op.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from aiokafka import AIOKafkaConsumer, TopicPartition

from core.errors import CatalensError
from core.index.faiss_params import FaissParams
from core.index.generations import Generation, GenerationStore
from core.index.log_index import LogIndex, Record
from core.index.partition_snapshot import (
    SnapshotError,
    encode_partition,
    restore_partition,
)
from core.streaming.log_reading import partitions_of
from schemas import ObjectsDeleted, ObjectsEmbedded, decode
from schemas.view_reader import read_embedded

log = logging.getLogger(__name__)
MAX_RECORDS = 8000  # per poll: fewer, larger applies and FAISS upserts while catching up


async def topic_partitions(bootstrap_servers: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None)
    await consumer.start()
    try:
        for _ in range(50):  # a topic made a moment ago may take a while to show
            partitions = await partitions_of(consumer, topic)
            if partitions:
                return len(partitions)
            await asyncio.sleep(0.1)
        raise CatalensError(f"topic {topic!r} does not exist on {bootstrap_servers}")
    finally:
        await consumer.stop()


class LogFollower:
    def __init__(
        self,
        generation: Generation,
        bootstrap_servers: str,
        store: GenerationStore | None,
        partitions: int,
        params: FaissParams | None = None,
        write_snapshots: bool = False,
        snapshot_every_s: float = 30.0,
        poll_ms: int = 100,
        until: list[int] | None = None,
        stop_at_end: bool = False,
    ) -> None:
        """`until`: per partition, the offset to stop before (a fixed cut of the log: `index
        check` and builds); `stop_at_end` takes the topic's end at `start` as that cut; else
        the follower follows the log forever."""
        self.generation, self.store = generation, store
        self.bootstrap_servers = bootstrap_servers
        self.index = LogIndex(generation.topic, partitions, generation.index_type, params)
        self.write_snapshots, self.snapshot_every_s = write_snapshots, snapshot_every_s
        self.poll_ms, self.until, self.stop_at_end = poll_ms, until, stop_at_end
        self.restored_positions: list[int] = [0] * partitions
        self.end_offsets: list[int] = [0] * partitions
        self.caught_up = asyncio.Event()
        self.on_progress: Callable[[LogFollower], None] | None = None
        self._snapshotted = [0] * partitions
        self.last_snapshot_at: float | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def topic(self) -> str:
        return self.generation.topic

    async def restore(self) -> int:
        """Load every partition's latest snapshot; returns how many vectors came back."""
        if self.store is None:
            return 0
        for partition in range(self.index.partitions):
            data = await self.store.load(self.generation.name, partition)
            if data is None:
                continue
            try:
                position = await asyncio.to_thread(restore_partition, self.index, data)
            except SnapshotError as exc:
                log.warning("ignoring snapshot of %s p%d: %s", self.topic, partition, exc)
                continue
            self.restored_positions[partition] = self._snapshotted[partition] = position
        return len(self.index)

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 << 20,
        )
        await consumer.start()
        tps = [TopicPartition(self.topic, p) for p in range(self.index.partitions)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        if self.until is None and self.stop_at_end:
            self.until = [ends[tp] for tp in tps]
        self.end_offsets = self.until or [ends[tp] for tp in tps]
        for tp in tps:
            consumer.seek(tp, self.index.positions[tp.partition])
        self._consumer = consumer
        self._check_caught_up()
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        """Fetch the next batch while the last one is applied, then snapshot when due."""
        assert self._consumer is not None
        consumer = self._consumer
        last_snapshot = time.monotonic()
        fetch = asyncio.ensure_future(
            consumer.getmany(timeout_ms=self.poll_ms, max_records=MAX_RECORDS)
        )
        try:
            while True:
                batches = await fetch
                raw = [
                    (tp.partition, r.offset, r.value)
                    for tp, rs in batches.items()
                    for r in rs
                    if self.until is None or r.offset < self.until[tp.partition]
                ]
                fetch = asyncio.ensure_future(  # fetching never touches the index
                    consumer.getmany(timeout_ms=self.poll_ms, max_records=MAX_RECORDS)
                )
                if raw:
                    await asyncio.to_thread(self._apply, raw)  # decode off the event loop too
                    self._check_caught_up()
                    if self.on_progress is not None:
                        self.on_progress(self)
                due = time.monotonic() - last_snapshot >= self.snapshot_every_s
                if self.write_snapshots and due:  # between applies: one consistent cut
                    await self.snapshot()
                    last_snapshot = time.monotonic()
        finally:
            fetch.cancel()

    def _apply(self, raw: list[tuple[int, int, bytes | None]]) -> None:
        with collections_paused():  # a poll's messages die young: only refcounts free them
            self.index.apply_many(decode_records(raw), on_error=self._skipped)

    def _skipped(self, partition: int, offset: int, exc: Exception) -> None:
        log.error("%s p%d@%d cannot be applied (%s); skipped", self.topic, partition, offset, exc)

    def _check_caught_up(self) -> None:
        if all(p >= e for p, e in zip(self.index.positions, self.end_offsets, strict=True)):
            self.caught_up.set()

    def lag(self) -> int:
        """Records between the positions and the end offsets seen at start (or `until`)."""
        ends, positions = self.end_offsets, self.index.positions
        return sum(max(0, end - at) for end, at in zip(ends, positions, strict=True))

    def behind(self) -> int:
        """Records between the positions and the newest end offsets the consumer has seen
        (the live lag; `lag` is against the end seen at start)."""
        if self._consumer is None:
            return self.lag()
        ends = [
            self._consumer.highwater(TopicPartition(self.topic, p))
            for p in range(self.index.partitions)
        ]
        return sum(
            max(0, (end or 0) - at) for end, at in zip(ends, self.index.positions, strict=True)
        )

    def force_snapshot(self) -> None:
        """The next `snapshot()` writes every partition, moved or not."""
        self._snapshotted = [-1] * self.index.partitions

    async def snapshot(self) -> list[int]:
        """Snapshot every partition that moved since its last snapshot; returns those."""
        if self.store is None:
            return []
        written = []
        for partition in range(self.index.partitions):
            position = self.index.positions[partition]
            if position == self._snapshotted[partition]:
                continue
            data = await asyncio.to_thread(encode_partition, self.index, partition)
            await self.store.save(self.generation.name, partition, data)
            self._snapshotted[partition] = position
            written.append(partition)
        self.last_snapshot_at = time.time()
        if written:
            log.info("snapshotted %s p%s of %s", self.generation.name, written, self.topic)
        return written

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self, final_snapshot: bool = False) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()
        if final_snapshot and self.write_snapshots:
            await self.snapshot()


@contextmanager
def collections_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: a poll makes ~20 tracked objects per record that
    live until its apply ends, so the collector would run every few dozen records and push
    them all into the oldest generation, whose full scans of the whole index then cost a
    fifth of a replay. Refcounting still frees them; collections resume after."""
    if not gc.isenabled():  # someone else paused it: theirs to resume
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def decode_records(raw: list[tuple[int, int, bytes | None]]) -> list[Record]:
    """(partition, offset, value) → (partition, offset, message or None to skip): a view of
    each `ObjectsEmbedded` record, JSON or vector frame, that `read_embedded` vouches for in
    one batch; every other record (tombstones, other versions, bad ones) through `decode`,
    which logs why it skips."""
    fast = read_embedded([value for _, _, value in raw])
    return [
        (p, o, message if message is not None else decode_record(value, p, o))
        for (p, o, value), message in zip(raw, fast, strict=True)
    ]


def decode_record(
    data: bytes | None, partition: int, offset: int
) -> ObjectsEmbedded | ObjectsDeleted | None:
    if data is None:
        return None
    try:
        message = decode(data, (ObjectsEmbedded, ObjectsDeleted))
    except CatalensError as exc:  # the indexer dead-letters it; a view only skips it
        log.warning("skipping p%d@%d: %s", partition, offset, exc)
        return None
    assert isinstance(message, (ObjectsEmbedded, ObjectsDeleted))
    return message


async def open_follower(
    generation: Generation,
    bootstrap_servers: str,
    store: GenerationStore | None,
    params: FaissParams | None = None,
    write_snapshots: bool = False,
    snapshot_every_s: float = 30.0,
) -> LogFollower:
    """Restore from the latest snapshots and start following the tail."""
    partitions = await topic_partitions(bootstrap_servers, generation.topic)
    follower = LogFollower(
        generation, bootstrap_servers, store, partitions, params, write_snapshots, snapshot_every_s
    )
    restored = await follower.restore()
    await follower.start()
    log.info(
        "following %s (%s) from %s: %d vectors restored, %d records of tail to replay",
        generation.topic,
        generation.name,
        follower.index.positions,
        restored,
        follower.lag(),
    )
    return follower
