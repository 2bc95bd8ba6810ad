"""Jobs over the log: build a generation (replay), switch the alias (reindex), find drift (check).

- `build`: replay a generation's topic (from offset 0, or from its snapshots) up to the end the
  topic had when the job started, then snapshot every partition with its offset.
- `reindex`: build a new generation beside the serving one, switch the alias (one object put:
  replicas move over once their copy caught up), drop the old generation's snapshots after a
  grace period. Queries never wait: the old generation serves until the switch.
- `check`: at one cut of the log, compare what the log says is live (replayed from offset 0,
  exact Flat) with the FAISS view a replica would serve (snapshots + tail) and with pgvector.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from core.catalog.pg_store import PgStore
from core.index.faiss_params import FaissParams
from core.index.generations import Generation, GenerationStore
from core.index.log_follower import LogFollower, topic_partitions

Progress = Callable[[int, int], None]  # (records done, records in all)


@dataclass
class BuildStats:
    generation: str
    records: int
    vectors: int
    seconds: float
    positions: list[int]


async def _replay(
    generation: Generation,
    bootstrap_servers: str,
    store: GenerationStore | None,
    restore: bool,
    progress: Progress | None,
    params: FaissParams | None = None,
) -> LogFollower:
    """A follower caught up with the topic's end as of now (the caller stops it)."""
    partitions = await topic_partitions(bootstrap_servers, generation.topic)
    follower = LogFollower(
        generation,
        bootstrap_servers,
        store,
        partitions,
        params,
        write_snapshots=True,
        snapshot_every_s=float("inf"),
        stop_at_end=True,  # the topic's end at start: the cut
    )
    if restore:
        await follower.restore()
    await follower.start()
    total = follower.lag()
    if progress is not None:
        follower.on_progress = lambda f: progress(total - f.lag(), total)
        progress(0, total)
    await follower.caught_up.wait()
    return follower


async def build(
    generation: Generation,
    bootstrap_servers: str,
    store: GenerationStore,
    restore: bool = False,
    progress: Progress | None = None,
) -> BuildStats:
    started = time.perf_counter()
    follower = await _replay(generation, bootstrap_servers, store, restore, progress)
    try:
        follower.force_snapshot()
        await follower.snapshot()
        return BuildStats(
            generation.name,
            follower.index.applied,
            len(follower.index),
            time.perf_counter() - started,
            list(follower.index.positions),
        )
    finally:
        await follower.stop()
        follower.index.close()


async def reindex(
    store: GenerationStore,
    bootstrap_servers: str,
    index_type: str,
    drop_after_s: float = 30.0,
    progress: Progress | None = None,
    topic: str | None = None,
    embedder: dict[str, str] | None = None,
) -> tuple[Generation, Generation, BuildStats]:
    """Build `index_type` from `topic` (default: the serving generation's; a new model's own
    topic, with that model's `embedder` settings), switch the alias, drop the old one."""
    old = await store.live()
    if topic is None:
        new = Generation.new(old.topic, index_type, old.embedder)
    else:
        new = Generation.new(topic, index_type, embedder)
    stats = await build(new, bootstrap_servers, store, progress=progress)
    await store.switch(new)
    if drop_after_s >= 0:
        await asyncio.sleep(drop_after_s)  # replicas poll the alias and build the new copy
        await store.drop(old.name, len(stats.positions))
    return old, new, stats


@dataclass
class Drift:
    index: str
    in_log: int
    in_faiss: int
    in_pg: int
    missing: dict[str, list[str]] = field(default_factory=dict)  # where → ids the log has
    extra: dict[str, list[str]] = field(default_factory=dict)  # where → ids the log has not
    stale: dict[str, list[str]] = field(default_factory=dict)  # where → ids with old vectors

    @property
    def clean(self) -> bool:
        return not any([*self.missing.values(), *self.extra.values(), *self.stale.values()])


def compare(
    name: str,
    truth: dict[str, np.ndarray],
    views: dict[str, dict[str, np.ndarray]],
    tolerance: float,
) -> Drift:
    drift = Drift(name, len(truth), len(views.get("faiss", {})), len(views.get("pg", {})))
    for where, view in views.items():
        drift.missing[where] = sorted(set(truth) - set(view))
        drift.extra[where] = sorted(set(view) - set(truth))
        drift.stale[where] = sorted(
            oid
            for oid in set(truth) & set(view)
            if float(np.abs(truth[oid] - view[oid]).max()) > tolerance
        )
    return drift


async def check(
    store: GenerationStore,
    bootstrap_servers: str,
    pg: PgStore,
    progress: Progress | None = None,
) -> list[Drift]:
    """Drift per index (model:modality) of the serving generation; clean when all agree."""
    generation = await store.live()
    exact = Generation(f"{generation.name}-check", generation.topic, "Flat")
    truth_follower = await _replay(exact, bootstrap_servers, None, False, progress)
    cut = list(truth_follower.index.positions)
    served = LogFollower(
        generation, bootstrap_servers, store, len(cut), until=truth_follower.end_offsets
    )
    try:
        await served.restore()
        await served.start()
        await served.caught_up.wait()
        truth, faiss_view = truth_follower.index.live(), served.index.live()
        tolerance = 0.05 if generation.index_type in ("IVF-SQ8", "Auto") else 1e-5  # 8-bit codes
        drifts = []
        for name in sorted(set(truth) | set(faiss_view)):
            model_key, modality = name.rsplit(":", 1)
            ids, vectors = await pg.vectors(model_key, modality)  # type: ignore[arg-type]
            pg_view = dict(zip(ids, vectors, strict=True))
            views = {"faiss": faiss_view.get(name, {}), "pg": pg_view}
            drifts.append(compare(name, truth.get(name, {}), views, tolerance))
        return drifts
    finally:
        for follower in (truth_follower, served):
            await follower.stop()
            follower.index.close()
