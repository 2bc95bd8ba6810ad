"""The results of `bench/index.py` and the docs/benchmarks.md section they become."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from bench.common import machine_markdown

PARTITIONS = 4
PER_MESSAGE = 3
INDEX_TYPE = "Flat"
SAMPLE = 200  # vectors compared in every resulting index


@dataclass
class SnapshotResult:
    encode_s: float = 0.0
    mb: float = 0.0
    write_s: dict[str, float] = field(default_factory=dict)
    read_s: dict[str, float] = field(default_factory=dict)
    restore_s: dict[str, float] = field(default_factory=dict)


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
    fast_decode_per_s: float = 0.0
    replay_s: float = 0.0
    replay_each_s: float = 0.0
    tail_s: float = 0.0
    tail_restored: int = 0
    tail_records: int = 0
    rss_gib: float = 0.0


def peak_rss_gib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def report(r: Results, info: dict[str, str], command: str, minio: bool) -> str:
    records = r.records
    replay_vps, replay_rps = r.n / r.replay_s, records / r.replay_s
    apply_vps = r.n / r.apply_s
    each_vps = r.n / r.replay_each_s
    rows = [
        "| step | seconds | vectors/s | records/s | note |",
        "|---|---:|---:|---:|---|",
        f"| replay from offset 0, each record through `schemas.decode` (the follower's "
        f"previous read) | {r.replay_each_s:.1f} | {each_vps:,.0f} "
        f"| {records / r.replay_each_s:,.0f} | baseline: × 1.00 |",
        f"| **replay from offset 0** (LogFollower, Kafka: `decode_embedded` per poll) "
        f"| {r.replay_s:.1f} | **{replay_vps:,.0f}** | {replay_rps:,.0f} "
        f"| × {r.replay_each_s / r.replay_s:.2f} |",
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
    fast_s = records / r.fast_decode_per_s
    fetch_s = max(0.0, r.replay_s - r.apply_s - fast_s)
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
        f"records/s) from offset 0 to `caught_up`, × {r.replay_each_s / r.replay_s:.2f} the "
        f"follower reading each record with `schemas.decode` in the same run "
        f"({each_vps:,.0f} vectors/s); at that rate 1M vectors take {1e6 / replay_vps:.0f} s. "
        "Both rows use today's `LogIndex.apply_many` and poll size, so the baseline row "
        "isolates the decode.",
        f"- **Where the replay time goes** (estimate): `LogIndex.apply_many` {r.apply_s:.1f} s "
        f"(the apply-only row), `decode_embedded` ≈ {fast_s:.1f} s "
        f"({r.fast_decode_per_s:,.0f} records/s on a sample, polls of 2,000; `schemas.decode` "
        f"one at a time: {r.decode_per_s:,.0f} records/s, "
        f"≈ {records / r.decode_per_s:.1f} s), leaving ≈ {fetch_s:.1f} s for fetching and the "
        "follower's loop. The follower decodes and applies each poll (up to 8,000 records) in "
        "one thread, cyclic GC paused, while the next poll is fetched; fetch, decode and apply "
        "still share the GIL, and the broker shares the 2 cores.",
        f"- **What a snapshot buys**: restoring the 99 % snapshot and replaying the last 1 % "
        f"took {r.tail_s:.1f} s against {r.replay_s:.1f} s from offset 0 "
        f"(× {r.replay_s / r.tail_s:.1f}).",
        f"- Data generation (not timed above): {r.generate_s:.0f} s; the generated messages are "
        "then frozen out of the cyclic GC (`gc.freeze`: a follower process holds none of "
        f"them). Peak RSS of the bench process: {r.rss_gib:.1f} GiB (messages, two indexes "
        "and snapshot buffers at once).",
        "",
        machine_markdown(info) + f" Load average (1 min) at the end: {os.getloadavg()[0]:.1f}.",
    ]
    return "\n".join(lines)
