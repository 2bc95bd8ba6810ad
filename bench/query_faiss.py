"""ShardedFaissIndex under the query bench: build time, RSS growth, single-query latency, recall.

The build adds the vectors in chunks of 100k (as a bulk ingest or a restart rebuild would), with
FAISS's OpenMP on every core; queries then run one at a time (k=10) through
`ShardedFaissIndex.search`, the call the query service makes, so the per-shard fan-out on the
thread pool and the Python merge are part of the latency. Hydrating hits from Postgres is not.
"""

from __future__ import annotations

import gc
import os
import threading
import time

import faiss
import numpy as np

from bench.query_data import CHUNK, exact_top_k, percentiles_ms, recall_at_k, rss_bytes
from bench.query_rows import Row
from core.index import faiss_auto
from core.index.faiss_params import FaissParams, Knobs, search_parameters
from core.index.faiss_shards import ShardedFaissIndex

K, WARMUP = 10, 20


def object_ids(n: int) -> list[str]:
    return [f"obj-{i}" for i in range(n)]


def build(
    data: np.ndarray, ids: list[str], index_type: str, shards: int, params: FaissParams
) -> tuple[ShardedFaissIndex, float]:
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    index = ShardedFaissIndex(data.shape[1], shards, index_type, params)
    start = time.perf_counter()
    for lo in range(0, len(data), CHUNK):
        index.upsert(ids[lo : lo + CHUNK], data[lo : lo + CHUNK])
    index.settle()  # "Auto": its background builds and calibrations count as build time
    return index, time.perf_counter() - start


def set_search_threads(index: ShardedFaissIndex, threads: int) -> None:
    """OpenMP threads of every shard-pool thread. `faiss.omp_set_num_threads` only sets the
    calling thread's value, so the main thread's setting (open_stack's) does not reach the pool;
    each pool thread runs one task that waits on a barrier, so every thread gets one."""
    workers = index._pool._max_workers
    barrier = threading.Barrier(workers)

    def pin(_: int) -> None:
        faiss.omp_set_num_threads(threads)
        barrier.wait(timeout=30)

    list(index._pool.map(pin, range(workers)))


def query(index: ShardedFaissIndex, queries: np.ndarray) -> tuple[list[float], list[list[int]]]:
    """Per-query wall times and result row numbers, after WARMUP unmeasured queries."""
    for q in queries[:WARMUP]:
        index.search(q[None, :], K)
    times, found = [], []
    for q in queries:
        start = time.perf_counter()
        [hits] = index.search(q[None, :], K)
        times.append(time.perf_counter() - start)
        found.append([int(oid.removeprefix("obj-")) for oid, _ in hits])
    return times, found


def bench_faiss(
    data: np.ndarray,
    ids: list[str],
    queries: np.ndarray,
    truth: np.ndarray,
    index_type: str,
    shards: int,
    params: FaissParams,
    search_threads: int | None = 1,
) -> Row:
    """`search_threads`: OpenMP threads per shard-pool thread; None leaves the OpenMP default."""
    gc.collect()
    before = rss_bytes()
    index, build_s = build(data, ids, index_type, shards, params)
    gc.collect()
    grown = (rss_bytes() - before) / 2**20
    if search_threads is not None:
        set_search_threads(index, search_threads)
    knobs = index.knobs
    filtered = ""
    try:
        times, found = query(index, queries)
        if index_type == "Auto":
            shares = (0.1, 0.01)
            filtered = "filtered recall@10 " + ", ".join(
                f"{filtered_recall(index, data, queries, s):.3f} ({s:.0%} match)" for s in shares
            )
    finally:
        index.close()
        del index
        gc.collect()
    p50, p99 = percentiles_ms(times)
    row = Row(
        "FAISS", index_type, shards, len(data), build_s, grown, p50, p99, recall_at_k(found, truth)
    )
    if knobs is not None:
        row.knobs = knobs
        row.note = (
            f"calibrated: nlist {knobs.nlist}, nprobe {knobs.nprobe}, k_factor {knobs.k_factor:g} "
            f"(sample recall@10 {knobs.recall:.3f} at {knobs.size:,}; built at {knobs.built:,})"
        )
    row.note = "; ".join(x for x in (row.note, filtered) if x)
    return row


def filtered_recall(
    index: ShardedFaissIndex, data: np.ndarray, queries: np.ndarray, share: float
) -> float:
    """Recall@10 of a filtered search the way the query service runs one (`SearchService.
    _search`: fetch 10 × OVERFETCH, keep the matching hits, fetch OVERFETCH times more until 10
    match; past 10 × OVERFETCH³ it asks pgvector, counted here as exact), against the exact
    top-10 among matching vectors; `share` of the rows match."""
    from core.index.faiss_params import widened
    from services.query.search import OVERFETCH

    rng = np.random.default_rng(7)
    matching = rng.random(len(data)) < share
    rows = np.flatnonzero(matching)
    truth = exact_top_k(data[rows], queries[:50], K)
    hits_total = 0
    for q, exact in zip(queries[:50], truth, strict=True):
        fetch, found = K * OVERFETCH, []
        while True:
            knobs = widened(index.knobs, fetch // K)
            [hits] = index.search(q[None, :], min(fetch, len(index)), knobs)
            found = [i for i in (int(o.removeprefix("obj-")) for o, _ in hits) if matching[i]]
            if len(found) >= K or fetch >= len(index):
                break
            if fetch >= K * OVERFETCH**3:  # the service's pgvector fallback (exact here)
                found = rows[exact].tolist()
                break
            fetch *= OVERFETCH
        hits_total += len(set(found[:K]) & set(rows[exact].tolist()))
    return hits_total / (K * 50)


def bench_raw_refine(data: np.ndarray, queries: np.ndarray, truth: np.ndarray, knobs: Knobs) -> Row:
    """The same IVF-PQ fast-scan + SQ8 refine index as a built "Auto" one, in raw FAISS (one
    index, no id maps, no shards), searched with the same nprobe and k_factor: what our wrapper
    costs at equal recall."""
    gc.collect()
    before = rss_bytes()
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    start = time.perf_counter()
    sample = data[
        np.random.default_rng(0).choice(len(data), min(len(data), 64 * knobs.nlist), replace=False)
    ]
    index = faiss_auto.train_refine_template(sample, knobs.nlist, "cpu")
    index.add(data)
    build_s = time.perf_counter() - start
    grown = (rss_bytes() - before) / 2**20
    faiss.omp_set_num_threads(1)
    params = search_parameters("Auto", True, FaissParams(), None, knobs)
    for q in queries[:WARMUP]:
        index.search(q[None, :], K, params=params)
    times, found = [], []
    for q in queries:
        started = time.perf_counter()
        _, rows = index.search(q[None, :], K, params=params)
        times.append(time.perf_counter() - started)
        found.append(rows[0].tolist())
    p50, p99 = percentiles_ms(times)
    name = faiss_auto.factory_string(data.shape[1], knobs.nlist)
    row = Row("raw FAISS", name, 1, len(data), build_s, grown, p50, p99, recall_at_k(found, truth))
    row.note = f"nprobe {knobs.nprobe}, k_factor {knobs.k_factor:g} (Auto's calibrated values)"
    return row


def projected_hnsw_s(rate_at_small: float, small: int, big: int) -> float:
    """HNSW insert cost grows about with log n: project a build of `big` from `small`'s rate."""
    return big / rate_at_small * np.log(big) / np.log(small)
