"""The HTTP text-search bench's results: per-query timings of each setting and their Markdown."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bench.probes import Stages
from core.index.faiss_params import Knobs
from core.settings import FusionSettings

HTTP = "HTTP round trip (client: request sent → body read)"
OUTSIDE = "HTTP, Litestar, JSON (round trip − in the app)"
APP = "in the app (`SearchCatalog.search_text`)"
EMBED = "embed the query (text tower)"
FAISS = "FAISS (`ShardedFaissIndex.search`)"
HYDRATE = "Postgres hydration (`get_objects`)"
FULLTEXT = "Postgres full-text (`fulltext_ranked` / `search_fulltext`)"
STAGES = (APP, EMBED, FAISS, HYDRATE, FULLTEXT)  # APP holds the others


@dataclass
class Run:
    """One setting's timed queries: the round trip and each probed stage's seconds per query."""

    name: str
    sources: int  # vector sources a query searches (FAISS calls when no search is repeated)
    http: list[float] = field(default_factory=list)
    seconds: list[dict[str, float]] = field(default_factory=list)
    calls: list[dict[str, int]] = field(default_factory=list)
    hits: list[int] = field(default_factory=list)

    def add(self, http_s: float, stages: Stages, hits: int) -> None:
        self.http.append(http_s)
        self.seconds.append(dict(stages.seconds))
        self.calls.append(dict(stages.calls))
        self.hits.append(hits)

    def stage(self, name: str) -> list[float]:
        """Seconds per query inside `name` (0 for a query that never called it)."""
        return [q.get(name, 0.0) for q in self.seconds]

    def outside(self, app: str) -> list[float]:
        """Per query: the round trip less the time inside the app's `app` stage."""
        return [h - s for h, s in zip(self.http, self.stage(app), strict=True)]

    def calls_per_query(self, name: str) -> float:
        return float(np.mean([q.get(name, 0) for q in self.calls])) if self.calls else 0.0

    def repeated(self, stage: str) -> int:
        """Queries that called `stage` more often than once per vector source: `_search`'s
        over-fetch loop searched (and hydrated) again because an index returned fewer hits
        than asked."""
        return sum(q.get(stage, 0) > self.sources for q in self.calls)

    def summary(self) -> str:
        p50, p95, p99, _ = quantiles_ms(self.http)
        return f"HTTP p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms"


def quantiles_ms(seconds: Sequence[float]) -> tuple[float, float, float, float]:
    """(p50, p95, p99, mean) in milliseconds."""
    values = np.asarray(seconds, dtype=np.float64) * 1000
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return float(p50), float(p95), float(p99), float(values.mean())


def describe_fusion(fusion: FusionSettings) -> str:
    sources = ", ".join(
        f"{name} weight {s.weight:g} depth {s.depth}" for name, s in fusion.sources().items()
    )
    state = "on" if fusion.enabled else "off"
    return f"`search.fusion` defaults: fusion {state}, RRF k {fusion.rrf_k}; {sources}"


def describe_knobs(knobs: object) -> str:
    if not isinstance(knobs, Knobs):
        return "exact (Flat: below `index.exact_below`)"
    return (
        f"IVF-PQ built at {knobs.built:,}: nlist {knobs.nlist}, nprobe {knobs.nprobe}, "
        f"k_factor {knobs.k_factor:g} (calibrated recall@10 {knobs.recall:.3f})"
    )


def latency_table(runs: list[Run]) -> list[str]:
    """Rows per setting: the round trip, the part outside the app, then each stage."""
    lines = [
        "| setting | where | p50 ms | p95 ms | p99 ms | mean ms | calls per query |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        rows = [(HTTP, run.http, 1.0), (OUTSIDE, run.outside(APP), 1.0)]
        rows += [(s, run.stage(s), run.calls_per_query(s)) for s in STAGES]
        for where, seconds, calls in rows:
            p50, p95, p99, mean = quantiles_ms(seconds)
            strong = "**" if where == HTTP else ""
            cells = [f"{strong}{v:.2f}{strong}" for v in (p50, p95, p99)] + [f"{mean:.2f}"]
            lines.append(f"| {run.name} | {where} | " + " | ".join(cells) + f" | {calls:g} |")
    return lines


def render(
    runs: list[Run],
    steps: list[tuple[str, float, float]],
    facts: dict[str, object],
    args: argparse.Namespace,
    machine_line: str,
    command: str,
    end_load: float,
) -> str:
    fusion = facts["fusion"]
    assert isinstance(fusion, FusionSettings)
    matches = np.asarray(facts["fulltext matches"], dtype=np.float64)
    setup_s = sum(s for _, s, _ in steps)
    lines = [
        machine_line,
        f"Command: `{command}`. Load average at the end: {end_load:.1f}.",
        "",
        f"`GET /api/search/text?q=…&limit={args.limit}` of the query app over loopback HTTP, "
        f"{args.objects:,} objects ({args.objects // 2:,} images), {args.queries} distinct "
        f'"colour material garment" queries one at a time after {args.warmup} warm-up ones. '
        f"Text search runs with the {describe_fusion(fusion)}; the second setting adds "
        "`fusion=false` (image vectors only).",
        "",
        *latency_table(runs),
        "",
        f"Setup, {setup_s:.0f} s in all (peak RSS of the bench process "
        f"{facts['peak RSS GiB']:.1f} GiB; Postgres runs in its own processes: database "
        f"{facts['database']}, shared_buffers {facts['shared_buffers']}):",
        "",
        "| step | s | RSS after, GiB |",
        "|---|---:|---:|",
        *[f"| {name} | {s:.1f} | {rss:.2f} |" for name, s, rss in steps],
        "",
        "- **What is measured.** The whole round trip from an httpx client (same process, one "
        "keep-alive connection) through uvicorn, Litestar, `SearchCatalog.search_text` (query "
        "text → shipped aligned text tower → FAISS kNN on the image and caption indexes → "
        "Postgres full-text search when fusion is on → RRF on ids → Postgres hydration of the "
        "page) and JSON "
        "back. Stage rows are wall time inside the wrapped function per query; the fused "
        "sources run concurrently (`asyncio.gather`, FAISS in threads), so stages overlap and "
        "need not add up. FAISS is the sum of its calls (image + caption with fusion on).",
        "- FAISS calls per query above the vector sources searched (2 with fusion, 1 without) "
        "are the over-fetch loop: an IVF index returned fewer hits than asked (its nprobe is "
        "calibrated for the top 10), so it searched again with 4× the lists probed (fusion on, "
        "unfiltered: `SearchCatalog._nearest`, ids only; fusion off: `_search`, also 4× the k, "
        "hydrated). Queries that did: "
        + "; ".join(f"{r.name} {r.repeated(FAISS)} of {len(r.http)}" for r in runs)
        + ".",
        f"- FAISS indexes: image {describe_knobs(facts['image index'])}; caption "
        f"{describe_knobs(facts['caption index'])}. One partition, as the embedded view.",
        f"- Full-text: the app's OR-of-words query matched {matches.mean():,.0f} captions per "
        f"query on average ({matches.mean() / max(args.objects, 1):.0%} of the catalog; "
        f"EXPLAIN ANALYZE of the first {len(matches)} timed queries), each ranked by `ts_rank` "
        "before the LIMIT.",
        f"- Data: image vectors: {facts['data']}. Captions: offline-captioner style "
        f"(`compose_caption`: colours, pattern, category), {args.products:,} distinct ones "
        "shared by all objects; caption vectors are the shipped text tower's vectors of those "
        "captions plus noise of norm 0.2. Image vectors and captions are drawn independently, "
        "so rankings are not meaningful; the work per query is.",
        "- **Not measured.** Concurrent clients; filters (their over-fetch loop and pgvector "
        "fallback); image search. The pgvector table holds every vector but has no HNSW index "
        "(COPY is much faster without it): unfiltered text search never reads it. Postgres "
        "is the embedded one (fsync off, default settings), in a temporary folder, warm.",
    ]
    return "\n".join(lines)
