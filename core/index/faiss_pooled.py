"""One search over all built "Auto" shards: the coarse quantizer once, the candidates pooled.

The built shards of an "Auto" index are copies of one trained template (one k-means over all
shards' vectors, `faiss_auto.build_shards`), so a query's `nprobe` nearest inverted lists are
the same lists in every shard. Searching each shard's IndexRefine on its own (on the shard
thread pool) repeats the coarse search once per shard, re-ranks `k_factor × k` candidates per
shard and pays a thread hop per shard: a single query over 4 shards took 0.36-0.43 ms where one
shard took 0.06-0.10 ms (1M real-like vectors, docs/benchmarks.md). Here instead

1. the first shard's coarse quantizer ranks the lists once;
2. each shard scans those lists for its `k_factor × k` best PQ scores
   (`IndexIVF.search_preassigned`; its dead entries excluded by its selector);
3. the `k_factor × k` best PQ scores of all shards are re-ranked on their float16 copies
   (reconstructed, inner product with the query) and the k best kept:

the candidates and the re-rank of one index holding all the vectors, in the calling thread.
Shards whose coarse quantizers differ (shards restored from snapshots of different builds)
are not pooled: `same_template` checks the centroids' fingerprints first.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, cast

import faiss
import numpy as np

from core.index.faiss_params import Knobs

if TYPE_CHECKING:
    from core.index.faiss_shard import Hits, Shard

Pooled = tuple[np.ndarray, np.ndarray, np.ndarray]  # (scores, shard numbers, positions), (n, k)


def coarse_fingerprint(index: faiss.Index) -> bytes:
    """A digest of the coarse centroids of an IndexRefine over an IVF index (flat quantizer)."""
    quantizer = cast(
        faiss.IndexFlat, faiss.downcast_index(faiss.extract_index_ivf(index).quantizer)
    )
    centroids = faiss.rev_swig_ptr(quantizer.get_xb(), quantizer.ntotal * quantizer.d)
    return hashlib.blake2b(np.ascontiguousarray(centroids).data, digest_size=16).digest()


def pooled_top_k(
    indexes: Sequence[faiss.Index],
    excluded: Sequence[faiss.IDSelector | None],
    queries: np.ndarray,
    k: int,
    knobs: Knobs,
) -> Pooled:
    """The k best (inner product, shard number, position) per row of `queries` (float32 (n,
    dim), C-contiguous) over IndexRefine shards that share one coarse quantizer, best first;
    missing hits have score -inf and position -1. `excluded[s]` (or None) hides positions of
    shard s. Caller holds every shard's read lock."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    n, k_base = len(queries), max(k, int(knobs.k_factor * k))
    ivfs = [faiss.extract_index_ivf(index) for index in indexes]
    coarse_d, coarse_i = ivfs[0].quantizer.search(queries, knobs.nprobe)
    approx = np.full((n, len(ivfs) * k_base), -np.inf, dtype=np.float32)
    where = np.full((n, len(ivfs) * k_base), -1, dtype=np.int64)
    for s, ivf in enumerate(ivfs):
        if ivf.ntotal:
            cols = slice(s * k_base, (s + 1) * k_base)
            approx[:, cols], where[:, cols] = _scan(ivf, excluded[s], queries, k_base, coarse_i,
                                                    coarse_d, knobs.nprobe)  # fmt: skip
    keep = np.argsort(-approx, axis=1, kind="stable")[:, :k_base]  # the pooled candidates
    where = np.take_along_axis(where, keep, axis=1)
    owner = keep // k_base
    exact = np.full(where.shape, -np.inf, dtype=np.float32)
    for s, index in enumerate(indexes):
        at_row, at_col = np.nonzero((owner == s) & (where >= 0))
        if len(at_row):
            refine = faiss.downcast_index(cast(faiss.IndexRefine, index).refine_index)
            vectors = refine.reconstruct_batch(where[at_row, at_col])
            exact[at_row, at_col] = np.einsum("ij,ij->i", vectors, queries[at_row])
    best = np.argsort(-exact, axis=1, kind="stable")[:, :k]
    scores = np.take_along_axis(exact, best, axis=1)
    positions = np.where(scores > -np.inf, np.take_along_axis(where, best, axis=1), -1)
    return scores, np.take_along_axis(owner, best, axis=1), positions


def _scan(
    ivf: faiss.IndexIVF,
    excluded: faiss.IDSelector | None,
    queries: np.ndarray,
    k: int,
    coarse_i: np.ndarray,
    coarse_d: np.ndarray,
    nprobe: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The k best PQ scores and positions of one shard in the preassigned lists."""
    params = faiss.SearchParametersIVF()
    params.nprobe = nprobe
    if excluded is not None:
        params.sel = excluded
    d = np.empty((len(queries), k), dtype=np.float32)
    i = np.empty((len(queries), k), dtype=np.int64)
    ivf.search_preassigned_c(  # type: ignore[attr-defined]  # the raw SWIG call takes params
        len(queries),
        faiss.swig_ptr(queries),
        k,
        faiss.swig_ptr(coarse_i),
        faiss.swig_ptr(coarse_d),
        faiss.swig_ptr(d),
        faiss.swig_ptr(i),
        False,
        params,
    )
    return d, i


def pooled_search(
    shards: Sequence[Shard], queries: np.ndarray, k: int, knobs: Knobs | None
) -> Hits | None:
    """`pooled_top_k` over built shards as (object id, score) rows, under every shard's read
    lock (taken in order; writers hold one shard lock at a time, so no deadlock); None when
    the shards cannot be pooled (one is not built, or their coarse quantizers differ)."""
    with ExitStack() as locks:
        for shard in shards:
            locks.enter_context(shard.lock.read())
        keys = {shard.coarse_key() for shard in shards}
        knobs = knobs or shards[0].knobs
        if None in keys or len(keys) != 1 or knobs is None:
            return None
        indexes, excluded = [s.index for s in shards], [s._excluded for s in shards]
        scores, owners, positions = pooled_top_k(indexes, excluded, queries, k, knobs)
        names = [shard.object_of.get for shard in shards]
        return [
            [
                (oid, score)
                for score, s, p in zip(row_d, row_s, row_p, strict=True)
                if p >= 0 and (oid := names[s](p)) is not None
            ]
            for row_d, row_s, row_p in zip(
                scores.tolist(), owners.tolist(), positions.tolist(), strict=True
            )
        ]
