"""Synthetic embeddings for the query bench, exact ground truth, recall, percentiles, RSS.

Uniform random unit vectors are unrealistically hard for approximate indexes (every point is
about equally far from every other), so the vectors here are clustered like real embeddings:
`centres` cluster centres (random unit vectors, uneven cluster sizes), each point its centre plus
noise in a shared low-rank subspace (`rank` dims, so the data has a low intrinsic dimension, as
CLIP-like embeddings do) plus a little isotropic noise; all L2-normalised. Queries come from the
same generator but are not in the data (a new photo of a known kind of product).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

CHUNK = 100_000


@dataclass(frozen=True)
class Synthetic:
    dim: int = 512
    centres: int = 4096
    rank: int = 64
    low_rank_noise: float = 0.7  # norm of the subspace noise, relative to the unit centre
    isotropic_noise: float = 0.25  # norm of the full-dimension noise
    seed: int = 0

    def describe(self) -> str:
        return (
            f"{self.dim}-d L2-normalised; {self.centres} Gaussian centres with uneven sizes; "
            f"noise: norm {self.low_rank_noise} in a shared {self.rank}-d subspace + norm "
            f"{self.isotropic_noise} isotropic; seed {self.seed}"
        )


class Generator:
    def __init__(self, spec: Synthetic) -> None:
        self.spec = spec
        rng = np.random.default_rng(spec.seed)
        self.centres = normalise(rng.standard_normal((spec.centres, spec.dim), dtype=np.float32))
        weights = rng.gamma(0.7, size=spec.centres)  # uneven cluster sizes
        self.weights = weights / weights.sum()
        basis, _ = np.linalg.qr(rng.standard_normal((spec.dim, spec.rank)))
        self.basis = basis.T.astype(np.float32)  # (rank, dim), orthonormal rows

    def sample(self, n: int, seed: int) -> np.ndarray:
        """(n, dim) float32, filled chunk by chunk so no float64 copy of the whole set exists."""
        spec, rng = self.spec, np.random.default_rng(seed)
        out = np.empty((n, spec.dim), dtype=np.float32)
        for start in range(0, n, CHUNK):
            m = min(CHUNK, n - start)
            which = rng.choice(spec.centres, size=m, p=self.weights)
            low = rng.standard_normal((m, spec.rank), dtype=np.float32) @ self.basis
            low *= spec.low_rank_noise / np.sqrt(spec.rank)
            iso = rng.standard_normal((m, spec.dim), dtype=np.float32)
            iso *= spec.isotropic_noise / np.sqrt(spec.dim)
            out[start : start + m] = normalise(self.centres[which] + low + iso)
        return out


def normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32, copy=False)


def exact_top_k(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row numbers of the k largest inner products per query (brute force, chunked)."""
    best_i = np.empty((len(queries), 0), dtype=np.int64)
    best_s = np.empty((len(queries), 0), dtype=np.float32)
    for start in range(0, len(data), CHUNK):
        scores = queries @ data[start : start + CHUNK].T
        top = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
        best_s = np.hstack([best_s, np.take_along_axis(scores, top, axis=1)])
        best_i = np.hstack([best_i, top + start])
        keep = np.argsort(-best_s, axis=1)[:, :k]
        best_s = np.take_along_axis(best_s, keep, axis=1)
        best_i = np.take_along_axis(best_i, keep, axis=1)
    return best_i


def recall_at_k(found: list[list[int]], truth: np.ndarray) -> float:
    """Mean share of the true top-k that each result list contains."""
    k = truth.shape[1]
    hits = [len(set(row[:k]) & set(t.tolist())) for row, t in zip(found, truth, strict=True)]
    return float(np.mean(hits) / k)


def percentiles_ms(seconds: list[float]) -> tuple[float, float]:
    """(p50, p99) in milliseconds."""
    p50, p99 = np.percentile(np.asarray(seconds) * 1000, [50, 99])
    return float(p50), float(p99)


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0
