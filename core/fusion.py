"""Reciprocal-rank fusion (RRF, Cormack et al. 2009) of several ranked lists of ids.

Each source contributes `weight / (k + rank)` for every id it ranks (rank 1 = its best); an id's
fused score is the sum over the sources that ranked it. Only ranks matter, so sources whose
scores live on different scales (cosine similarity, full-text rank) fuse without calibration.

Ties inside a source share a rank (competition ranking: scores 0.9, 0.7, 0.7, 0.5 rank 1, 2, 2,
4), so a source that cannot tell items apart (two captions with the same words) favours neither.
Fused ties are broken by the best rank in any source, then by id: the same inputs always give
the same order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

RRF_K = 60

Ranked = Sequence[tuple[str, float]]  # (id, the source's own score), best first


@dataclass(frozen=True)
class Fused:
    id: str
    score: float
    sources: tuple[str, ...]  # the sources that ranked it, in the order they were given


def competition_ranks(ranked: Ranked) -> list[tuple[str, int]]:
    """(id, rank) with rank 1 for the best; equal scores share the first of their ranks. An id
    listed twice keeps its first (best) place."""
    out: list[tuple[str, int]] = []
    seen: set[str] = set()
    previous: float | None = None
    rank = 0
    for position, (item, score) in enumerate(ranked, start=1):
        if previous is None or score != previous:
            rank, previous = position, score
        if item not in seen:
            seen.add(item)
            out.append((item, rank))
    return out


def rrf(
    sources: Mapping[str, Ranked], weights: Mapping[str, float] | None = None, k: int = RRF_K
) -> list[Fused]:
    """Fuse `sources` (name → ranked list), best first. A source missing from `weights` weighs 1;
    one weighing 0 (or less) is left out, as if it had ranked nothing."""
    if k < 1:
        raise ValueError(f"RRF k must be at least 1, got {k}")
    scores: dict[str, float] = {}
    best: dict[str, int] = {}
    names: dict[str, list[str]] = {}
    for name, ranked in sources.items():
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        if weight <= 0:
            continue
        for item, rank in competition_ranks(ranked):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
            best[item] = min(best.get(item, rank), rank)
            names.setdefault(item, []).append(name)
    order = sorted(scores, key=lambda item: (-scores[item], best[item], item))
    return [Fused(item, scores[item], tuple(names[item])) for item in order]
