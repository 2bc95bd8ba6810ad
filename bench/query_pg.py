"""pgvector HNSW under the query bench, on an embedded Postgres in a temporary folder.

Rows go in the store's own tables (`images`, `objects`, the model's `vectors_*` table made by
`PgStore.ensure_vector_table`) with COPY; the table's HNSW index is dropped first and built once
after the load with the same definition (`hnsw (embedding vector_ip_ops)`, pgvector defaults
m=16, ef_construction=64), since a bulk build is far faster than row-by-row inserts. Queries run
through `PgStore.search` (the store's fallback path: HNSW walk + join to objects/images/captions,
ef_search from PgStore), one at a time. The incremental insert rate through
`PgStore.upsert_vectors` into the indexed table is measured on a few extra vectors afterwards.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np

from bench.query_data import CHUNK, percentiles_ms, recall_at_k
from bench.query_faiss import WARMUP, K
from bench.query_rows import Row
from core.catalog.pg_server import EmbeddedPostgres
from core.catalog.pg_store import PgStore

IMAGE_ID = "bench-image"
EXTRA = 500  # vectors inserted one batch at a time through PgStore.upsert_vectors


@asynccontextmanager
async def embedded_store(max_size: int = 2) -> AsyncIterator[PgStore]:
    """A throwaway embedded Postgres (fsync off) and a PgStore on it with a pool of up to
    `max_size` connections; stopped and removed after."""
    with tempfile.TemporaryDirectory(prefix="catalens-bench-pg-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "postgres", durable=False)
        dsn = server.start()
        try:
            store = await PgStore.connect(dsn, min_size=1, max_size=max_size)
            try:
                yield store
            finally:
                await store.close()
        finally:
            server.stop()


async def load(store: PgStore, data: np.ndarray, ids: list[str], model_key: str) -> str:
    """Fresh rows for `ids` and their vectors in the model's table, which has no index after."""
    table = await store.ensure_vector_table(model_key, data.shape[1])
    async with store._pool.acquire() as conn:
        await conn.execute(f"DROP INDEX IF EXISTS {table}_hnsw")
        await conn.execute(f"TRUNCATE {table}; TRUNCATE images CASCADE")
        await conn.execute(
            "INSERT INTO images (image_id, uri, width, height, source)"
            " VALUES ($1, 'bench://', 640, 480, 'bench')",
            IMAGE_ID,
        )
        columns = ["object_id", "image_id", "kind", "label", "score", "box"]
        for lo in range(0, len(ids), CHUNK):
            chunk = ids[lo : lo + CHUNK]
            objects = [(oid, IMAGE_ID, "object", "shirt", 0.9, [0, 0, 10, 10]) for oid in chunk]
            await conn.copy_records_to_table("objects", records=objects, columns=columns)
            rows = zip(chunk, data[lo : lo + CHUNK], strict=True)
            vectors = [(oid, "image", v) for oid, v in rows]
            await conn.copy_records_to_table(
                table, records=vectors, columns=["object_id", "modality", "embedding"]
            )
        await conn.execute(f"ANALYZE {table}; ANALYZE objects")
    return table


async def build_index(store: PgStore, table: str, maintenance_mem: str, workers: int) -> float:
    async with store._pool.acquire() as conn:
        await conn.execute(
            f"SET maintenance_work_mem = '{maintenance_mem}';"
            f" SET max_parallel_maintenance_workers = {workers}"
        )
        start = time.perf_counter()
        await conn.execute(
            f"CREATE INDEX {table}_hnsw ON {table} USING hnsw (embedding vector_ip_ops)"
        )
        return time.perf_counter() - start


async def relation_mb(store: PgStore, name: str) -> float:
    size = await store._pool.fetchval("SELECT pg_total_relation_size($1::regclass)", name)
    return float(size) / 2**20


async def bench_pg(
    store: PgStore,
    data: np.ndarray,
    ids: list[str],
    queries: np.ndarray,
    truth: np.ndarray,
    maintenance_mem: str,
    workers: int,
) -> tuple[Row, float]:
    """The row, and the COPY load time in seconds (reported apart from the index build)."""
    model_key = f"bench/synthetic-{len(data)}"
    start = time.perf_counter()
    table = await load(store, data, ids, model_key)
    load_s = time.perf_counter() - start
    build_s = await build_index(store, table, maintenance_mem, workers)
    index_mb = await relation_mb(store, f"{table}_hnsw")
    for q in queries[:WARMUP]:
        await store.search(model_key, q, K)
    times, found = [], []
    for q in queries:
        start = time.perf_counter()
        hits = await store.search(model_key, q, K)
        times.append(time.perf_counter() - start)
        found.append([int(h.object.object_id.removeprefix("obj-")) for h in hits])
    p50, p99 = percentiles_ms(times)
    insert_rate = await incremental_rate(store, model_key, data[:EXTRA])
    note = (
        f"COPY load {load_s:.0f} s not in build; memory = index relation size; "
        f"incremental insert via upsert_vectors {insert_rate:,.0f} vec/s"
    )
    row = Row("pgvector", "HNSW", 1, len(data), build_s, index_mb, p50, p99, None, note)
    row.recall = recall_at_k(found, truth)
    await store._pool.execute(f"DROP TABLE {table}; TRUNCATE images CASCADE")
    await store._pool.execute("DELETE FROM vector_models WHERE model_key = $1", model_key)
    return row, load_s


async def incremental_rate(store: PgStore, model_key: str, vectors: np.ndarray) -> float:
    """Vectors/s inserted into the indexed table, 50 per `upsert_vectors` call."""
    ids = [f"extra-{i}" for i in range(len(vectors))]
    start = time.perf_counter()
    for lo in range(0, len(ids), 50):
        await store.upsert_vectors(model_key, ids[lo : lo + 50], "image", vectors[lo : lo + 50])
    return len(ids) / (time.perf_counter() - start)


def projected_pg_s(build_s: float, small: int, big: int) -> float:
    """HNSW build cost grows about with n log n: project `big` from a build of `small`."""
    return build_s * (big / small) * np.log(big) / np.log(small)
