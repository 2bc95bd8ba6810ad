"""Command line of `python -m bench.query` (see bench/query.py)."""

from __future__ import annotations

import argparse
import os

from bench.peers_report import ROUNDS
from core.index.faiss_params import INDEX_TYPES, FaissParams

SECTION = "Query (bench/query.py)"

DESCRIPTION = (
    "Query-side speed: FAISS (Flat / HNSW / IVF-SQ8 / Auto, 1 vs N shards), pgvector HNSW and "
    "peer vector-search systems on the same embeddings, plus embedded-mode upload → searchable "
    "freshness."
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = FaissParams()
    p = argparse.ArgumentParser(
        prog="python -m bench.query",
        description=DESCRIPTION,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--sizes", default="100000,1000000", help="vector counts, comma-separated")
    p.add_argument("--shards", default="1,4", help="FAISS shard counts, comma-separated")
    p.add_argument("--types", default=",".join(INDEX_TYPES), help="FAISS index types")
    p.add_argument("--queries", type=int, default=200, help="timed single queries per index")
    p.add_argument(
        "--rounds",
        type=int,
        default=ROUNDS,
        help="--peers: timing rounds of all the queries per picked setting, alternating "
        "between the systems (p50/p99 over queries × rounds single queries)",
    )
    p.add_argument("--skip-pg", action="store_true", help="no pgvector rows")
    p.add_argument("--skip-freshness", action="store_true", help="no upload → searchable timing")
    p.add_argument("--uploads", type=int, default=30, help="freshness: images uploaded one by one")
    p.add_argument(
        "--data",
        choices=("synthetic", "real"),
        default="synthetic",
        help="synthetic: 512-d Gaussian clusters (bench/query_data.py); real: the shipped aligned "
        "model's 256-d vectors of cached tower features plus noise (bench/query_real.py)",
    )
    p.add_argument(
        "--peers",
        default="",
        help="side-by-side systems (bench/query_peers.py): 'all' or some of "
        "catalens,faiss,hnswlib,usearch,scann,lancedb,milvus,pgvector; catalens is the Auto "
        "index on 1 shard (the embedded default), catalens-N on N shards (the real stack: one "
        "per partition)",
    )
    p.add_argument(
        "--peer-max-build-min",
        type=float,
        default=7.5,
        help="skip a peer whose build, projected from a smaller size (this run's or "
        "--peer-builds), exceeds this",
    )
    p.add_argument(
        "--peer-always",
        default="catalens,faiss,scann",
        help="peers run at every size whatever their projected build",
    )
    p.add_argument(
        "--peer-builds",
        default="",
        help="build seconds measured in an earlier run, for the projections: "
        "name=n:seconds,... (e.g. hnswlib=100000:184)",
    )
    p.add_argument("--section", default=SECTION, help="docs/benchmarks.md section to write")
    p.add_argument("--quick", action="store_true", help="smoke run: 10k vectors; prints only")
    p.add_argument("--no-write", action="store_true", help="print the table, leave docs alone")
    p.add_argument(
        "--no-omp-default-row",
        dest="omp_default_row",
        action="store_false",
        help="skip the extra Flat ×1 row with shard-pool threads at the OpenMP default",
    )
    p.add_argument("--hnsw-m", type=int, default=defaults.hnsw_m, help="FAISS HNSW M")
    p.add_argument("--ef-construction", type=int, default=defaults.ef_construction, help="FAISS")
    p.add_argument("--ef-search", type=int, default=defaults.ef_search, help="FAISS HNSW")
    p.add_argument("--nlist", type=int, default=defaults.nlist, help="FAISS IVF lists")
    p.add_argument("--nprobe", type=int, default=defaults.nprobe, help="FAISS IVF lists probed")
    p.add_argument(
        "--max-build-min",
        type=float,
        default=15.0,
        help="skip an HNSW (FAISS or pgvector) build whose projected time exceeds this",
    )
    p.add_argument(
        "--pg-workers",
        type=int,
        default=max(0, (os.cpu_count() or 1) - 1),
        help="max_parallel_maintenance_workers for the pgvector index build",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.no_write = "10000", True
    return args


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]
