"""Our own rows of the side-by-side query bench (see bench/query_peers.py), behind its `Peer`
interface: catalens' default `Auto` index through its public index API (`ShardedFaissIndex`:
upsert, settle, search with `Knobs`), the same index type in raw FAISS, and pgvector HNSW on an
embedded Postgres queried with raw SQL.

The catalens and raw-FAISS knob is (nprobe, k_factor); the catalens sweep starts at the
settings its build calibrated (the default a search uses), so its first row is what users get.
Single catalens queries run the way `open_stack` sets them up (1 OpenMP thread in each
shard-pool thread), and so does its batch call: the public API gives a batch no more threads.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from bench.query_faiss import build as build_sharded
from bench.query_faiss import object_ids, set_search_threads
from bench.query_peers import RssPeer
from core.index import faiss_auto
from core.index.faiss_params import FaissParams, Knobs, search_parameters

K = 10
CORES = os.cpu_count() or 1
K_FACTORS = (4, 8, 12, 16, 32)
PROBES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)


def grid(nlist: int) -> list[tuple[int, int]]:
    """(nprobe, k_factor) pairs in order of increasing cost (nprobe in steps of ~1.5×)."""
    probes = [p for p in PROBES if p <= nlist]
    return [(p, f) for p in probes for f in K_FACTORS]


def _row_numbers(hits: list[list[tuple[str, float]]]) -> np.ndarray:
    out = np.full((len(hits), K), -1, dtype=np.int64)
    for q, row in enumerate(hits):
        ids = [int(oid.removeprefix("obj-")) for oid, _ in row[:K]]
        out[q, : len(ids)] = ids
    return out


class CatalensAuto(RssPeer):
    system, knob = "catalens", "nprobe/k_factor"

    def __init__(self, shards: int = 1) -> None:
        self.shards = shards
        self.index = f"Auto ({shards} shard{'s' if shards > 1 else ''})"
        self.settings: list[Any] = []
        self._made: dict[Any, Knobs] = {}

    def build(self, data: np.ndarray) -> None:
        self.ix, _ = build_sharded(data, object_ids(len(data)), "Auto", self.shards, FaissParams())
        set_search_threads(self.ix, 1)
        knobs = self.ix.knobs
        if knobs is None:  # below exact_below: exact search, nothing to sweep
            self.settings = [None]
            return
        self.index += f", IVF{knobs.nlist} PQ fast-scan + fp16 refine"
        self.default = (knobs.nprobe, int(knobs.k_factor))
        self.settings = [self.default] + [s for s in grid(knobs.nlist) if s != self.default]

    def _knobs(self, setting: Any) -> Knobs | None:
        """One `Knobs` per setting, made once (a caller keeps its settings object)."""
        if setting is None or self.ix.knobs is None:
            return None
        if setting not in self._made:
            nprobe, k_factor = setting
            knobs = dataclasses.replace(self.ix.knobs, nprobe=nprobe, k_factor=float(k_factor))
            self._made[setting] = knobs
        return self._made[setting]

    def search(self, queries: np.ndarray, setting: Any, batch: bool) -> Any:
        return self.ix.search(queries, K, self._knobs(setting))  # (object id, score) per hit

    def rows(self, found: Any) -> np.ndarray:
        return _row_numbers(found)

    def add(self, vectors: np.ndarray, first_id: int) -> None:
        self.ix.upsert([f"obj-{first_id + i}" for i in range(len(vectors))], vectors)

    def close(self) -> None:
        self.ix.close()


class RawFaiss(RssPeer):
    """The Auto index type (IVF-PQ fast-scan + float16 refine) in plain FAISS: one index, no id
    maps, its vectors added in the same inverted-list order as an Auto build
    (`faiss_auto.list_order`; positions map back to rows with one array lookup); search
    parameters made once per setting; single queries on 1 OpenMP thread, batches on all
    cores."""

    system, knob = "raw FAISS", "nprobe/k_factor"

    def __init__(self) -> None:
        self.index = "IVF-PQfs + refine"
        self.settings: list[Any] = []
        self._params: dict[Any, faiss.SearchParameters] = {}

    def build(self, data: np.ndarray) -> None:
        faiss.omp_set_num_threads(CORES)
        nlist = faiss_auto.choose_nlist(len(data))  # what Auto picks at this size
        rng = np.random.default_rng(0)
        take = min(len(data), faiss_auto.TRAIN_PER_LIST * nlist)
        sample = data[rng.choice(len(data), take, replace=False)]
        template = faiss_auto.train_refine_template(sample, nlist, "cpu")
        self.ix, self.order = faiss_auto.filled(template, data)  # position p holds row order[p]
        self.nlist = nlist
        self.index = faiss_auto.factory_string(data.shape[1], nlist) + ", list-ordered"
        self.settings = grid(nlist)

    def search(self, queries: np.ndarray, setting: Any, batch: bool) -> np.ndarray:
        params = self._params.get(setting)
        if params is None:
            nprobe, k_factor = setting
            knobs = Knobs(self.nlist, nprobe, float(k_factor), 0.0, 0)
            params = search_parameters("Auto", True, FaissParams(), None, knobs)
            self._params[setting] = params
        faiss.omp_set_num_threads(CORES if batch else 1)
        _, positions = self.ix.search(queries, K, params=params)
        return np.where(positions >= 0, self.order[positions], -1)

    def add(self, vectors: np.ndarray, first_id: int) -> None:
        self.ix.add(vectors)  # appended: positions len(order)... hold rows first_id...
        self.order = np.concatenate([self.order, np.arange(first_id, first_id + len(vectors))])


class Pgvector(RssPeer):
    """pgvector HNSW (m 16, ef_construction 64, the store's index definition) in the store's own
    tables on an embedded Postgres; raw SQL `ORDER BY embedding <#> $1 LIMIT 10` at
    `hnsw.ef_search` = the knob. No batch API: the batch column is a loop of single queries.
    New vectors go in through `PgStore.upsert_vectors`. Owns an event loop (the bench runs peers
    in a worker thread)."""

    system, knob, own_memory = "pgvector", "ef_search", True
    settings = (10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1000)

    def __init__(self, workers: int = max(0, CORES - 1)) -> None:
        from core.catalog.pg_server import EmbeddedPostgres

        self.index, self.workers = "HNSW m16 efC64", workers
        self._tmp = tempfile.TemporaryDirectory(prefix="catalens-bench-pg-")
        port = int(os.environ.get("CATALENS_INFRA__POSTGRES_PORT", "0")) or None
        self.server = EmbeddedPostgres(Path(self._tmp.name) / "pg", durable=False, port=port)
        self.loop = asyncio.new_event_loop()
        self.store: Any = None
        self._ef: int | None = None

    def _run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def build(self, data: np.ndarray) -> None:
        from bench.query import maintenance_mem
        from bench.query_pg import build_index, load
        from core.catalog.pg_store import PgStore

        dsn = self.server.start()
        self.store = self._run(PgStore.connect(dsn, min_size=1, max_size=2))
        self.model_key = f"bench/peers-{len(data)}"
        self.table = self._run(load(self.store, data, object_ids(len(data)), self.model_key))
        self.mem = maintenance_mem(len(data), data.shape[1])
        self.build_s = self._run(build_index(self.store, self.table, self.mem, self.workers))
        self.conn = self._run(self.store._pool.acquire())
        self.sql = f"SELECT object_id FROM {self.table} ORDER BY embedding <#> $1 LIMIT {K}"

    def search(self, queries: np.ndarray, setting: Any, batch: bool) -> np.ndarray:
        if setting != self._ef:
            self._run(self.conn.execute(f"SET hnsw.ef_search = {int(setting)}"))
            self._ef = setting
        out = np.full((len(queries), K), -1, dtype=np.int64)
        for q, vector in enumerate(queries):
            rows = self._run(self.conn.fetch(self.sql, vector))
            ids = [int(r["object_id"].removeprefix("obj-")) for r in rows]
            out[q, : len(ids)] = ids
        return out

    def add(self, vectors: np.ndarray, first_id: int) -> None:
        from bench.query_pg import IMAGE_ID

        ids = [f"obj-{first_id + i}" for i in range(len(vectors))]
        objects = [(o, IMAGE_ID, "object", "shirt", 0.9, [0, 0, 10, 10]) for o in ids]
        columns = ["object_id", "image_id", "kind", "label", "score", "box"]
        self._run(self.conn.copy_records_to_table("objects", records=objects, columns=columns))
        self._run(self.store.upsert_vectors(self.model_key, ids, "image", vectors))

    def memory_mb(self) -> float | None:
        size = self._run(
            self.conn.fetchval("SELECT pg_total_relation_size($1::regclass)", f"{self.table}_hnsw")
        )
        return float(size) / 2**20

    def close(self) -> None:
        try:
            if self.store is not None:
                self._run(self.store._pool.release(self.conn))
                self._run(self.store.close())
        finally:
            self.server.stop()
            self.loop.close()
            self._tmp.cleanup()
