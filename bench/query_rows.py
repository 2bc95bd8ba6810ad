"""One result row of the query bench and the Markdown table of all rows."""

from __future__ import annotations

from dataclasses import dataclass

from core.index.faiss_params import Knobs


@dataclass
class Row:
    backend: str  # "FAISS" or "pgvector"
    index: str  # Flat / HNSW / IVF-SQ8
    shards: int
    n: int
    build_s: float | None = None
    memory_mb: float | None = None  # RSS growth of this process (FAISS) or relation size (pg)
    p50_ms: float | None = None
    p99_ms: float | None = None
    recall: float | None = None
    note: str = ""
    knobs: Knobs | None = None  # "Auto": the calibrated settings it searched with

    def cells(self, baseline_p50: float | None) -> list[str]:
        speedup = (
            f"**{baseline_p50 / self.p50_ms:.2f}×**"
            if baseline_p50 is not None and self.p50_ms
            else "–"
        )
        rate = f"{self.n / self.build_s:,.0f}" if self.build_s else "–"
        return [
            f"{self.n:,}",
            self.backend,
            self.index,
            str(self.shards) if self.backend == "FAISS" else "–",
            _num(self.build_s, "{:.1f}"),
            rate,
            _num(self.memory_mb, "{:,.0f}"),
            _num(self.p50_ms, "{:.2f}"),
            _num(self.p99_ms, "{:.2f}"),
            speedup,
            _num(self.recall, "{:.3f}"),
            self.note,
        ]


HEADER = [
    "vectors",
    "backend",
    "index",
    "shards",
    "build s",
    "build vec/s",
    "memory MB",
    "p50 ms",
    "p99 ms",
    "p50 speed-up vs FAISS Flat ×1",
    "recall@10",
    "note",
]


def table(rows: list[Row]) -> str:
    """Markdown table; the speed-up column divides by FAISS Flat 1-shard p50 at the same size."""
    baselines: dict[int, float] = {}
    for r in rows:  # the first plain Flat ×1 row of each size
        if r.backend == "FAISS" and r.index == "Flat" and r.shards == 1 and r.p50_ms:
            baselines.setdefault(r.n, r.p50_ms)
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in rows:
        lines.append("| " + " | ".join(row.cells(baselines.get(row.n))) + " |")
    return "\n".join(lines)


def _num(value: float | None, fmt: str) -> str:
    return "–" if value is None else fmt.format(value)
