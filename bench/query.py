"""Query-side speed: FAISS (Flat / HNSW / IVF-SQ8, 1 vs N shards) and pgvector HNSW on the same
synthetic embeddings, plus embedded-mode upload → searchable freshness.

Run from the repository root: `python -m bench.query` (see `--help`). For each size it builds
every index over the same clustered 512-d unit vectors (see `bench/query_data.py`), times single
queries (k=10) after a warm-up and scores recall@10 against brute-force ground truth. The
baseline is exact FAISS Flat with one shard at the same size, measured in the same run; the table
gives each row's p50 speed-up over it. Builds that would take too long on this machine (HNSW and
pgvector at the larger sizes) are projected from the measured rate at the smaller size and
skipped with the projection noted. Writes the "Query (bench/query.py)" section of
docs/benchmarks.md (not with --quick).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import shlex
import sys
from contextlib import AsyncExitStack
from dataclasses import asdict

from bench.common import machine, machine_markdown, write_section
from bench.peers_fresh import NEW_VECTORS
from bench.peers_plot import plot
from bench.peers_report import PEERS, peer_builds, run_peers, section
from bench.query_args import ints, parse_args
from bench.query_data import Generator, Synthetic, exact_top_k
from bench.query_faiss import (
    WARMUP,
    K,
    bench_faiss,
    bench_raw_refine,
    object_ids,
    projected_hnsw_s,
)
from bench.query_freshness import Freshness
from bench.query_real import RealGenerator, RealLike
from bench.query_rows import Row, table
from core.index.faiss_params import FaissParams, Knobs

log = logging.getLogger("bench.query")


def maintenance_mem(n: int, dim: int) -> str:
    """Enough maintenance_work_mem for pgvector to build the whole graph in memory."""
    mb = int(n * (dim * 4 + 256) * 1.3 / 2**20) + 64
    return f"{max(256, min(mb, 4096))}MB"


async def run(args: argparse.Namespace) -> tuple[list[Row], list[str], Freshness | str | None]:
    """The FAISS / pgvector rows, their notes, the freshness; the peers go to `args.results`."""
    spec = Synthetic()
    params = FaissParams(
        hnsw_m=args.hnsw_m,
        ef_construction=args.ef_construction,
        ef_search=args.ef_search,
        nlist=args.nlist,
        nprobe=args.nprobe,
    )
    generator: Generator | RealGenerator
    if args.data == "real":
        generator = RealGenerator(RealLike())
        described = generator.spec.describe(len(generator.base))
    else:
        generator = Generator(spec)
        described = spec.describe()
    queries = generator.sample(args.queries, seed=1)
    rows: list[Row] = []
    notes: list[str] = []
    hnsw_rate: dict[int, tuple[int, float]] = {}  # shards -> (n, vectors/s) measured
    pg_measured: tuple[int, float] | None = None  # (n, build seconds)
    limit_s = args.max_build_min * 60
    peers = [x for x in args.peers.split(",") if x] if args.peers != "all" else list(PEERS)
    measured = peer_builds(args.peer_builds)  # peer -> (n, build s), for projections
    always = set(args.peer_always.split(","))
    args.results = []
    async with AsyncExitStack() as stack:
        store = None
        if not args.skip_pg:
            from bench.query_pg import embedded_store

            store = await stack.enter_async_context(embedded_store())
        for n in sorted(ints(args.sizes)):
            data = generator.sample(n, seed=2)
            ids = object_ids(n)
            truth = exact_top_k(data, queries, K)
            raw: list[Knobs] = []  # raw FAISS twins of the Auto rows' settings, one each
            for index_type in [t for t in args.types.split(",") if t]:
                for shards in ints(args.shards):
                    if index_type == "HNSW" and shards in hnsw_rate:
                        small, rate = hnsw_rate[shards]
                        projected = projected_hnsw_s(rate, small, n)
                        if projected > limit_s:
                            rows.append(_skipped("FAISS", "HNSW", shards, n, projected, rate))
                            continue
                    log.info("FAISS %s ×%d at %d", index_type, shards, n)
                    row = bench_faiss(data, ids, queries, truth, index_type, shards, params)
                    rows.append(row)
                    log.info("%s", row)
                    if index_type == "Auto" and row.knobs is not None and row.knobs not in raw:
                        raw.append(row.knobs)
                        rows.append(bench_raw_refine(data, queries, truth, row.knobs))
                        log.info("%s", rows[-1])
                    if index_type == "HNSW":
                        hnsw_rate[shards] = (n, n / (row.build_s or 1))
                    if index_type == "Flat" and shards == 1 and args.omp_default_row:
                        rows.append(_omp_default_row(data, ids, queries, truth, params))
            if store is not None:
                rows.append(await _pg_row(store, data, ids, queries, truth, pg_measured, args))
                if rows[-1].build_s:
                    pg_measured = (n, rows[-1].build_s)
            if peers:
                new = generator.sample(NEW_VECTORS, seed=3)
                args.results += await asyncio.to_thread(
                    run_peers,
                    peers,
                    data,
                    queries,
                    truth,
                    new,
                    measured,
                    args.peer_max_build_min * 60,
                    always,
                    args.rounds,
                )
            del data, ids, truth
            gc.collect()
    notes += _parameter_notes(described, params, args)
    freshness = None if args.skip_freshness else await _freshness(args.uploads)
    return rows, notes, freshness


async def _pg_row(store, data, ids, queries, truth, measured, args) -> Row:  # type: ignore[no-untyped-def]
    from bench.query_pg import bench_pg, projected_pg_s

    n = len(data)
    if measured is not None:
        projected = projected_pg_s(measured[1], measured[0], n)
        if projected > args.max_build_min * 60:
            return _skipped("pgvector", "HNSW", 1, n, projected, measured[0] / measured[1])
    log.info("pgvector HNSW at %d", n)
    mem = maintenance_mem(n, data.shape[1])
    row, _ = await bench_pg(store, data, ids, queries, truth, mem, args.pg_workers)
    row.note = f"maintenance_work_mem {mem}, {args.pg_workers} parallel worker(s); " + row.note
    log.info("%s", row)
    return row


def _omp_default_row(data, ids, queries, truth, params) -> Row:  # type: ignore[no-untyped-def]
    row = bench_faiss(data, ids, queries, truth, "Flat", 1, params, search_threads=None)
    row.note = (
        "shard-pool threads left at the OpenMP default (all cores): what `open_stack` runs today, "
        "since its `faiss.omp_set_num_threads(1)` only reaches the main thread"
    )
    log.info("%s", row)
    return row


def _skipped(backend: str, index: str, shards: int, n: int, projected: float, rate: float) -> Row:
    note = (
        f"NOT RUN: projected build {projected / 60:.1f} min (measured {rate:,.0f} vec/s at the "
        "smaller size, scaled by n log n) exceeds --max-build-min"
    )
    return Row(backend, index, shards, n, note=note)


async def _freshness(uploads: int) -> Freshness | str:
    from bench.query_freshness import aligned_artifact, measure

    if aligned_artifact() is None:
        return (
            "not measured: no trained aligned embedder under ~/.local/share/catalens/models/"
            "aligned (train one with `catalens train embedder`); a random-weight model would "
            "time a model nobody runs"
        )
    try:
        return await measure(uploads)
    except Exception as exc:
        log.exception("freshness failed")
        return f"not measured: {type(exc).__name__}: {exc}"


def _parameter_notes(described: str, params: FaissParams, args: argparse.Namespace) -> list[str]:
    p = asdict(params)
    return [
        f"Data: {described}. {args.queries} queries from the same generator (not in the "
        f"data), k={K}, {WARMUP} warm-up queries first; recall@10 against brute-force top-10.",
        f"FAISS: ShardedFaissIndex with FaissParams hnsw_m={p['hnsw_m']}, "
        f"ef_construction={p['ef_construction']}, ef_search={p['ef_search']}, "
        f"nlist={p['nlist']} (per index), nprobe={p['nprobe']}; added in chunks of 100k with "
        "OpenMP on all cores; one query at a time through `search` (fan-out on the shard thread "
        "pool + Python merge) with OpenMP set to 1 thread in each shard-pool thread (what "
        "`open_stack` intends), except the row noted otherwise. Memory = RSS growth of the "
        "process over the build (vectors, graph, id maps).",
        "pgvector: embedded Postgres 18 (fsync off) in a temporary folder; rows COPYed into the "
        "store's own tables, then `CREATE INDEX ... USING hnsw (embedding vector_ip_ops)` "
        "(pgvector defaults m=16, ef_construction=64; build s = this statement only); queries "
        "through `PgStore.search` (ef_search 100, joins objects/images/captions, returns "
        "hydrated rows, so it does more work per query than a bare FAISS search).",
    ]


def render(
    rows: list[Row],
    notes: list[str],
    fresh: Freshness | str | None,
    info: dict,
    args: argparse.Namespace,
) -> str:
    end_load = os.getloadavg()[0]
    command = shlex.join(["python", "-m", "bench.query", *(getattr(args, "argv", None) or [])])
    lines = [
        machine_markdown(info),
        f"Command: `{command}`.",
        f"Load average at the end: {end_load:.1f} (other engineers' jobs share these cores; "
        "absolute times are noisy, the same-run speed-up and recall columns are steadier).",
        "",
        table(rows) if rows else "(no FAISS-type rows: `--types ''`)",
        "",
        *[f"- {note}" for note in notes],
        "",
        "Freshness (embedded mode, upload → searchable through `EmbeddedCatalog.ingest_many`, "
        "one image at a time):",
    ]
    if getattr(args, "results", None):
        plots = [] if args.no_write else plot(args.results, args.data)  # docs/plots/*.png
        lines[4:4] = [*section(args.results, args.data, plots, args.queries, args.rounds), ""]
    if isinstance(fresh, Freshness):
        lines.append(
            f"p50 **{fresh.p50_s:.2f} s**, p95 **{fresh.p95_s:.2f} s**, max {fresh.max_s:.2f} s "
            f"over {fresh.uploads} fashion-products photos ({fresh.objects_per_image:.1f} indexed "
            f"objects per image incl. the whole image; embedder {fresh.embedder}, offline "
            "captioner). It is the time for detection + crops + embedding + Postgres/FAISS writes "
            "of one image; the embedded ingest returns once the bus drained."
        )
    else:
        lines.append(fresh or "skipped (--skip-freshness).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args = parse_args(argv)
    info = machine()
    rows, notes, fresh = asyncio.run(run(args))
    args.argv = argv if argv is not None else sys.argv[1:]
    body = render(rows, notes, fresh, info, args)
    print(body)
    if not args.no_write:
        print(f"\nwrote {write_section(args.section, body)}")


if __name__ == "__main__":
    main()
