"""Index lifecycle at scale: snapshot, restore and Kafka replay of a `LogIndex`.

Run from the repository root: `python -m bench.index` (see `--help`). Needs the real stack's
Kafka and MinIO (`catalens infra up`; taken through `infra.shared.shared_stack`, so whatever it
starts is stopped again when no one else holds it). N random L2-normalised float32 vectors
(`--dim`) travel as `ObjectsEmbedded` events of 3 vectors each, keyed by the image's uri
(`schemas.partition_key`) onto a fresh topic of 4 partitions; the index is Flat, one shard per
partition. Steps, in this order:

* apply-only (a baseline): `LogIndex.apply_many` on the already decoded messages in polls of
  2,000 records, as the follower applies them, no Kafka; at 99 % of
  the records every partition is snapshotted into a local folder store (not timed) for the tail
  step below;
* snapshot: `encode_partition` of every partition at 100 %, each written to a folder store on
  local disk and to a MinIO bucket of this run;
* restore: read every partition back and `restore_partition` it into a fresh `LogIndex`, from
  each store;
* produce: `schemas.encode` + an aiokafka producer (linger, 1 MiB batches) onto the topic;
* replay from offset 0: a `LogFollower` without snapshots, from `start()` until `caught_up`;
* restore + tail: a `LogFollower` over the 99 % snapshots (`restore()`, then `start()`: replay
  the last 1 % of the records) until `caught_up`, as `open_follower` does: what a snapshot
  saves against replaying everything.

Every resulting index is checked (size, positions, a sample of vectors). The topic, the MinIO
objects (and the bucket, when this run made it) and the local folder go again at the end.
Writes the "Index lifecycle: snapshot, restore, replay (bench/index.py)" section of
docs/benchmarks.md (not with --no-write).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bench.common import machine, machine_markdown, write_section
from catalens.adapters.folder_store import FolderObjectStore
from catalens.adapters.minio_store import MinioObjectStore, open_minio_store
from schemas import EmbeddedVector, EmbedderRef, ObjectsEmbedded, Vector, decode, encode
from schemas import partition_key as message_key
from services.indexer.generations import Generation, GenerationStore
from services.indexer.log_follower import LogFollower
from services.indexer.log_index import LogIndex
from services.indexer.partition_snapshot import encode_partition, partition_key, restore_partition

SECTION = "Index lifecycle: snapshot, restore, replay (bench/index.py)"
PARTITIONS = 4
PER_MESSAGE = 3
INDEX_TYPE = "Flat"
TAIL_SHARE = 0.01
BUCKET = "catalens-bench-index"
SAMPLE = 200  # vectors compared in every resulting index
log = logging.getLogger("bench.index")
console = Console(stderr=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.index",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--vectors", type=int, default=1_000_000, help="N: vectors in the index")
    p.add_argument("--dim", type=int, default=256, help="D: vector dimension (float32)")
    p.add_argument("--seed", type=int, default=0, help="random vectors' seed")
    p.add_argument("--skip-minio", action="store_true", help="snapshot/restore: folder only")
    p.add_argument("--no-write", action="store_true", help="print, leave docs alone")
    args = p.parse_args(argv)
    if args.vectors < PER_MESSAGE * 100 or args.dim < 1:
        p.error(f"--vectors must be >= {PER_MESSAGE * 100} and --dim >= 1")
    return args


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TaskProgressColumn(), TimeElapsedColumn(), TimeRemainingColumn(), console=console,
    )  # fmt: skip


@contextmanager
def stopwatch(into: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        into[name] = into.get(name, 0.0) + time.perf_counter() - start


@dataclass
class Data:
    """The run's messages with the partition and offset each gets on the topic."""

    messages: list[ObjectsEmbedded]
    keys: list[bytes]
    partitions: list[int]
    offsets: list[int]
    ends: list[int]  # records per partition
    vectors: int
    sample: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def model_key(self) -> str:
        return self.messages[0].embedder.to_identity().key


def make_data(n: int, dim: int, seed: int, run_id: str) -> Data:
    """N random unit vectors as ObjectsEmbedded of 3 (the last may hold fewer)."""
    rng = np.random.default_rng(seed)
    embedder = EmbedderRef(backend="bench", name="random-unit", version=run_id, dim=dim)
    partitioner = DefaultPartitioner()
    all_partitions = list(range(PARTITIONS))
    messages: list[ObjectsEmbedded] = []
    keys: list[bytes] = []
    parts: list[int] = []
    offsets: list[int] = []
    ends = [0] * PARTITIONS
    sample_every = max(1, n // SAMPLE)
    sample: dict[str, np.ndarray] = {}
    chunk = 30_000
    with progress() as bar:
        task = bar.add_task("generate", total=n)
        for start in range(0, n, chunk):
            block = rng.standard_normal((min(chunk, n - start), dim), dtype=np.float32)
            block /= np.linalg.norm(block, axis=1, keepdims=True)
            for i in range(0, len(block), PER_MESSAGE):
                first = start + i
                image = f"img-{first // PER_MESSAGE:08d}"
                rows = block[i : i + PER_MESSAGE]
                items = [
                    EmbeddedVector(
                        object_id=f"{image}-o{j}", modality="image", vector=Vector.from_numpy(row)
                    )
                    for j, row in enumerate(rows)
                ]
                for j, row in enumerate(rows):
                    if (first + j) % sample_every == 0:
                        sample[f"{image}-o{j}"] = row.copy()
                message = ObjectsEmbedded(
                    producer="bench.index", image_id=image,
                    image_uri=f"s3://bench-{run_id}/images/{image}.jpg",
                    embedder=embedder, vectors=items,
                )  # fmt: skip
                key = message_key(message)
                p = partitioner(key, all_partitions, all_partitions)
                messages.append(message)
                keys.append(key)
                parts.append(p)
                offsets.append(ends[p])
                ends[p] += 1
            bar.advance(task, len(block))
    return Data(messages, keys, parts, offsets, ends, n, sample)


def check(index: LogIndex, data: Data, what: str) -> None:
    """Size, positions and a sample of vectors, as the messages put them."""
    if len(index) != data.vectors:
        raise AssertionError(f"{what}: {len(index)} vectors, expected {data.vectors}")
    if index.positions != data.ends:
        raise AssertionError(f"{what}: positions {index.positions}, expected {data.ends}")
    shards = index.indexes.get(data.model_key, "image")
    assert shards is not None
    got = shards.vectors_of(sorted(data.sample))
    for oid, vector in data.sample.items():
        if oid not in got or not np.array_equal(got[oid], vector):
            raise AssertionError(f"{what}: vector of {oid} differs")


# --- apply-only, snapshot, restore (no Kafka) -------------------------------------------------


async def apply_only(data: Data, topic: str, tail: GenerationStore, tail_name: str) -> tuple[
    float, LogIndex
]:  # fmt: skip
    """Apply every message in topic order (timed); snapshot every partition at 99 % (not)."""
    index = LogIndex(topic, PARTITIONS, INDEX_TYPE)
    cut = len(data.messages) - max(1, round(len(data.messages) * TAIL_SHARE))
    spent: dict[str, float] = {}
    with progress() as bar:
        task = bar.add_task("apply-only", total=len(data.messages))
        for lo, hi in ((0, cut), (cut, len(data.messages))):
            for start in range(lo, hi, 2000):  # the follower's polls: up to 2,000 records
                stop = min(hi, start + 2000)
                records = [
                    (data.partitions[i], data.offsets[i], data.messages[i])
                    for i in range(start, stop)
                ]
                with stopwatch(spent, "apply"):
                    index.apply_many(records)
                bar.advance(task, stop - start)
            if hi == cut:
                for p in range(PARTITIONS):
                    await tail.save(tail_name, p, encode_partition(index, p))
    return spent["apply"], index


@dataclass
class SnapshotResult:
    encode_s: float = 0.0
    mb: float = 0.0
    write_s: dict[str, float] = field(default_factory=dict)
    read_s: dict[str, float] = field(default_factory=dict)
    restore_s: dict[str, float] = field(default_factory=dict)


async def snapshot(
    index: LogIndex, stores: dict[str, GenerationStore], name: str, result: SnapshotResult
) -> None:
    """Encode every partition once, then write it to each store (each timed on its own)."""
    spent: dict[str, float] = {}
    for p in range(PARTITIONS):
        with stopwatch(spent, "encode"):
            blob = encode_partition(index, p)
        result.mb += len(blob) / 1e6
        for label, store in stores.items():
            with stopwatch(result.write_s, label):
                await store.save(name, p, blob)
        del blob
    result.encode_s = spent["encode"]


async def restore(
    data: Data, topic: str, store: GenerationStore, name: str, label: str, result: SnapshotResult
) -> None:
    index = LogIndex(topic, PARTITIONS, INDEX_TYPE)
    try:
        for p in range(PARTITIONS):
            with stopwatch(result.read_s, label):
                blob = await store.load(name, p)
            assert blob is not None, f"no snapshot of p{p} in {label}"
            with stopwatch(result.restore_s, label):
                restore_partition(index, blob)
            del blob
        check(index, data, f"restore from {label}")
    finally:
        index.close()


def decode_rate(data: Data, count: int = 3000) -> float:
    """Records/s of `schemas.decode` alone (as the follower calls it), on a sample."""
    step = max(1, len(data.messages) // count)
    raw = [encode(m) for m in data.messages[::step]]
    start = time.perf_counter()
    for body in raw:
        decode(body, (ObjectsEmbedded,))
    return len(raw) / (time.perf_counter() - start)


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


async def produce(data: Data, bootstrap: str, topic: str) -> tuple[float, float, float]:
    """Seconds to produce every message (encode included), seconds of encode alone, MB sent."""
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
                    body = encode(message)
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


async def replay(data: Data, bootstrap: str, generation: Generation) -> float:
    """`start()` → `caught_up` of a follower without snapshots, from offset 0."""
    follower = LogFollower(generation, bootstrap, None, PARTITIONS)
    try:
        start = time.perf_counter()
        await follower.start()
        await wait_caught_up(follower, "replay from 0", len(data.messages))
        seconds = time.perf_counter() - start
        check(follower.index, data, "replay from 0")
        return seconds
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


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Results:
    n: int
    dim: int
    records: int
    generate_s: float = 0.0
    apply_s: float = 0.0
    snap: SnapshotResult = field(default_factory=SnapshotResult)
    produce_s: float = 0.0
    encode_s: float = 0.0
    produced_mb: float = 0.0
    decode_per_s: float = 0.0
    replay_s: float = 0.0
    tail_s: float = 0.0
    tail_restored: int = 0
    tail_records: int = 0
    rss_gib: float = 0.0


async def run(args: argparse.Namespace, bootstrap: str, work: Path) -> Results:
    from catalens.settings import Settings
    from infra.minio_events import minio_client

    run_id = uuid.uuid4().hex[:8]
    topic = f"bench.index.{run_id}"
    full, tail_gen = f"bench-index-{run_id}-full", Generation(f"bench-index-{run_id}-tail", topic)
    folder = GenerationStore(FolderObjectStore(work / "store"))
    res = Results(args.vectors, args.dim, -(-args.vectors // PER_MESSAGE))
    minio: MinioObjectStore | None = None
    made_bucket = False
    await create_topic(bootstrap, topic)
    try:
        start = time.perf_counter()
        data = make_data(args.vectors, args.dim, args.seed, run_id)
        res.generate_s = time.perf_counter() - start
        log.info("%d vectors in %d records; per partition %s", data.vectors, len(data.messages),
                 data.ends)  # fmt: skip
        res.decode_per_s = decode_rate(data)

        res.apply_s, index = await apply_only(data, topic, folder, tail_gen.name)
        check(index, data, "apply-only")
        log.info("apply-only: %.1f s", res.apply_s)
        stores = {"folder": folder}
        if not args.skip_minio:
            settings = Settings()
            made_bucket = not await asyncio.to_thread(
                minio_client(settings.minio).bucket_exists, BUCKET
            )
            minio = await open_minio_store(settings.minio, BUCKET)
            stores["minio"] = GenerationStore(minio)
        await snapshot(index, stores, full, res.snap)
        index.close()
        del index
        gc.collect()
        for label, store in stores.items():
            log.info("restore from %s", label)
            await restore(data, topic, store, full, label, res.snap)
            gc.collect()

        res.produce_s, res.encode_s, res.produced_mb = await produce(data, bootstrap, topic)
        log.info("produced in %.1f s", res.produce_s)
        res.replay_s = await replay(data, bootstrap, Generation(f"bench-{run_id}", topic))
        gc.collect()
        res.tail_s, res.tail_restored, res.tail_records = await restore_and_tail(
            data, bootstrap, tail_gen, folder
        )
        res.rss_gib = peak_rss_gib()
        return res
    finally:
        await delete_topic(bootstrap, topic)
        if minio is not None:
            for p in range(PARTITIONS):
                await minio.delete(partition_key(full, p))
            if made_bucket:
                await asyncio.to_thread(minio.client.remove_bucket, BUCKET)


def peak_rss_gib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def report(r: Results, info: dict[str, str], command: str, minio: bool) -> str:
    records = r.records
    replay_vps, replay_rps = r.n / r.replay_s, records / r.replay_s
    apply_vps = r.n / r.apply_s
    rows = [
        "| step | seconds | vectors/s | records/s | note |",
        "|---|---:|---:|---:|---|",
        f"| replay from offset 0 (LogFollower, Kafka) | {r.replay_s:.1f} | {replay_vps:,.0f} "
        f"| {replay_rps:,.0f} | baseline: × 1.00 |",
        f"| apply-only (LogIndex.apply_many, decoded, polls of 2,000, no Kafka) | {r.apply_s:.1f} "
        f"| {apply_vps:,.0f} | {records / r.apply_s:,.0f} "
        f"| × {r.replay_s / r.apply_s:.2f} faster than the replay |",
        f"| restore 99 % snapshot + replay 1 % tail (LogFollower restore + start, folder store) "
        f"| {r.tail_s:.1f} | – | – | × {r.replay_s / r.tail_s:.2f} faster than the replay "
        f"(snapshots cover {r.tail_restored:,} records, {r.tail_records:,} replayed) |",
        f"| produce ({r.produced_mb:,.0f} MB of JSON; encode alone {r.encode_s:.1f} s) "
        f"| {r.produce_s:.1f} | {r.n / r.produce_s:,.0f} | {records / r.produce_s:,.0f} "
        "| aiokafka, linger 20 ms, 1 MiB batches, acks=1 |",
    ]
    snap = [
        "| snapshot / restore (all 4 partitions) | seconds | MB/s | note |",
        "|---|---:|---:|---|",
        f"| encode_partition | {r.snap.encode_s:.2f} | {r.snap.mb / r.snap.encode_s:,.0f} "
        f"| {r.snap.mb:,.0f} MB of snapshots |",
    ]
    for label in ("folder", "minio") if minio else ("folder",):
        where = "folder store, local disk" if label == "folder" else "MinIO (real stack)"
        write, read, rest = r.snap.write_s[label], r.snap.read_s[label], r.snap.restore_s[label]
        snap += [
            f"| write, {where} | {write:.2f} | {r.snap.mb / write:,.0f} | |",
            f"| **snapshot total** (encode + write), {where} | **{r.snap.encode_s + write:.2f}** "
            f"| {r.snap.mb / (r.snap.encode_s + write):,.0f} | |",
            f"| read, {where} | {read:.2f} | {r.snap.mb / read:,.0f} | |",
            f"| restore_partition | {rest:.2f} | {r.snap.mb / rest:,.0f} | into a fresh LogIndex |",
            f"| **restore total** (read + restore), {where} | **{read + rest:.2f}** "
            f"| {r.snap.mb / (read + rest):,.0f} "
            f"| × {r.replay_s / (read + rest):.1f} faster than the replay from 0 |",
        ]
    fetch_s = max(0.0, r.replay_s - r.apply_s - records / r.decode_per_s)
    lines = [
        f"N = {r.n:,} random L2-normalised float32 vectors of dim {r.dim} in {records:,} "
        f"`ObjectsEmbedded` records of {PER_MESSAGE} vectors (JSON, base64 vectors), keyed by "
        f"image uri onto a fresh topic of {PARTITIONS} partitions; `LogIndex` {INDEX_TYPE}, one "
        "shard per partition. Every resulting index was checked: size, per-partition "
        f"positions and {SAMPLE} sampled vectors bit-equal to what was produced.",
        "",
        f"Command: `{command}`",
        "",
        *rows,
        "",
        *snap,
        "",
        f"- **Replay rate from Kafka**: {replay_vps:,.0f} vectors/s ({replay_rps:,.0f} "
        f"records/s) from offset 0 to `caught_up`; at that rate 1M vectors take "
        f"{1e6 / replay_vps:.0f} s.",
        f"- **Where the replay time goes** (estimate): `LogIndex.apply_many` {r.apply_s:.1f} s "
        f"(the apply-only row), `schemas.decode` ≈ {records / r.decode_per_s:.1f} s "
        f"({r.decode_per_s:,.0f} records/s measured on a sample), leaving ≈ {fetch_s:.1f} s "
        "for fetching and the follower's loop. The follower decodes and applies each poll in "
        "one thread while the next poll is fetched; decode and apply still run one after the "
        "other (both need the GIL for their Python parts).",
        f"- **What a snapshot buys**: restoring the 99 % snapshot and replaying the last 1 % "
        f"took {r.tail_s:.1f} s against {r.replay_s:.1f} s from offset 0 "
        f"(× {r.replay_s / r.tail_s:.1f}).",
        f"- Data generation (not timed above): {r.generate_s:.0f} s. Peak RSS of the bench "
        f"process: {r.rss_gib:.1f} GiB (messages, two indexes and snapshot buffers at once).",
        "",
        machine_markdown(info) + f" Load average (1 min) at the end: {os.getloadavg()[0]:.1f}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    info = machine()
    from catalens.settings import Settings
    from infra.shared import shared_stack

    with (  # outside the event loop: `up` runs its own
        tempfile.TemporaryDirectory(prefix="catalens-bench-index-") as tmp,
        shared_stack(Settings()) as endpoints,
    ):
        results = asyncio.run(run(args, endpoints.kafka_bootstrap, Path(tmp)))
    command = "python -m bench.index " + " ".join(sys.argv[1:] if argv is None else argv)
    body = report(results, info, command.strip(), not args.skip_minio)
    print(body)
    if not args.no_write:
        print("written to", write_section(SECTION, body))


if __name__ == "__main__":
    main()
