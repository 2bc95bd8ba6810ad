"""The index lifecycle on the real stack (Kafka, MinIO, Postgres): the indexer is killed with
SIGKILL at random points while vectors, re-puts and tombstones stream in; afterwards pgvector and
the FAISS view a replica serves (shard snapshots with offsets + the tail) hold exactly the live
objects, `index check` finds no drift, a replay from offset 0 gives the same index, and a
re-index to another index type switches the alias under query load without a failed query.

Vectors here are synthetic unit vectors of a test-only model key on a topic of this test's own:
the subject is the lifecycle, not the model."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import urllib.request
import uuid
from dataclasses import dataclass, field

import numpy as np
import pytest
from aiokafka import AIOKafkaProducer

from core.catalog.pg_server import free_port
from core.catalog.pg_store import PgStore
from core.index.generations import Generation, GenerationStore, open_generation_store
from core.index.index_jobs import build, check, reindex
from core.index.live_index import LiveIndex
from core.index.log_follower import LogFollower
from core.settings import Settings
from core.streaming.topics import ensure_topics
from core.wire import identity_of
from infra.stack import Endpoints
from schemas import (
    EmbeddedVector,
    EmbedderRef,
    ObjectsDeleted,
    ObjectsEmbedded,
    Vector,
    encode,
    partition_key,
)
from tests.integration.stream_kit import _until, _value, stack_settings
from tests.integration.test_exactly_once import _indexer

pytest_plugins = ["tests.integration.infra_fixtures"]
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
__all__ = ["stack_settings"]

DIM = 16


@dataclass
class Feed:
    """Publishes a random stream of puts, re-puts and deletes, and knows what must be live."""

    topic: str
    ref: EmbedderRef
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    live: dict[str, np.ndarray] = field(default_factory=dict)
    of_image: dict[str, set[str]] = field(default_factory=dict)
    sent: int = 0

    def vector(self) -> np.ndarray:
        v = np.array([self.rng.gauss(0, 1) for _ in range(DIM)], dtype=np.float32)
        return v / np.linalg.norm(v)

    def next_events(self, i: int) -> list[ObjectsEmbedded | ObjectsDeleted]:
        image, uri = f"img{i:04d}", f"s3://lifecycle/img{i:04d}.jpg"
        objects = {f"{image}-o{j}": self.vector() for j in range(3)}
        events: list[ObjectsEmbedded | ObjectsDeleted] = [self.put(image, uri, objects)]
        roll, earlier = self.rng.random(), f"img{self.rng.randrange(i + 1):04d}"
        if roll < 0.1 and earlier in self.of_image:  # a bucket delete: the uri, and its objects
            gone = sorted(self.of_image.pop(earlier))
            uri = f"s3://lifecycle/{earlier}.jpg"
            events.append(ObjectsDeleted(producer="t", image_uri=uri, object_ids=gone))
            for oid in gone:
                self.live.pop(oid, None)
        elif roll < 0.2 and earlier in self.of_image:  # a re-embed of one object
            oid = sorted(self.of_image[earlier])[0]
            events.append(self.put(earlier, f"s3://lifecycle/{earlier}.jpg", {oid: self.vector()}))
        return events

    def put(self, image: str, uri: str, objects: dict[str, np.ndarray]) -> ObjectsEmbedded:
        self.live.update(objects)
        self.of_image.setdefault(image, set()).update(objects)
        vectors = [
            EmbeddedVector(object_id=oid, modality="image", vector=Vector.from_numpy(v))
            for oid, v in objects.items()
        ]
        return ObjectsEmbedded(
            producer="t", image_id=image, image_uri=uri, embedder=self.ref, vectors=vectors
        )

    async def publish(
        self, producer: AIOKafkaProducer, stop: asyncio.Event, pause_s: float, at_least: int
    ) -> None:
        """Until `stop` is set (and at least `at_least` images went out)."""
        i = 0
        while i < at_least or not stop.is_set():
            i += 1
            for event in self.next_events(i):
                await producer.send_and_wait(self.topic, encode(event), key=partition_key(event))
                self.sent += 1
            await asyncio.sleep(pause_s)


async def test_killed_indexers_leave_exactly_the_live_objects_and_replay_and_reindex_agree(
    real_stack: Endpoints, stack_settings: Settings
) -> None:
    settings = stack_settings
    tag = uuid.uuid4().hex[:8]
    settings.streaming.embedded_topic = f"objects.embedded.t{tag}"
    settings.streaming.auto_offset_reset = "earliest"
    await ensure_topics(real_stack.kafka_bootstrap, settings.streaming)
    ref = EmbedderRef(backend="test", name=f"lifecycle-{tag}", version="1", dim=DIM)
    feed = Feed(settings.streaming.embedded_topic, ref)
    env = {
        "CATALENS_STREAMING__EMBEDDED_TOPIC": settings.streaming.embedded_topic,
        "CATALENS_INDEX__ALIAS": settings.index.alias,
        "CATALENS_INDEX__SNAPSHOT_EVERY_S": "1",
    }
    store = await open_generation_store(settings)
    generation = await store.live()
    producer = AIOKafkaProducer(bootstrap_servers=real_stack.kafka_bootstrap, acks="all")
    await producer.start()
    pg = await PgStore.connect(settings.postgres.dsn.get_secret_value())  # type: ignore[union-attr]
    rng = random.Random(11)
    try:
        stop = asyncio.Event()
        publishing = asyncio.create_task(feed.publish(producer, stop, 0.05, at_least=100))
        key = identity_of(ref).key

        async def vector_rows() -> int:
            return len((await pg.vectors(key, "image"))[0])

        for _ in range(5):  # kill -9 at a random point while the feed runs
            with _indexer(settings, env) as indexer:
                before = await vector_rows()
                await _until(vector_rows, at_least=before + 1, timeout_s=120)  # it is indexing
                await asyncio.sleep(rng.uniform(0.2, 3.0))
                indexer.send_signal(signal.SIGKILL)
                assert indexer.wait(30) == -signal.SIGKILL
        stop.set()
        await publishing
        assert sum(await _snapshot_positions(store, generation)) > 0, "no snapshot was written"
        port = free_port()
        with _indexer(settings, {**env, "CATALENS_STREAMING__METRICS_PORT": str(port)}):

            async def rows() -> int:
                ids, _ = await pg.vectors(key, "image")
                return len(ids) if set(ids) == set(feed.live) else -1

            await _until(rows, len(feed.live), timeout_s=180)

            async def vectors_on_metrics() -> int:  # up, restored and caught up
                try:
                    scraped = await asyncio.to_thread(_scrape, port)
                except OSError:
                    return -1
                return int(scraped.get("catalens_indexer_index_vectors", -1))

            await _until(vectors_on_metrics, len(feed.live), timeout_s=120)
            await asyncio.sleep(2)  # the indexer's next snapshot
            metrics = await asyncio.to_thread(_scrape, port)
            assert metrics["catalens_indexer_index_behind_records"] == 0
            assert metrics["catalens_indexer_index_snapshot_age_seconds"] < 5
        drifts = await check(store, real_stack.kafka_bootstrap, pg)
        assert [d.index for d in drifts] == [f"{key}:image"]
        assert drifts[0].clean, drifts[0]
        assert drifts[0].in_log == drifts[0].in_faiss == drifts[0].in_pg == len(feed.live)
        cli = await asyncio.to_thread(_catalens, settings, env, "index", "check")
        assert cli.returncode == 0 and "no drift" in cli.stdout, cli.stdout + cli.stderr

        served = await _served(generation, store, real_stack.kafka_bootstrap)
        assert sum(served.restored_positions) > 0  # it started from snapshots, not offset 0
        _assert_vectors(served.index.live()[f"{key}:image"], feed.live)
        replayed_gen = Generation(f"{generation.name}-replay-{tag}", generation.topic)
        await build(replayed_gen, real_stack.kafka_bootstrap, store)  # from offset 0
        replayed = await _served(replayed_gen, store, real_stack.kafka_bootstrap)
        assert replayed.index.positions == served.index.positions
        _assert_vectors(replayed.index.live()[f"{key}:image"], served.index.live()[f"{key}:image"])
        cli = await asyncio.to_thread(_catalens, settings, env, "replay", "--from-zero")
        assert cli.returncode == 0, cli.stdout + cli.stderr
        assert f"{len(feed.live)} vectors" in cli.stdout
        assert f"snapshots at offsets {served.index.positions}" in cli.stdout
        for follower in (served, replayed):
            await follower.stop()
            follower.index.close()

        await _reindex_under_query_load(store, real_stack.kafka_bootstrap, key, feed)
        cli = await asyncio.to_thread(
            _catalens, settings, env, "reindex", "--index-type", "IVF-SQ8", "--drop-after", "0"
        )
        assert cli.returncode == 0, cli.stdout + cli.stderr
        now = await store.live()
        assert (
            now.index_type == "IVF-SQ8" and f"→ {now.name} ({len(feed.live)} vectors)" in cli.stdout
        )
    finally:
        await producer.stop()
        await pg.close()


async def _reindex_under_query_load(
    store: GenerationStore, bootstrap: str, key: str, feed: Feed
) -> None:
    """A replica serves while `reindex` builds HNSW and moves the alias: every query answers."""
    live = LiveIndex(bootstrap, store, alias_poll_s=0.2, grace_s=1.0)
    serving = [await live.start()]

    async def switch(follower: LogFollower) -> None:
        serving[0] = follower

    live.on_switch = switch
    answered, failed, types = 0, 0, set()
    queries = np.stack(list(feed.live.values())[:20])

    async def query_load() -> None:
        nonlocal answered, failed
        while True:
            follower = serving[0]
            try:
                index = follower.index.indexes.get(key, "image")
                assert index is not None
                hits = await asyncio.to_thread(index.search, queries, 5)
                assert all(len(row) == 5 for row in hits)
                answered += 1
                types.add(follower.generation.index_type)
            except Exception:
                failed += 1
            await asyncio.sleep(0.01)

    load = asyncio.create_task(query_load())
    try:
        old, new, stats = await reindex(store, bootstrap, "HNSW", drop_after_s=2.0)
        await _until(lambda: _value(live.switches), 1, timeout_s=60)
        await asyncio.sleep(0.5)
    finally:
        load.cancel()
        await asyncio.gather(load, return_exceptions=True)
        await live.stop()
    assert (await store.live()).name == new.name and new.index_type == "HNSW"
    assert stats.vectors == len(feed.live)
    assert failed == 0 and answered > 20 and types == {"Auto", "HNSW"}
    assert await store.load(old.name, 0) is None  # the old generation is dropped


def _catalens(
    settings: Settings, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """`catalens <args>` as users run it, against this test's topic, alias and database."""
    dsn = settings.postgres.dsn.get_secret_value()  # type: ignore[union-attr]
    full_env = {
        **os.environ,
        **env,
        "CATALENS_POSTGRES__DSN": dsn,
        "CATALENS_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
    }
    command = [sys.executable, "-m", "catalens.cli.main", *args]
    return subprocess.run(command, env=full_env, capture_output=True, text=True, timeout=300)


def _scrape(port: int) -> dict[str, float]:
    """The indexer's /metrics, unlabelled samples by name."""
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
    return {
        name: float(value)
        for name, _, value in (line.partition(" ") for line in body.decode().splitlines())
        if name and not name.startswith("#") and "{" not in name
    }


async def _snapshot_positions(store: GenerationStore, generation: Generation) -> list[int]:
    from core.index.partition_snapshot import read_header

    positions = []
    for p in range(4):
        data = await store.load(generation.name, p)
        positions.append(0 if data is None else read_header(data)[0]["position"])
    return positions


async def _served(generation: Generation, store: GenerationStore, bootstrap: str) -> LogFollower:
    """What a replica starting now would serve: snapshots + tail, to the topic's end."""
    from core.index.log_follower import open_follower

    follower = await open_follower(generation, bootstrap, store)
    await follower.caught_up.wait()
    return follower


def _assert_vectors(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert sorted(got) == sorted(want)
    worst = max((float(np.abs(got[k] - want[k]).max()) for k in want), default=0.0)
    assert worst < 1e-6
