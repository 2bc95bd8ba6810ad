"""Recall/latency plots of the side-by-side query bench (docs/plots/query-peers-*.png)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.query_peers import PeerResult, Point
from core.paths import REPO_ROOT

PLOTS = REPO_ROOT / "docs" / "plots"


def plot(results: Sequence[PeerResult], data: str, folder: Path = PLOTS) -> list[Path]:
    """One PNG per size: mean single-query ms against recall@10, each system's sweep points
    (faint) and its Pareto front (line)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for n in sorted({r.n for r in results}):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for result in (r for r in results if r.n == n and r.curve):
            front = pareto(result.curve)
            width = 2.5 if result.system == "catalens" else 1.2
            line = ax.plot([p.recall for p in front], [p.mean_ms for p in front], marker="o",
                           markersize=3, label=_label(result), linewidth=width)  # fmt: skip
            ax.scatter([p.recall for p in result.curve], [p.mean_ms for p in result.curve],
                       s=6, alpha=0.3, color=line[0].get_color())  # fmt: skip
        ax.set(
            xlabel="recall@10",
            ylabel="mean single-query ms (log)",
            yscale="log",
            title=f"{n:,} vectors, {data} data: recall vs latency (2-core CPU)",
        )
        ax.axvline(0.95, color="grey", linestyle=":", linewidth=1)
        ax.set_xlim(left=max(0.5, min((p.recall for r in results for p in r.curve), default=0.5)))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"query-peers-{data}-{n}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def _label(result: PeerResult) -> str:
    """The system, and for catalens its shard count ("catalens, 4 shards")."""
    index = result.rows[0].index if result.rows else ""
    if result.system == "catalens" and "(" in index:
        return f"catalens, {index.split('(')[1].split(')')[0]}"
    return result.system


def pareto(points: Sequence[Point]) -> list[Point]:
    """The sweep points no other point beats on both recall and latency, by rising recall."""
    front: list[Point] = []
    for p in sorted(points, key=lambda p: (-p.recall, p.mean_ms)):
        if not front or p.mean_ms < front[-1].mean_ms:
            front.append(p)
    return front[::-1]
