"""Index lifecycle at scale: snapshot, restore and Kafka replay of a `LogIndex`.

Run from the repository root: `python -m bench.index` (see `--help`). Needs the real stack's
Kafka and MinIO (`catalens infra up`; taken through `infra.shared.shared_stack`, so whatever it
starts is stopped again when no one else holds it). N random L2-normalised float32 vectors
(`--dim`) travel as `ObjectsEmbedded` events of 3 vectors each, keyed by the image's uri
(`schemas.partition_key`) onto a fresh topic of 4 partitions; the index is Flat, one shard per
partition. Steps, in this order:

* apply-only (a baseline): `LogIndex.apply_many` on the records as the follower applies them
  (views that `read_embedded` made of vector frames beforehand) in polls of 2,000 records, no
  Kafka; at 99 % of the records every partition is snapshotted into a local folder store (not
  timed) for the tail step below;
* snapshot: `encode_partition` of every partition at 100 %, each written to a folder store on
  local disk and to a MinIO bucket of this run;
* restore: read every partition back and `restore_partition` it into a fresh `LogIndex`, from
  each store;
* produce: the messages as JSON records (`schemas.encode`) onto one topic and as vector frames
  (`schemas.frames.encode_frame`) onto another, with an aiokafka producer (linger, 1 MiB
  batches);
* replay from offset 0: a `LogFollower` without snapshots, from `start()` until `caught_up`:
  first over the JSON topic with the reader of before vector frames (`decode_embedded`, a
  model per record: the baseline), then today's follower over the JSON topic (a topic written
  before frames) and over the frames topic;
* restore + tail: a `LogFollower` over the 99 % snapshots (`restore()`, then `start()`: replay
  the last 1 % of the frames topic) until `caught_up`, as `open_follower` does: what a
  snapshot saves against replaying everything.

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
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console

from bench.common import machine, write_section
from bench.index_data import (
    Data,
    check,
    decode_rates,
    make_data,
    progress,
    stopwatch,
    views_of,
)
from bench.index_kafka import create_topic, delete_topic, produce, replay, restore_and_tail
from bench.index_report import (
    INDEX_TYPE,
    PARTITIONS,
    PER_MESSAGE,
    Results,
    SnapshotResult,
    peak_rss_gib,
    report,
)
from core.index.generations import Generation, GenerationStore
from core.index.log_follower import collections_paused
from core.index.log_index import LogIndex
from core.index.partition_snapshot import encode_partition, partition_key, restore_partition
from core.storage.folder_store import FolderObjectStore
from core.storage.minio_store import MinioObjectStore, open_minio_store

SECTION = "Index lifecycle: snapshot, restore, replay (bench/index.py)"
TAIL_SHARE = 0.01
BUCKET = "catalens-bench-index"
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


# --- apply-only, snapshot, restore (no Kafka) -------------------------------------------------


async def apply_only(
    data: Data, topic: str, tail: GenerationStore, tail_name: str
) -> tuple[float, LogIndex]:
    """Apply every message in topic order (timed); snapshot every partition at 99 % (not)."""
    index = LogIndex(topic, PARTITIONS, INDEX_TYPE)
    views = views_of(data)
    cut = len(data.messages) - max(1, round(len(data.messages) * TAIL_SHARE))
    spent: dict[str, float] = {}
    with progress() as bar:
        task = bar.add_task("apply-only", total=len(data.messages))
        for lo, hi in ((0, cut), (cut, len(data.messages))):
            for start in range(lo, hi, 2000):  # the follower's polls: up to 2,000 records
                stop = min(hi, start + 2000)
                records = [
                    (data.partitions[i], data.offsets[i], views[i]) for i in range(start, stop)
                ]
                with stopwatch(spent, "apply"), collections_paused():  # as the follower
                    index.apply_many(records)
                bar.advance(task, stop - start)
            if hi == cut:
                for p in range(PARTITIONS):
                    await tail.save(tail_name, p, encode_partition(index, p))
    return spent["apply"], index


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


# --- the run ----------------------------------------------------------------------------------


async def run(args: argparse.Namespace, bootstrap: str, work: Path) -> Results:
    from core.settings import Settings
    from infra.minio_events import minio_client

    run_id = uuid.uuid4().hex[:8]
    topic, json_topic = f"bench.index.{run_id}", f"bench.index.{run_id}.json"  # frames, JSON
    full, tail_gen = f"bench-index-{run_id}-full", Generation(f"bench-index-{run_id}-tail", topic)
    folder = GenerationStore(FolderObjectStore(work / "store"))
    res = Results(args.vectors, args.dim, -(-args.vectors // PER_MESSAGE))
    minio: MinioObjectStore | None = None
    made_bucket = False
    await create_topic(bootstrap, topic)
    await create_topic(bootstrap, json_topic)
    try:
        start = time.perf_counter()
        data = make_data(args.vectors, args.dim, args.seed, run_id)
        res.generate_s = time.perf_counter() - start
        gc.collect()
        gc.freeze()  # the run's own messages are no follower's: out of the collector's scans
        log.info(
            "%d vectors in %d records; per partition %s",
            data.vectors,
            len(data.messages),
            data.ends,
        )
        res.decode_rates = decode_rates(data)

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

        res.produce_json = await produce(data, bootstrap, json_topic)
        res.produce_frames = await produce(data, bootstrap, topic, frames=True)
        log.info(
            "produced in %.1f s (JSON), %.1f s (frames)", res.produce_json[0], res.produce_frames[0]
        )
        for label, on, today in (
            ("today", json_topic, True),
            ("json", json_topic, False),
            ("frames", topic, False),
        ):
            generation = Generation(f"bench-{run_id}-{label}", on)
            res.replay_s[label], res.replay_cpu_s[label] = await replay(
                data, bootstrap, generation, today=today
            )
            log.info("replay (%s): %.1f s", label, res.replay_s[label])
            gc.collect()
        res.tail_s, res.tail_restored, res.tail_records = await restore_and_tail(
            data, bootstrap, tail_gen, folder
        )
        res.rss_gib = peak_rss_gib()
        return res
    finally:
        await delete_topic(bootstrap, topic)
        await delete_topic(bootstrap, json_topic)
        if minio is not None:
            for p in range(PARTITIONS):
                await minio.delete(partition_key(full, p))
            if made_bucket:
                await asyncio.to_thread(minio.client.remove_bucket, BUCKET)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    info = machine()
    from core.settings import Settings
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
