"""Peer libraries under the side-by-side query bench (see bench/query_peers.py): hnswlib, usearch,
ScaNN, LanceDB and Milvus Lite, each behind the `Peer` interface.

Each is imported only when its adapter is built, so the project venv (which has none of them)
can still run the rest of the bench; `bench/peers_env.sh` makes a venv with all of them. Single
queries run on one thread where the library lets us choose; batch calls use every core.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.query_data import CHUNK
from bench.query_peers import RssPeer

K = 10
CORES = os.cpu_count() or 1
EF = (10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)


class Hnswlib(RssPeer):
    system, knob = "hnswlib", "ef"

    def __init__(self, m: int = 16, ef_construction: int = 100) -> None:
        import hnswlib

        self._lib, self.m, self.efc = hnswlib, m, ef_construction
        self.index = f"HNSW M{m} efC{ef_construction} (float32)"
        self.settings = EF

    def build(self, data: np.ndarray) -> None:
        self.h = self._lib.Index(space="ip", dim=data.shape[1])
        self.h.init_index(len(data) + 2_000, M=self.m, ef_construction=self.efc)
        self.h.add_items(data, np.arange(len(data)), num_threads=CORES)

    def search(self, queries: np.ndarray, setting: Any, batch: bool) -> np.ndarray:
        self.h.set_ef(setting)
        labels, _ = self.h.knn_query(queries, k=K, num_threads=CORES if batch else 1)
        return np.asarray(labels, dtype=np.int64)

    def add(self, vectors: np.ndarray, first_id: int) -> None:
        self.h.add_items(vectors, np.arange(first_id, first_id + len(vectors)), num_threads=1)


class Usearch(RssPeer):
    system, knob, own_memory = "usearch", "expansion_search", True

    def __init__(self, dtype: str = "f16", connectivity: int = 16, expansion: int = 128) -> None:
        from usearch.index import Index

        self._cls, self.dtype, self.m, self.efc = Index, dtype, connectivity, expansion
        self.index = f"HNSW {dtype} M{connectivity} efC{expansion}"
        self.settings = EF

    def build(self, data: np.ndarray) -> None:
        self.u = self._cls(
            ndim=data.shape[1],
            metric="ip",
            dtype=self.dtype,
            connectivity=self.m,
            expansion_add=self.efc,
        )
        self.u.add(np.arange(len(data)), data, threads=CORES)

    def search(self, queries: np.ndarray, setting: Any, batch: bool) -> np.ndarray:
        self.u.expansion_search = setting
        found = self.u.search(queries, K, threads=CORES if batch else 1)
        keys = np.asarray(found.keys, dtype=np.int64).reshape(len(queries), -1)
        return keys

    def add(self, vectors: np.ndarray, first_id: int) -> None:
        self.u.add(np.arange(first_id, first_id + len(vectors)), vectors, threads=1)

    def memory_mb(self) -> float | None:
        return float(self.u.memory_usage) / 2**20

    def close(self) -> None:
        del self.u


class Scann(RssPeer):
    """Spherical tree (2√n leaves) + anisotropic hashing + exact reorder, the configuration
    ann-benchmarks runs for dot-product data; knob: (leaves searched, reorder). Without
    `spherical=True` the tree held recall@10 to 0.86 at 128 of 316 leaves on 100k synthetic
    vectors, where the spherical tree reached 0.97 (0.98 with 632 leaves at 1.5x the speed)."""

    system, knob = "ScaNN", "leaves/reorder"

    def __init__(self) -> None:
        from scann import scann_ops_pybind

        self._ops = scann_ops_pybind
        self.index = "spherical tree + AH(2) + reorder"
        self.settings: list[tuple[int, int]] = []

    def build(self, data: np.ndarray) -> None:
        leaves = 2 * int(np.sqrt(len(data)))
        self.index = f"spherical tree {leaves} leaves + AH(2) + reorder"
        searched = (4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536)
        cheap = [(n, r) for n in (1, 2, 3) for r in (20, 40, 100)]  # where 4/100 overshoots
        self.settings = cheap + [(n, 100) for n in searched if n <= leaves]
        self.settings += [(n, 250) for n in searched if 24 <= n <= leaves]
        builder = self._ops.builder(data, K, "dot_product")
        builder = builder.tree(
            num_leaves=leaves,
            num_leaves_to_search=8,
            training_sample_size=min(len(data), 250_000),
            spherical=True,
        )
        builder = builder.score_ah(2, anisotropic_quantization_threshold=0.2).reorder(250)
        self.s = builder.build(docids=[str(i) for i in range(len(data))])

    def search(self, queries: np.ndarray, setting: Any, batch: bool) -> np.ndarray:
        leaves, reorder = setting
        inner = self.s.searcher  # row numbers, not the wrapper's docid strings
        if batch:
            self.s.set_num_threads(CORES)
            idx, _ = inner.search_batched(queries, K, reorder, leaves, True, 256)  # parallel
            return np.asarray(idx, dtype=np.int64)
        idx, _ = inner.search(queries[0], K, reorder, leaves)
        return np.asarray(idx, dtype=np.int64)[None, :]

    def add(self, vectors: np.ndarray, first_id: int) -> None:
        self.s.upsert([str(first_id + i) for i in range(len(vectors))], vectors, 256)


class Lance(RssPeer):
    """LanceDB (embedded, on disk in a temporary folder), IVF_HNSW_SQ; knob: (nprobes, ef)."""

    system, knob = "LanceDB", "nprobes/ef"

    def __init__(self) -> None:
        import lancedb
        import pyarrow as pa

        self._lancedb, self._pa = lancedb, pa
        self.index = "IVF_HNSW_SQ"
        self._tmp = tempfile.TemporaryDirectory(prefix="catalens-bench-lance-")
        self.settings: list[tuple[int, int]] = []

    def _table(self, vectors: np.ndarray, first_id: int) -> Any:
        pa = self._pa
        flat = pa.array(vectors.reshape(-1), type=pa.float32())
        column = pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])
        ids = pa.array(np.arange(first_id, first_id + len(vectors)), type=pa.int64())
        return pa.table({"id": ids, "vector": column})

    def build(self, data: np.ndarray) -> None:
        db = self._lancedb.connect(self._tmp.name)
        self.t = db.create_table("bench", self._table(data[:CHUNK], 0))
        for lo in range(CHUNK, len(data), CHUNK):
            self.t.add(self._table(data[lo : lo + CHUNK], lo))
        partitions = max(1, len(data) // 50_000)
        self.index = f"IVF_HNSW_SQ ({partitions} partitions)"
        self.settings = [(p, ef) for p in sorted({1, 2, partitions}) for ef in (16, 32, 64, 128)]
        self.settings += [(partitions, ef) for ef in (256, 512)]
        self.t.create_index(
            metric="dot",
            index_type="IVF_HNSW_SQ",
            num_partitions=partitions,
            vector_column_name="vector",
        )

    def search(self, queries: np.ndarray, setting: Any, batch: bool) -> Any:
        nprobes, ef = setting
        query = self.t.search(list(queries) if batch else queries[0]).distance_type("dot")
        table = query.nprobes(nprobes).ef(ef).limit(K).select(["id", "_distance"]).to_arrow()
        return table, len(queries)

    def rows(self, found: Any) -> np.ndarray:
        table, n = found
        out = np.full((n, K), -1, dtype=np.int64)
        which = table["query_index"].to_numpy() if "query_index" in table.column_names else None
        ids = table["id"].to_numpy()
        for q in range(n):
            row = ids[which == q] if which is not None else ids
            out[q, : len(row)] = row[:K]
        return out

    def add(self, vectors: np.ndarray, first_id: int) -> None:
        self.t.add(self._table(vectors, first_id))  # unindexed rows: searched flat

    def close(self) -> None:
        self._tmp.cleanup()


class Milvus(RssPeer):
    """Milvus Lite (its server runs inside this process, on a local file); HNSW M16 efC100;
    knob: ef; the collection's default consistency level."""

    system, knob = "Milvus Lite", "ef"  # its in-process server: RSS growth

    def __init__(self) -> None:
        from pymilvus import MilvusClient

        self._tmp = tempfile.TemporaryDirectory(prefix="catalens-bench-milvus-")
        self.c = MilvusClient(str(Path(self._tmp.name) / "bench.db"))
        self.index = "HNSW M16 efC100"
        self.settings = EF[1:]

    def build(self, data: np.ndarray) -> None:
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=data.shape[1])
        params = self.c.prepare_index_params()
        params.add_index(
            "vector", index_type="HNSW", metric_type="IP", params={"M": 16, "efConstruction": 100}
        )
        self.c.create_collection("bench", schema=schema, index_params=params)
        for lo in range(0, len(data), 10_000):
            self.add(data[lo : lo + 10_000], lo)
        self.c.flush("bench")  # sealed segments: the index covers them (growing ones: brute force)
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:  # the build ends when every row is indexed
            info = self.c.describe_index("bench", "vector")
            if int(info.get("pending_index_rows", 0)) == 0 and int(
                info.get("indexed_rows", len(data))
            ) >= len(data):
                break
            time.sleep(0.5)
        self.c.load_collection("bench")

    def search(self, queries: np.ndarray, setting: Any, batch: bool) -> Any:
        return self.c.search(
            "bench",
            data=queries.tolist(),
            limit=K,
            search_params={"metric_type": "IP", "params": {"ef": setting}},
        )

    def rows(self, found: Any) -> np.ndarray:
        out = np.full((len(found), K), -1, dtype=np.int64)
        for q, hits in enumerate(found):
            ids = [h["id"] for h in hits][:K]
            out[q, : len(ids)] = ids
        return out

    def add(self, vectors: np.ndarray, first_id: int) -> None:
        rows = [{"id": first_id + i, "vector": v.tolist()} for i, v in enumerate(vectors)]
        self.c.insert("bench", rows)

    def close(self) -> None:
        self.c.close()
        self._tmp.cleanup()


NAMES = {
    "catalens": "catalens",
    "faiss": "raw FAISS",
    "hnswlib": "hnswlib",
    "usearch": "usearch",
    "scann": "ScaNN",
    "lancedb": "LanceDB",
    "milvus": "Milvus Lite",
    "pgvector": "pgvector",
}
LIBS = {
    "hnswlib": ("hnswlib", Hnswlib),
    "usearch": ("usearch", Usearch),
    "scann": ("scann", Scann),
    "lancedb": ("lancedb", Lance),
    "milvus": ("pymilvus milvus-lite", Milvus),
}
