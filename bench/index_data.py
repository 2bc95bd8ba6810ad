"""bench/index.py's data: random vectors as ObjectsEmbedded, checks, progress bars."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
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

from bench.index_report import (
    PARTITIONS,
    PER_MESSAGE,
    SAMPLE,
)
from core.index.log_index import LogIndex
from core.wire import identity_of
from schemas import EmbeddedVector, EmbedderRef, ObjectsEmbedded, Vector, encode
from schemas import partition_key as message_key
from schemas.embedded_reader import decode_embedded
from schemas.embedded_view import EmbeddedView
from schemas.frames import encode_frame
from schemas.view_reader import read_embedded

log = logging.getLogger("bench.index")
console = Console(stderr=True)


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


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
        return identity_of(self.messages[0].embedder).key


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
                    producer="bench.index",
                    image_id=image,
                    image_uri=f"s3://bench-{run_id}/images/{image}.jpg",
                    embedder=embedder,
                    vectors=items,
                )
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


def decode_rates(data: Data, count: int = 6000) -> dict[str, float]:
    """Records/s of each reader in polls of 2,000 (as the follower calls them), on the same
    sample, best of three each: `decode_embedded` on JSON (today's), `read_embedded` on JSON
    and on vector frames."""
    step = max(1, len(data.messages) // count)
    sample = data.messages[::step]
    inputs = {
        "today": (decode_embedded, [encode(m) for m in sample]),
        "json": (read_embedded, [encode(m) for m in sample]),
        "frames": (read_embedded, [encode_frame(m) for m in sample]),
    }
    rates: dict[str, float] = {}
    for name, (reader, raw) in inputs.items():
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for lo in range(0, len(raw), 2000):
                assert None not in reader(raw[lo : lo + 2000])
            best = min(best, time.perf_counter() - start)
        rates[name] = len(raw) / best
    return rates


def views_of(data: Data) -> list[EmbeddedView]:
    """Every message as the follower applies it from a vector frame (`read_embedded`)."""
    views: list[EmbeddedView] = []
    for lo in range(0, len(data.messages), 2000):
        read = read_embedded([encode_frame(m) for m in data.messages[lo : lo + 2000]])
        views += [v for v in read if v is not None]
    assert len(views) == len(data.messages)
    return views
