"""Running the side-by-side systems at one size (with build projections for the slow ones), and
their Markdown table and recall/latency plots (see bench/query_peers.py)."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from bench.query_peers import (
    CURVE_QUERIES,
    Peer,
    PeerResult,
    PeerRow,
    Prepared,
    finish_peer,
    prepare_peer,
    skipped,
    time_round,
)
from bench.query_pg import projected_pg_s
from core.paths import REPO_ROOT

log = logging.getLogger("bench.query")

ROUNDS = 20  # timing rounds: at 1M one query takes ~0.05 ms, so 4,000 timings a row cost
# seconds, and p99 (the 40th slowest) no longer rests on a handful of stalls
PAUSE_S = 0.05  # before each round
BLOCK, BLOCK_WARMUP = 10, 3  # queries timed per turn, untimed ones before them
PEERS = ("catalens", "faiss", "hnswlib", "usearch", "scann", "lancedb", "milvus", "pgvector")
HEADER = [
    "vectors",
    "system",
    "index",
    "setting",
    "picked for",
    "recall@10",
    "p50 ms",
    "p99 ms",
    "batch QPS",
    "build s",
    "memory MB",
    "10M projected GiB",
    "1,000 new searchable s",
    "note",
]


def make(name: str) -> Peer:
    """The adapter for `name`; ImportError when its package is not installed."""
    from bench import peers_faiss, peers_libs

    if name == "catalens":
        return peers_faiss.CatalensAuto()
    if name.startswith("catalens-"):  # catalens-4: the Auto index over 4 shards (partitions)
        return peers_faiss.CatalensAuto(int(name.removeprefix("catalens-")))
    if name == "faiss":
        return peers_faiss.RawFaiss()
    if name == "pgvector":
        return peers_faiss.Pgvector()
    return peers_libs.LIBS[name][1]()  # type: ignore[no-any-return]


def display(name: str) -> str:
    """The table's name for a --peers key."""
    from bench.peers_libs import NAMES

    return NAMES.get(name, name)


def install_hint(name: str) -> str:
    from bench.peers_libs import LIBS

    packages = LIBS[name][0] if name in LIBS else name
    return f"not installed: pip install {packages} (or run with the venv bench/peers_env.sh makes)"


def run_peers(
    names: Sequence[str],
    data: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    new: np.ndarray,
    measured: dict[str, tuple[int, float]],
    limit_s: float,
    always: Collection[str] = (),
    rounds: int = ROUNDS,
) -> list[PeerResult]:
    """Every named system at len(data) vectors. `measured` (system -> (n, build s) at a smaller
    size, updated here) projects builds: one projected past `limit_s` is not run, unless it is
    in `always`. All systems are built and swept first and kept open; then `rounds` timing
    rounds run every query once per picked setting of every system, in blocks of `BLOCK`
    queries that alternate between the systems (block b of round r starts with system
    r + b, so none always follows the same one; each turn re-warms with `BLOCK_WARMUP`
    untimed queries): a stall of the shared cores lasting a few milliseconds falls on every
    system alike instead of on whichever system's whole round it hit, which decided p99 at
    1M. Python's garbage collector is off while timing."""
    n = len(data)
    results: dict[str, PeerResult] = {}
    ready: dict[str, Prepared] = {}
    for name in names:
        why = _not_run(name, n, measured, limit_s, always)
        if why:
            results[name] = skipped(display(name), "", n, why)
            continue
        try:
            peer = make(name)
        except ImportError:
            results[name] = skipped(display(name), "", n, install_hint(name))
            continue
        try:
            ready[name] = prepare_peer(peer, data, queries, truth)
        except Exception as exc:  # one system failing must not lose the others' rows
            results[name] = _failed(name, peer, n, exc)
            peer.close()
    gc.collect()
    gc.disable()  # as timeit does: a collection inside a timed query is not the system's cost
    try:
        for r in range(rounds):
            log.info("timing round %d of %d", r + 1, rounds)
            time.sleep(PAUSE_S)  # background threads (LanceDB, Milvus) settle first
            for b, lo in enumerate(range(0, len(queries), BLOCK)):
                order = list(ready)  # a system that failed has left it
                if not order:
                    break
                for name in order[(r + b) % len(order) :] + order[: (r + b) % len(order)]:
                    try:
                        time_round(ready[name], queries[lo : lo + BLOCK], BLOCK_WARMUP)
                    except Exception as exc:
                        results[name] = _failed(name, ready[name].peer, n, exc)
                        ready.pop(name).peer.close()
    finally:
        gc.enable()
    for name, prepared in ready.items():
        try:
            results[name] = finish_peer(prepared, queries, new)
        except Exception as exc:
            results[name] = _failed(name, prepared.peer, n, exc)
        finally:
            prepared.peer.close()
        for row in results[name].rows:
            log.info("%s", row)
            if row.build_s:
                measured[name] = (n, row.build_s)
    return [results[name] for name in names]


def _not_run(
    name: str,
    n: int,
    measured: dict[str, tuple[int, float]],
    limit_s: float,
    always: Collection[str],
) -> str:
    """Why `name` is not run at n vectors ("" if it is): its projected build is too long."""
    if name not in measured or name in always:
        return ""
    small, build_s = measured[name]
    projected = projected_pg_s(build_s, small, n)
    if projected <= limit_s:
        return ""
    return (
        f"NOT RUN: projected build {projected / 60:.0f} min ({build_s:.0f} s measured at "
        f"{small:,}, scaled by n log n) exceeds --peer-max-build-min"
    )


def _failed(name: str, peer: Peer, n: int, exc: Exception) -> PeerResult:
    log.exception("%s failed", name)
    return skipped(peer.system, peer.index, n, f"failed: {type(exc).__name__}: {exc}")


def peer_builds(text: str) -> dict[str, tuple[int, float]]:
    """`name=n:seconds,...` (build times measured in an earlier run) as {name: (n, seconds)}."""
    out = {}
    for item in filter(None, (x.strip() for x in text.split(","))):
        name, _, measured = item.partition("=")
        n, _, seconds = measured.partition(":")
        out[name] = (int(n), float(seconds))
    return out


def _num(value: float | None, fmt: str) -> str:
    return "–" if value is None else fmt.format(value)


def _ms(value: float | None) -> str:
    """Milliseconds: 3 decimals below 1 ms (at 1M the systems differ by hundredths)."""
    return _num(value, "{:.3f}" if value is not None and value < 1 else "{:.2f}")


def cells(row: PeerRow) -> list[str]:
    system = f"**{row.system}**" if row.system == "catalens" else row.system
    return [
        f"{row.n:,}",
        system,
        row.index,
        row.setting,
        row.target,
        _num(row.recall, "{:.3f}"),
        _ms(row.p50_ms),
        _ms(row.p99_ms),
        _num(row.qps, "{:,.0f}"),
        _num(row.build_s, "{:.1f}"),
        _num(row.memory_mb, "{:,.0f}"),
        _num(row.ten_million_gib, "{:.1f}"),
        _num(row.fresh_s, "{:.2f}"),
        row.note,
    ]


def table(results: Sequence[PeerResult]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for result in results:
        lines += ["| " + " | ".join(cells(row)) + " |" for row in result.rows]
    return "\n".join(lines)


def section(
    results: Sequence[PeerResult],
    data: str,
    plots: Sequence[Path],
    queries: int = 200,
    rounds: int = ROUNDS,
) -> list[str]:
    """The peers table, its plots' links and the method notes."""
    links = [f"![recall vs latency]({p.relative_to(REPO_ROOT / 'docs').as_posix()})" for p in plots]
    return [
        "Side by side (each system at the cheapest setting of its sweep reaching recall@10 "
        "≥ 0.95 and ≥ 0.99, or its best; catalens also at the setting its build calibrated):",
        "",
        table(results),
        "",
        *links,
        "",
        f"- p50/p99: the {queries} queries one at a time (1 thread where the library lets us "
        f"choose), {rounds} rounds ({queries * rounds:,} timings), all systems built first; in "
        f"each round the systems take turns every {BLOCK} queries ({BLOCK_WARMUP} untimed "
        "warm-ups a turn; block b of round r starts with system r + b); only the system's own "
        "search call is timed (turning its answer into row numbers is not); "
        f"batch QPS: all {queries} in one call on every core (ScaNN `search_batched` parallel, "
        "hnswlib/usearch/FAISS threads, LanceDB and Milvus Lite a list of vectors); pgvector has "
        "no batch call (a loop), and catalens' public `ShardedFaissIndex.search` runs a batch on "
        "its shard pool with 1 OpenMP thread per shard (what `open_stack` sets), so 1 shard = 1 "
        "core.",
        "- Memory: RSS growth of the bench process over the build (the Milvus Lite server and "
        "LanceDB's reader run inside it; LanceDB keeps the data on disk in a temporary folder), "
        "except usearch (its own `memory_usage`) and pgvector (HNSW index relation size, the "
        "heap table not counted). 10M projected = bytes per vector here × 10M.",
        "- 1,000 new searchable: seconds from inserting 1,000 new vectors (catalens: "
        "`ShardedFaissIndex.upsert`; pgvector: `PgStore.upsert_vectors`; the others their add/"
        "insert/upsert) until a batch search of them at the ≥ 0.95 setting returns ≥ 99 % "
        "of them in their own top 10. Build s for pgvector is the `CREATE INDEX` only (COPY not "
        "counted); for catalens it includes the background build, swap and calibration.",
        f"- Plot{'s' if len(plots) > 1 else ''}: each system's sweep (mean of {CURVE_QUERIES} "
        "single queries per setting, which also pick the rows; the line joins the settings no "
        f"other setting beats on both), {data} data.",
    ]
