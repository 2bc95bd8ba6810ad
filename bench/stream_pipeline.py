"""The streaming side of bench/stream.py: detector, embedder, indexer (and optionally the offline
captioner) as asyncio tasks in this process on the real stack (Kafka, MinIO bucket events,
Postgres), in consumer groups of this run that start at the log end and a Postgres database of
this run (dropped afterwards). Images are uploaded to MinIO under a prefix of this run; an image
is searchable once every object of it (detected crops + the whole image) has its image vector
in Postgres, which a poller checks every POLL_S."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bench.stream_stack import PhaseResult, p50_p95, phase_summary, run_database, stack_settings
from core.ports import Detector, Embedder
from core.settings import Settings
from core.storage_keys import crop_prefix
from schemas import IMAGES, OBJECTS_DETECTED, OBJECTS_EMBEDDED, image_id_from_object

log = logging.getLogger("bench.stream")
POLL_S = 0.05
STAGE_TOPICS = (IMAGES, OBJECTS_DETECTED, OBJECTS_EMBEDDED)
UPLOADED = "upload call returned"

COMPLETE_SQL = """
    SELECT o.image_id, count(*) AS objects, count(DISTINCT v.object_id) AS vectors
    FROM objects o LEFT JOIN {table} v ON v.object_id = o.object_id AND v.modality = 'image'
    WHERE o.image_id = ANY($1::text[]) GROUP BY o.image_id"""


@dataclass
class _Watch:
    """Images waiting to become searchable: id → upload time; done: id → (searchable, objects)."""

    pending: dict[str, float] = field(default_factory=dict)
    done: dict[str, tuple[float, int]] = field(default_factory=dict)
    seen: dict[str, dict[str, float]] = field(default_factory=dict)  # topic → id → first seen
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class Pipeline:
    """The running services plus a MinIO client and a poller on this run's database."""

    def __init__(self, settings: Settings, bucket: str, prefix: str, model_key: str) -> None:
        from infra.minio_events import minio_client

        self.settings, self.bucket, self.prefix = settings, bucket, prefix
        self.model_key = model_key
        self.client = minio_client(settings.minio)
        self.keys: list[str] = []
        self.image_ids: list[str] = []
        self.watch = _Watch()
        self.pg: asyncpg.Connection | None = None
        self.tail_ready = asyncio.Event()

    async def upload(self, name: str, data: bytes) -> str:
        key = f"{self.prefix}/{name}"
        t0 = time.perf_counter()
        put = await asyncio.to_thread(
            self.client.put_object,
            self.bucket,
            key,
            io.BytesIO(data),
            len(data),
            content_type="image/jpeg",
        )
        image_id = image_id_from_object(self.bucket, key, put.etag or "")
        self.watch.seen.setdefault(UPLOADED, {})[image_id] = time.perf_counter()
        self.keys.append(key)
        self.image_ids.append(image_id)
        self.watch.pending[image_id] = t0
        return image_id

    async def wait(self, image_ids: list[str], timeout_s: float) -> None:
        deadline = time.perf_counter() + timeout_s
        while not all(i in self.watch.done for i in image_ids):
            left = deadline - time.perf_counter()
            if left <= 0:
                missing = sum(i not in self.watch.done for i in image_ids)
                raise TimeoutError(f"{missing} image(s) not searchable after {timeout_s:.0f} s")
            self.watch.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.watch.changed.wait(), min(left, 1.0))

    def result(self, name: str, image_ids: list[str]) -> PhaseResult:
        starts = [self.watch.pending[i] for i in image_ids]
        ends = [self.watch.done[i][0] for i in image_ids]
        return PhaseResult(
            name=name,
            images=len(image_ids),
            wall_s=max(ends) - min(starts),
            latencies_s=[e - s for s, e in zip(starts, ends, strict=True)],
            objects=sum(self.watch.done[i][1] for i in image_ids),
            stages=self.stages(image_ids),
            from_event_s=self._from_event(image_ids, max(ends)),
        )

    def _from_event(self, image_ids: list[str], last_done: float) -> float | None:
        seen = self.watch.seen.get(IMAGES, {})
        if not all(i in seen for i in image_ids):
            return None
        return last_done - min(seen[i] for i in image_ids)

    async def poll(self) -> None:
        assert self.pg is not None
        table = None
        while True:
            waiting = [i for i in self.watch.pending if i not in self.watch.done]
            if waiting:
                if table is None:
                    sql = "SELECT table_name FROM vector_models WHERE model_key = $1"
                    with contextlib.suppress(asyncpg.UndefinedTableError):
                        table = await self.pg.fetchval(sql, self.model_key)
                if table is not None:
                    rows = await self.pg.fetch(COMPLETE_SQL.format(table=table), waiting)
                    now = time.perf_counter()
                    for r in rows:
                        if r["objects"] > 0 and r["vectors"] == r["objects"]:
                            self.watch.done[r["image_id"]] = (now, int(r["objects"]))
                            self.watch.changed.set()
            await asyncio.sleep(POLL_S)

    async def tail(self) -> None:
        """First time each image id shows up on the pipeline topics (read from their end)."""
        from aiokafka import AIOKafkaConsumer
        from aiokafka.structs import TopicPartition

        from core.streaming.s3_events import decode_images_record

        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka.bootstrap_servers)
        await consumer.start()
        try:
            await consumer._client.force_metadata_update()
            assigned = [
                TopicPartition(t, p)
                for t in STAGE_TOPICS
                for p in sorted(consumer.partitions_for_topic(t) or {0})
            ]
            consumer.assign(assigned)
            await consumer.seek_to_end(*assigned)
            for tp in assigned:
                await consumer.position(tp)
            self.tail_ready.set()
            while True:
                batch = await consumer.getmany(timeout_ms=200)
                now = time.perf_counter()
                for records in batch.values():
                    for r in records:
                        try:
                            if r.topic == IMAGES:
                                ids = [e.image_id for e in decode_images_record(r.value)]
                            else:
                                ids = [json.loads(r.value)["image_id"]]
                        except Exception:  # others' records: not ours to judge
                            continue
                        for image_id in ids:
                            if image_id is None:
                                continue
                            self.watch.seen.setdefault(r.topic, {}).setdefault(image_id, now)
        finally:
            await consumer.stop()

    def stages(self, image_ids: list[str]) -> list[tuple[str, float, float]]:
        """Per topic: median and p95 seconds from the upload call to the image's first record,
        then to searchable."""
        out = []
        for topic in (UPLOADED, *STAGE_TOPICS):
            seen = self.watch.seen.get(topic, {})
            times = [seen[i] - self.watch.pending[i] for i in image_ids if i in seen]
            if len(times) == len(image_ids):
                name = topic if topic == UPLOADED else f"record on `{topic}`"
                out.append((name, *p50_p95(times)))
        done = [self.watch.done[i][0] - self.watch.pending[i] for i in image_ids]
        out.append(("searchable (Postgres)", *p50_p95(done)))
        return out

    def remove_uploads(self) -> int:
        """Delete this run's uploads and crops from MinIO (delete events reach the services)."""
        removed = 0
        for key in self.keys:
            with contextlib.suppress(Exception):
                self.client.remove_object(self.bucket, key)
                removed += 1
        crops = self.settings.minio.crops_bucket
        for image_id in self.image_ids:
            with contextlib.suppress(Exception):
                for obj in self.client.list_objects(crops, prefix=crop_prefix(image_id)):
                    self.client.remove_object(crops, obj.object_name)
        return removed


@contextlib.asynccontextmanager
async def running_pipeline(
    settings: Settings, detector: Detector, embedder: Embedder, prefix: str, captioner: bool
) -> AsyncIterator[Pipeline]:
    from services.captioner.app import create_app as captioner_app
    from services.detector.app import create_app as detector_app
    from services.embedder.app import create_app as embedder_app
    from services.indexer.app import create_app as indexer_app

    services: list[Any] = [
        detector_app(settings, detector),
        embedder_app(settings, embedder),
        indexer_app(settings),
    ]
    if captioner:
        services.insert(1, captioner_app(settings, embedder=embedder))
    pipeline = Pipeline(settings, settings.minio.bucket, prefix, embedder.identity.key)
    async with contextlib.AsyncExitStack() as stack:
        for service in services:
            await stack.enter_async_context(service.running(ready_timeout_s=180))
        pipeline.pg = await asyncpg.connect(settings.postgres.dsn.get_secret_value())  # type: ignore[union-attr]
        stack.push_async_callback(pipeline.pg.close)
        poller = asyncio.create_task(pipeline.poll())
        tail = asyncio.create_task(pipeline.tail())
        await asyncio.wait_for(pipeline.tail_ready.wait(), 60)
        try:
            yield pipeline
        finally:
            for task in (poller, tail):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await asyncio.to_thread(pipeline.remove_uploads)


async def measure_streaming(
    images: list[bytes],
    warmup: list[bytes],
    detector: Detector,
    embedder: Embedder,
    run_id: str,
    data_dir: Path,
    admin_dsn: str,
    *,
    paced: bool,
    captioner: bool,
    bursts: int,
    timeout_s: float,
) -> list[PhaseResult]:
    """Warm-up uploads, then (if `paced`) one image at a time, each waited for, then all images
    uploaded back to back (a burst, `bursts` times) and waited for: the throughput phases."""
    settings = stack_settings(data_dir, run_id)
    prefix = f"bench-stream/{run_id}"
    results = []
    async with (
        run_database(settings, admin_dsn, run_id),
        running_pipeline(settings, detector, embedder, prefix, captioner) as pipe,
    ):
        log.info("services ready; warm-up with %d image(s)", len(warmup))
        ids = [await pipe.upload(f"warmup-{i}.jpg", d) for i, d in enumerate(warmup)]
        await pipe.wait(ids, timeout_s)
        if paced:
            ids = []
            for i, data in enumerate(images):
                ids.append(await pipe.upload(f"paced-{i:03d}.jpg", data))
                await pipe.wait(ids[-1:], timeout_s)
            results.append(pipe.result("one at a time", ids))
            log.info("paced: %s", phase_summary(results[-1]))
        for b in range(1, bursts + 1):
            ids = [await pipe.upload(f"burst{b}-{i:03d}.jpg", d) for i, d in enumerate(images)]
            await pipe.wait(ids, timeout_s)
            results.append(pipe.result(f"burst {b}", ids))
            log.info("burst %d: %s", b, phase_summary(results[-1]))
    return results
