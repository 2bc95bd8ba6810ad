"""Side-by-side query bench against peer vector-search systems (`python -m bench.query --peers`).

Every system is driven through the same small `Peer` interface (bench/peers_faiss.py,
bench/peers_libs.py): build over the data, search one query or a batch at a given setting of its
search knob (ef, nprobe + k-factor, leaves + reorder, ...), insert new vectors. For each one the
bench

1. builds it (build s; memory = RSS growth of this process over the build unless the system
   reports its own size),
2. sweeps its knob in order of increasing cost, scoring recall@10 of each setting with a batch
   search and timing `CURVE_QUERIES` single queries (the recall/latency curve of the plots),
   stopping once recall passes `STOP_RECALL`,
3. takes the fastest setting reaching recall@10 ≥ 0.95 and the fastest reaching 0.99 (or, if
   none does, the best it reached) and times all queries one at a time in several rounds
   (p50/p99; `peers_report.run_peers` alternates the rounds of all systems) and in one batch
   call (QPS),
4. inserts 1,000 new vectors and searches for them until they come back (freshness).
"""

from __future__ import annotations

import gc
import logging
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from bench.peers_fresh import freshness
from bench.query_data import percentiles_ms, recall_at_k, rss_bytes

log = logging.getLogger("bench.query")

K, WARMUP = 10, 20
TARGETS = (0.95, 0.99)
STOP_RECALL = 0.995  # the sweep stops past this: costlier settings only add latency
STOP_MS = 250.0  # ... or once a single query takes this long on average
CURVE_QUERIES = 200  # single queries timed per sweep point (the curve and the picks: 50 let
# noise of ±0.01 ms choose between settings of catalens and raw FAISS at 1M)
TEN_MILLION = 10_000_000


class Peer(Protocol):
    """One vector-search system under the bench. Ids are row numbers of the data (new vectors
    continue after the last row). `search` is the system's own query call, the one that is
    timed, and returns what the system returns; `rows` turns that into an (queries, K) int64
    array of row numbers, -1 for no hit (untimed: parsing our bench's id strings back into
    row numbers is not the system's work)."""

    system: str  # "hnswlib"
    index: str  # what was built, e.g. "HNSW M16 efC100"
    knob: str  # what `settings` vary, e.g. "ef"

    @property
    def settings(self) -> Sequence[Any]:  # in order of increasing cost
        ...

    own_memory: bool  # memory_mb() is the system's own size (else RSS growth is used)

    def build(self, data: np.ndarray) -> None: ...
    def search(self, queries: np.ndarray, setting: Any, batch: bool) -> Any: ...
    def rows(self, found: Any) -> np.ndarray: ...
    def add(self, vectors: np.ndarray, first_id: int) -> None: ...
    def memory_mb(self) -> float | None: ...
    def close(self) -> None: ...


class RssPeer:
    """Defaults of a peer: its search already returns row numbers, its memory is this process's
    RSS growth (unless it sets `own_memory`) and its index goes with the adapter object."""

    own_memory = False

    def rows(self, found: Any) -> np.ndarray:
        """A search that already returns row numbers."""
        return np.asarray(found, dtype=np.int64)

    def memory_mb(self) -> float | None:
        return None

    def close(self) -> None:
        return None


@dataclass
class Point:
    """One sweep setting: its recall@10 and the mean latency of `CURVE_QUERIES` single queries."""

    setting: Any
    recall: float
    mean_ms: float


@dataclass
class PeerRow:
    system: str
    index: str
    n: int
    setting: str = ""
    target: str = ""  # "≥ 0.95", "~0.99", "default" ...
    recall: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    qps: float | None = None
    build_s: float | None = None
    memory_mb: float | None = None
    fresh_s: float | None = None
    note: str = ""

    @property
    def ten_million_gib(self) -> float | None:
        return projected_gib(self.memory_mb, self.n)


@dataclass
class PeerResult:
    """All rows of one system at one size, and its sweep (for the plots)."""

    system: str
    n: int
    rows: list[PeerRow] = field(default_factory=list)
    curve: list[Point] = field(default_factory=list)


def projected_gib(memory_mb: float | None, n: int, target: int = TEN_MILLION) -> float | None:
    """Memory at `target` vectors, scaling the bytes per vector measured at `n`."""
    if memory_mb is None or n <= 0:
        return None
    return memory_mb * 2**20 / n * target / 2**30


def pick(points: Sequence[Point], target: float) -> Point | None:
    """The fastest sweep point (mean single-query ms) reaching `target` recall, else None: on a
    two-knob grid the first point in sweep order need not be the cheapest."""
    reached = [p for p in points if p.recall >= target]
    return min(reached, key=lambda p: p.mean_ms) if reached else None


def best(points: Sequence[Point]) -> Point | None:
    """The highest-recall point (the cheapest among equals)."""
    top = max((p.recall for p in points), default=None)
    return None if top is None else next(p for p in points if p.recall == top)


def hits(found: np.ndarray) -> list[list[int]]:
    return [[int(i) for i in row if i >= 0] for row in found]


def found_rows(peer: Peer, queries: np.ndarray, setting: Any, batch: bool) -> np.ndarray:
    """(queries, K) row numbers of one search (see `Peer`)."""
    return peer.rows(peer.search(queries, setting, batch))


def sweep(peer: Peer, queries: np.ndarray, truth: np.ndarray) -> list[Point]:
    points: list[Point] = []
    for setting in peer.settings:
        recall = recall_at_k(hits(found_rows(peer, queries, setting, batch=True)), truth)
        times = single_times(peer, queries[:CURVE_QUERIES], setting, warmup=5)
        points.append(Point(setting, recall, 1000 * statistics.fmean(times)))
        log.info(
            "  %s %s=%s: recall %.3f, %.2f ms",
            peer.system,
            peer.knob,
            setting,
            recall,
            points[-1].mean_ms,
        )
        if recall >= STOP_RECALL or points[-1].mean_ms > STOP_MS:
            break
    return points


def single_times(
    peer: Peer, queries: np.ndarray, setting: Any, warmup: int = WARMUP
) -> list[float]:
    for q in queries[:warmup]:
        peer.search(q[None, :], setting, batch=False)
    times = []
    for q in queries:
        start = time.perf_counter()
        peer.search(q[None, :], setting, batch=False)
        times.append(time.perf_counter() - start)
    return times


def batch_qps(peer: Peer, queries: np.ndarray, setting: Any, repeats: int = 3) -> float:
    """Queries/s of one call with all queries (median of `repeats` after one warm-up call)."""
    peer.search(queries, setting, batch=True)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        peer.search(queries, setting, batch=True)
        times.append(time.perf_counter() - start)
    return len(queries) / statistics.median(times)


@dataclass
class Prepared:
    """A built and swept system waiting for its timing rounds: the settings picked from its
    sweep (label, point) and the single-query times gathered for each so far (seconds)."""

    peer: Peer
    result: PeerResult
    chosen: list[tuple[str, Point]]
    build_s: float
    memory: float | None
    times: list[list[float]] = field(default_factory=list)


def prepare_peer(peer: Peer, data: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> Prepared:
    """Build `peer` over `data`, sweep its knob and pick the settings to time."""
    n = len(data)
    result = PeerResult(peer.system, n)
    gc.collect()
    before = rss_bytes()
    start = time.perf_counter()
    peer.build(data)
    build_s = getattr(peer, "build_s", None) or time.perf_counter() - start  # pg: index only
    gc.collect()
    memory = peer.memory_mb() if peer.own_memory else (rss_bytes() - before) / 2**20
    log.info(
        "%s %s at %d: built in %.1f s, %.0f MB", peer.system, peer.index, n, build_s, memory or 0
    )
    result.curve = sweep(peer, queries, truth)
    chosen: list[tuple[str, Point]] = []
    default = getattr(peer, "default", None)  # catalens: the calibrated setting searches use
    if default is not None and result.curve and result.curve[0].setting == default:
        chosen.append(("default (calibrated)", result.curve[0]))
    for target in TARGETS:
        point = pick(result.curve, target)
        label = f"≥ {target:.2f}" if point else f"{target:.2f} not reached: best"
        point = point or best(result.curve)
        if point is not None and all(point is not p for _, p in chosen):
            chosen.append((label, point))
        elif point is not None:  # the same setting already has a row: name both targets there
            i = next(i for i, (_, p) in enumerate(chosen) if p is point)
            chosen[i] = (f"{chosen[i][0]}, {label}", point)
    return Prepared(peer, result, chosen, build_s, memory, [[] for _ in chosen])


def time_round(prepared: Prepared, queries: np.ndarray, warmup: int = WARMUP) -> None:
    """One timing turn: every query once, one at a time, at each picked setting (after
    `warmup` untimed ones)."""
    for (_, point), times in zip(prepared.chosen, prepared.times, strict=True):
        times += single_times(prepared.peer, queries, point.setting, warmup)


def finish_peer(prepared: Prepared, queries: np.ndarray, new: np.ndarray) -> PeerResult:
    """The rows (p50/p99 over every round's times, batch QPS), then the freshness."""
    peer, result = prepared.peer, prepared.result
    for (label, point), times in zip(prepared.chosen, prepared.times, strict=True):
        p50, p99 = percentiles_ms(times)
        qps = batch_qps(peer, queries, point.setting)
        result.rows.append(
            PeerRow(peer.system, peer.index, result.n, f"{peer.knob} {fmt(point.setting)}",
                    label, point.recall, p50, p99, qps, prepared.build_s, prepared.memory)
        )  # fmt: skip
    if result.rows:  # freshness last: it changes the index (at the ≥ 0.95 pick's setting)
        result.rows[0].fresh_s = freshness(peer, new, result.n, prepared.chosen[0][1].setting)
    return result


def bench_peer(
    peer: Peer,
    data: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    new: np.ndarray,
    rounds: int = 1,
) -> PeerResult:
    """Build, sweep, time the picked settings (`rounds` times) and the freshness of one system
    (`run_peers` instead alternates the rounds of all systems)."""
    prepared = prepare_peer(peer, data, queries, truth)
    for _ in range(rounds):
        time_round(prepared, queries)
    return finish_peer(prepared, queries, new)


def fmt(setting: Any) -> str:
    if isinstance(setting, tuple):
        return "/".join(str(x) for x in setting)
    return str(setting)


def skipped(system: str, index: str, n: int, why: str) -> PeerResult:
    return PeerResult(system, n, [PeerRow(system, index, n, note=why)])
